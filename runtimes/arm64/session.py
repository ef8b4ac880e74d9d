"""Run artifacts on an emulated ARM64 CPU: .pte through the aarch64 edge_bench, .tflite/.onnx/.ort through
the aarch64 CPython with the aarch64 wheels of their runtimes, all under qemu-aarch64-static -cpu CPU.

One emulator process per (CPU, batch of artifacts): starting the emulated interpreter and importing
numpy and a runtime costs seconds of emulated time, so several artifacts share one start.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runtimes.arm64 import toolchain
from runtimes.arm64.cpus import decode_hwcaps
from runtimes.base import ProfileError, RuntimeUnavailable
from runtimes.formats import check_complete, detect_format

GUEST_RUNNER = Path(__file__).resolve().parent / "guest_runner.py"
_DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "uint8": np.uint8,
    "int8": np.int8,
    "int32": np.int32,
    "int64": np.int64,
}


@dataclass
class ArmRun:
    """What one artifact did on one emulated CPU."""

    path: Path
    cpu: str
    outputs: list[list[np.ndarray]]  # per sample, per output
    features: list[str] | None  # ISA features the emulated CPU had on (None: not probed)
    versions: dict
    load_ms: float | None
    samples_ms: list[float] = field(default_factory=list)
    first_run_ms: float | None = None
    runner: str = ""
    emulator: str = ""
    record: dict | None = None  # edge_bench's own record when it was timed


class ArmRunError(ProfileError):
    """The artifact's ARM64 runtime refused it or crashed; the message says which CPU and why."""


def run_on_arm64(jobs: list[dict], cpu: str, threads: int = 1, timeout: float = 900) -> list[ArmRun]:
    """Each job: {"path", "samples": [[array per input] per sample], optional "session_config", "warmup",
    "runs"}. Returns one ArmRun per job, in order. .pte jobs each start edge_bench; the others share one
    emulated CPython."""
    for job in jobs:
        fmt = detect_format(job["path"])
        check_complete(job["path"], fmt)
        if fmt not in ("pte", "tflite", "onnx", "ort"):
            raise RuntimeUnavailable(f"a .{fmt} cannot run on the ARM64 emulator (Core ML runs only on Apple devices).")
        job["format"] = fmt
    results: dict[int, ArmRun] = {}
    python_jobs = [(i, j) for i, j in enumerate(jobs) if j["format"] != "pte"]
    for i, job in enumerate(jobs):
        if job["format"] == "pte":
            results[i] = _run_pte(job, cpu, threads, timeout)
    if python_jobs:
        for (i, _), run in zip(python_jobs, _run_python([j for _, j in python_jobs], cpu, threads, timeout)):
            results[i] = run
    return [results[i] for i in range(len(jobs))]


def _check_samples(job: dict) -> list[list[np.ndarray]]:
    samples = job["samples"]
    if not samples or not all(samples):
        raise ValueError("run_on_arm64 needs at least one sample with at least one input array.")
    return [[np.ascontiguousarray(a) for a in sample] for sample in samples]


def _execute(command: list[str], timeout: float, what: str, cpu: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=toolchain.host_env(), check=False
        )
    except subprocess.TimeoutExpired:
        raise ArmRunError(f"{what} on the emulated {cpu} did not finish in {timeout:.0f} s.") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or "").strip().splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        if done.returncode < 0 or "uncaught target signal" in reason:
            reason = f"it crashed ({reason})"
        raise ArmRunError(f"{what} failed on the emulated {cpu}: {reason[:300]}")
    return done


def _run_pte(job: dict, cpu: str, threads: int, timeout: float) -> ArmRun:
    toolchain.check_ready("pte")
    runner = toolchain.build_runner()
    samples = _check_samples(job)
    path = Path(job["path"]).resolve()
    with tempfile.TemporaryDirectory(prefix="edge-arm64-") as tmp:
        given, saved = Path(tmp) / "inputs.bin", Path(tmp) / "outputs.bin"
        given.write_bytes(b"".join(a.tobytes() for sample in samples for a in sample))
        args = ["--model", str(path), "--input", str(given), "--save-outputs", str(saved), "--threads", str(threads)]
        done = _execute(
            toolchain.qemu_command(cpu, runner, args, toolchain.runner_env()),
            timeout,
            f"edge_bench (aarch64) running {path.name}",
            cpu,
        )
        layout = json.loads(done.stdout.strip().splitlines()[-1])
        raw = saved.read_bytes()
        outputs, offset = [], 0
        for _ in range(layout["samples"]):
            sample = []
            for spec in layout["outputs"]:
                dtype = np.dtype(_DTYPES[spec["dtype"]])
                count = int(np.prod(spec["shape"]))
                sample.append(np.frombuffer(raw, dtype, count, offset).reshape(spec["shape"]).copy())
                offset += count * dtype.itemsize
            outputs.append(sample)
        record = None
        if job.get("runs"):
            args = [
                "--model",
                str(path),
                "--input",
                str(given),
                "--runs",
                str(job["runs"]),
                "--warmup",
                str(job.get("warmup", 0)),
                "--threads",
                str(threads),
            ]
            timed = _execute(
                toolchain.qemu_command(cpu, runner, args, toolchain.runner_env()),
                timeout,
                f"edge_bench (aarch64) timing {path.name}",
                cpu,
            )
            record = json.loads(timed.stdout)
    return ArmRun(
        path,
        cpu,
        outputs,
        probe_features(cpu),
        {"executorch": _executorch_version()},
        layout.get("load_ms"),
        samples_ms=list(record["samples_ms"]) if record else [],
        first_run_ms=record["first_run_ms"] if record else None,
        runner="edge_bench (aarch64, runtimes/native)",
        emulator=f"qemu-aarch64 {toolchain.qemu_version()}",
        record=record,
    )


