"""The profile record: one JSON shape for host, Android and iOS (schemas/profile_record.schema.json).

Statistics are defined here once; the native runner (runtimes/native/edge_bench.cpp) computes the
same ones the same way, and `check_stats` holds any producer to them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import socket
from datetime import UTC, datetime
from pathlib import Path

from runtimes.base import ProfileError

SCHEMA_ID = "edge.profile_record/1"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "profile_record.schema.json"
RUNTIME_OF_FORMAT = {
    "pte": "executorch",
    "tflite": "litert",
    "onnx": "onnxruntime",
    "ort": "onnxruntime",
    "mlpackage": "coreml",
}


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def percentile(sorted_ms: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on an already sorted list."""
    pos = q / 100 * (len(sorted_ms) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def summarize(samples_ms: list[float]) -> dict:
    """min/max/p10/p50/p90/mean, mean of the middle 80%, sample stdev."""
    if not samples_ms:
        raise ValueError("no samples to summarize")
    s = sorted(samples_ms)
    n = len(s)
    cut = int(n * 0.1)  # 10% off each end; nothing cut below 10 samples
    middle = s[cut : n - cut]
    mean = sum(s) / n
    stdev = math.sqrt(sum((x - mean) ** 2 for x in s) / (n - 1)) if n > 1 else 0.0
    stats = {
        "min": s[0],
        "max": s[-1],
        "p10": percentile(s, 10),
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "mean": mean,
        "trimmed_mean": sum(middle) / len(middle),
        "stdev": stdev,
    }
    return {k: round(v, 4) for k, v in stats.items()}


def check_stats(record: dict, source: str = "record", rel: float = 1e-3) -> None:
    """The record's statistics must be those of its own samples (catches a producer computing them differently)."""
    expected = summarize(record["samples_ms"])
    for key, want in expected.items():
        got = record["latency_ms"][key]
        if abs(got - want) > max(rel * abs(want), 2e-3):
            raise ProfileError(f"{source}'s latency_ms.{key} is {got} but its samples give {want}.")


def validate_record(record: dict, source: str = "record") -> dict:
    """Schema plus the checks a schema cannot express; ProfileError with one line naming the problem."""
    import jsonschema

    try:
        jsonschema.validate(record, load_schema())
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ProfileError(f"{source} is not a valid profile record: at {where}: {e.message[:200]}.") from None
    if len(record["samples_ms"]) != record["runs"]:
        raise ProfileError(f"{source} says runs={record['runs']} but holds {len(record['samples_ms'])} samples.")
    check_stats(record, source)
    return record


def parse_record(text: str, source: str) -> dict:
    """A record from a producer's output (native runner, iOS app): garbled output is a clear error."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        snippet = text.strip().replace("\n", " ")[:80]
        raise ProfileError(f"{source} is not JSON ({e.msg} at character {e.pos}); it starts {snippet!r}.") from None
    if not isinstance(record, dict):
        raise ProfileError(f"{source} holds JSON {type(record).__name__}, not a profile record object.")
    return validate_record(record, source)


def load_record(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ProfileError(f"cannot read record {str(path)!r} ({e.strerror}).") from None
    except UnicodeDecodeError:
        raise ProfileError(
            f"record {str(path)!r} is not UTF-8 JSON; give a record written by `edge profile -o`."
        ) from None
    return parse_record(text, f"record {str(path)!r}")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(artifact: Path) -> dict | None:
    """The `<stem>.json` manifest beside an artifact, or None when there is none."""
    path = artifact.with_suffix(".json")
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProfileError(
            f"manifest {str(path)!r} beside the artifact cannot be read ({e}); fix or remove it."
        ) from None
    if not isinstance(manifest, dict) or "inputs" not in manifest:
        raise ProfileError(f"{str(path)!r} beside the artifact is not an edge manifest (no 'inputs').")
    return manifest


def manifest_entry(manifest: dict, fmt: str) -> tuple[dict | None, dict | None]:
    """(file entry, parity) describing this format in the manifest: the main artifact or a companion (.ort)."""
    art = manifest.get("artifact", {})
    if art.get("format") == fmt:
        return art, manifest.get("parity")
    extra = art.get("extra_files", {}).get(fmt)
    parity = manifest.get("parity", {}).get("extra_files", {}).get(fmt)
    return extra, parity


def artifact_facts(path: Path, fmt: str, notes: list[str]) -> tuple[dict, dict | None]:
    """The record's artifact block, and the manifest when it describes this very file."""
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    digest = None if path.is_dir() else sha256_file(path)
    facts = {
        "file": path.name,
        "path": str(path.resolve()),
        "format": fmt,
        "size_bytes": size,
        "sha256": digest,
        "manifest": None,
    }
    manifest = read_manifest(path)
    if manifest is None:
        notes.append("no manifest beside the artifact: inputs come from the runtime's signature, parity unknown")
        return facts, None
    entry, parity = manifest_entry(manifest, fmt)
    if entry and digest and entry.get("sha256") != digest and entry.get("size_bytes", 0) > size:
        from runtimes.formats import ArtifactError  # some cuts still load (a flatbuffer's trailing padding)

        raise ArtifactError(f"{str(path)!r} is truncated: {size} bytes, its manifest says {entry['size_bytes']}.")
    if entry is None or (digest and entry.get("sha256") not in (None, digest)):
        notes.append(
            "the manifest beside the artifact describes another file (sha256 differs); its parity is not reported"
        )
        parity = None
    facts["manifest"] = {
        "model": manifest.get("model", {}).get("name", "?"),
        "target": manifest.get("target", {}).get("name", "?"),
        "quant": manifest.get("quant", {}).get("scheme", "?"),
        "gmacs": manifest.get("model", {}).get("gmacs"),
        "parity": {"status": (parity or {}).get("status", "not_run"), "cosine": (parity or {}).get("cosine")},
    }
    return facts, manifest


def host_device() -> dict:
    """Facts about this machine: CPU model, logical cores, OS."""
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
        cpu = out.stdout.strip() or cpu
    return {
        "kind": "host",
        "name": socket.gethostname(),
        "model": None,
        "soc": None,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def write_record(record: dict, path: str | Path) -> Path:
    """Atomically: a temporary name in the same folder, then rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        raise ProfileError(f"cannot write record to {str(path)!r} ({e.strerror or e}); choose another -o.") from None
    return path
