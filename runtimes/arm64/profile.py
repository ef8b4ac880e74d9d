"""`edge profile ARTIFACT --device arm64[:CPU]`: a profile record from the emulated ARM64 device.

The record has the one schema, with `emulated: true` and device kind `emulator`: its times are
qemu's (tens to hundreds of times a phone's, and not in proportion across ops), so they say which
kernels ran and that they ran, never how fast a phone is. The report marks such rows.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from runtimes.arm64 import toolchain
from runtimes.arm64.cpus import CPU_MODELS
from runtimes.arm64.session import run_on_arm64
from runtimes.base import ProfileError
from runtimes.formats import check_complete, detect_format
from runtimes.record import RUNTIME_OF_FORMAT, SCHEMA_ID, artifact_facts, now_iso, summarize, validate_record

EMULATED_NOTE = (
    "emulated: qemu-user on an x86 host runs every ARM64 instruction in software; these times are not "
    "a phone's and not in proportion to one's (use the numerics, not the latency)"
)


def emulator_device(cpu: str, features: list[str] | None) -> dict:
    model = CPU_MODELS[cpu]
    return {
        "kind": "emulator",
        "name": f"arm64:{cpu}",
        "model": None,
        "soc": None,
        "cpu": f"{cpu} emulated by qemu-aarch64 {toolchain.qemu_version()} ({model.isa}; features: "
        f"{' '.join(features) if features else 'not probed'})",
        "cores": os.cpu_count(),
        "os": f"Linux (qemu-user on {platform.machine()})",
    }


def _inputs(manifest: dict | None, path: Path, seed: int) -> tuple[list[np.ndarray], list[dict]]:
    """Seeded inputs in the manifest's shapes and value range (a manifest is needed: no session runs here)."""
    if manifest is None:
        raise ProfileError(
            f"--device arm64 needs the manifest beside {path.name} for the input shapes; export with edge to get one."
        )
    rng = np.random.default_rng(seed)
    arrays, described = [], []
    for spec in manifest["inputs"]:
        low, high = spec.get("value_range", [0.0, 1.0])
        arrays.append(rng.uniform(low, high, spec["shape"]).astype(spec["dtype"]))
        described.append(
            {"name": spec["name"], "shape": list(spec["shape"]), "dtype": spec["dtype"], "source": "manifest"}
        )
    return arrays, described


def profile_arm64(
    path: str | Path,
    cpu: str,
    runs: int = 5,
    warmup: int = 1,
    threads: int | None = None,
    seed: int = 0,
    timeout: float = 1800,
) -> dict:
    """Run and time one artifact on the emulated `cpu`; a validated record with emulated: true."""
    path = Path(path)
    toolchain.check_ready("pte" if path.suffix == ".pte" else "python")
    fmt = detect_format(path)
    check_complete(path, fmt)
    notes = [EMULATED_NOTE]
    artifact, manifest = artifact_facts(path, fmt, notes)
    inputs, described = _inputs(manifest, path, seed)
    threads = threads or 1
    run = run_on_arm64(
        [{"path": path, "samples": [inputs], "runs": runs, "warmup": warmup}], cpu, threads=threads, timeout=timeout
    )[0]
    samples = run.samples_ms
    if len(samples) != runs:
        raise ProfileError(f"the emulated run returned {len(samples)} timed runs, not {runs}.")
    memory = {"peak_rss_bytes": None, "baseline_rss_bytes": None, "peak_delta_bytes": None, "method": "ru_maxrss"}
    if run.record:  # edge_bench measured the guest's memory itself
        memory = run.record["memory"]
    record = {
        "schema": SCHEMA_ID,
        "created": now_iso(),
        "artifact": artifact,
        "device": emulator_device(cpu, run.features),
        "runtime": {
            "name": RUNTIME_OF_FORMAT[fmt],
            "versions": {k: str(v) for k, v in run.versions.items()},
            "threads": threads,
            "delegates": {"partitions": None},
        },
        "runner": {
            "kind": "native" if fmt == "pte" else "python",
            "name": run.runner,
            "command": None,
            "taskset": None,
            "cooldown_s": None,
        },
        "load_ms": round(run.load_ms or 0.0, 3),
        "first_run_ms": run.first_run_ms,
        "warmup": warmup,
        "runs": runs,
        "latency_ms": summarize(samples),
        "samples_ms": samples,
        "memory": memory,
        "ops": {
            "available": False,
            "source": None,
            "reason": "no per-op profile on the emulator (times are qemu's)",
            "top": [],
        },
        "inputs": described,
        "notes": notes,
        "emulated": True,
    }
    return validate_record(record, "the emulated ARM64 record")