def _executorch_version() -> str:
    """The version of the aarch64 wheel the runner links (its dist-info was kept beside it)."""
    for info in toolchain.layout().executorch.parent.glob("executorch-*.dist-info"):
        return info.name[len("executorch-") : -len(".dist-info")]
    return "unknown"


def _run_python(jobs: list[dict], cpu: str, threads: int, timeout: float) -> list[ArmRun]:
    toolchain.check_ready("python")
    with tempfile.TemporaryDirectory(prefix="edge-arm64-") as tmp:
        artifacts: list[dict] = []
        spec = {"threads": threads, "artifacts": artifacts}
        for k, job in enumerate(jobs):
            samples = _check_samples(job)
            inputs, outputs = Path(tmp) / f"in{k}.npz", Path(tmp) / f"out{k}.npz"
            arrays = {f"s{s}_i{i}": a for s, sample in enumerate(samples) for i, a in enumerate(sample)}
            np.savez(inputs, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
            artifacts.append(
                {
                    "path": str(Path(job["path"]).resolve()),
                    "format": job["format"],
                    "inputs": str(inputs),
                    "outputs": str(outputs),
                    "session_config": job.get("session_config") or {},
                    "warmup": job.get("warmup", 0),
                    "runs": job.get("runs", 0),
                }
            )
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(spec))
        names = ", ".join(Path(j["path"]).name for j in jobs)
        done = _execute(
            toolchain.qemu_command(
                cpu, toolchain.layout().python, [str(GUEST_RUNNER), str(job_file)], toolchain.guest_python_env()
            ),
            timeout,
            f"the aarch64 Python runtimes running {names}",
            cpu,
        )
        try:
            result = json.loads(done.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise ArmRunError(f"the aarch64 Python runner on {cpu} printed no result: {done.stdout[-200:]!r}") from None
        features = decode_hwcaps(result["hwcap"], result["hwcap2"])
        _remember_features(cpu, features)
        runs = []
        for job, res in zip(artifacts, result["results"]):
            if "error" in res:
                raise ArmRunError(f"{Path(job['path']).name} cannot run on the emulated {cpu}: {res['error']}")
            with np.load(job["outputs"]) as saved:
                got = [[saved[f"s{s}_o{o}"] for o in range(_arity(saved.files, s))] for s in range(res["samples"])]
            runs.append(
                ArmRun(
                    Path(job["path"]),
                    cpu,
                    got,
                    features,
                    {**res["versions"], "numpy": result["numpy"], "python": result["python"]},
                    res["load_ms"],
                    samples_ms=res["samples_ms"],
                    first_run_ms=res["first_run_ms"],
                    runner=f"runtimes/arm64/guest_runner.py (aarch64 CPython {result['python']})",
                    emulator=f"qemu-aarch64 {toolchain.qemu_version()}",
                )
            )
        return runs


def _arity(files: list[str], sample: int) -> int:
    return sum(1 for f in files if f.startswith(f"s{sample}_o"))


def _features_file(cpu: str) -> Path:
    return toolchain.layout().root / "features" / f"{cpu}.json"


def _remember_features(cpu: str, features: list[str]) -> None:
    path = _features_file(cpu)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"qemu": toolchain.qemu_version(), "features": features}))


def probe_features(cpu: str) -> list[str] | None:
    """The auxiliary vector's features on `cpu`, asked once of the emulated CPython (None without it)."""
    path = _features_file(cpu)
    try:
        known = json.loads(path.read_text())
        if known["qemu"] == toolchain.qemu_version():
            return known["features"]
    except (OSError, ValueError, KeyError):
        pass
    if toolchain.missing("python"):
        return None
    code = (
        "import ctypes; g = ctypes.CDLL(None).getauxval; g.restype = ctypes.c_ulong; "
        "g.argtypes = [ctypes.c_ulong]; print(g(16), g(26))"
    )
    done = _execute(
        toolchain.qemu_command(cpu, toolchain.layout().python, ["-S", "-c", code], toolchain.guest_python_env()),
        120,
        "the feature probe",
        cpu,
    )
    hwcap, hwcap2 = map(int, done.stdout.split())
    features = decode_hwcaps(hwcap, hwcap2)
    _remember_features(cpu, features)
    return features


__all__ = ["ArmRun", "ArmRunError", "ProfileError", "probe_features", "run_on_arm64"]
