"""Host latency profile of one artifact: load (timed apart), warm-up, timed runs, memory, per-op profile.

Inputs come from the manifest beside the artifact (shape, dtype, value range); without one, from
the runtime's own signature. The result is a record in the one schema (runtimes/record.py).
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from runtimes.base import ProfileError, Session
from runtimes.checks import check_counts, check_taskset
from runtimes.formats import check_complete, detect_format
from runtimes.record import (
    RUNTIME_OF_FORMAT,
    SCHEMA_ID,
    artifact_facts,
    host_device,
    now_iso,
    summarize,
    validate_record,
)


def _status_bytes(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _ru_maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux kB


def cpu_pressure() -> float | None:
    """Linux PSI: % of the last 10 s in which some task waited for a CPU. Our own threads keep it near 0,
    so a high value means other work competed for the cores during the measurement."""
    try:
        return float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def _release_free_heap() -> None:
    """Hand freed heap back to the OS first (glibc keeps it resident), so an earlier model's freed memory
    cannot absorb this one's allocations and hide them from the delta."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the delta may be low after earlier work in this process


class PeakMemory:
    """RSS high-water mark over a stretch of code, without the interpreter's own earlier peak.

    Linux lets a process reset its high-water mark (write 5 to /proc/self/clear_refs), so the peak is
    exactly this stretch's. Elsewhere ru_maxrss cannot be reset: its growth is only a lower bound.
    """

    def __enter__(self):
        _release_free_heap()
        self.baseline = _status_bytes("VmRSS")
        self.method = "ru_maxrss"
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.method = "vmhwm_reset"
        except OSError:
            self._ru_before = _ru_maxrss_bytes()
        return self

    def __exit__(self, *exc):
        if self.method == "vmhwm_reset":
            self.peak = _status_bytes("VmHWM")
            self.delta = self.peak - self.baseline if self.peak is not None and self.baseline is not None else None
        else:
            self.peak = _ru_maxrss_bytes()
            self.delta = self.peak - self._ru_before
        return False

    def as_dict(self) -> dict:
        return {
            "peak_rss_bytes": self.peak,
            "baseline_rss_bytes": self.baseline,
            "peak_delta_bytes": self.delta,
            "method": self.method,
        }


def make_inputs(manifest: dict | None, session: Session, seed: int = 0) -> tuple[list[np.ndarray], list[dict]]:
    """Seeded random inputs in the manifest's value range, checked against what the artifact takes."""
    rng = np.random.default_rng(seed)
    if manifest is not None:
        specs = manifest["inputs"]
        if len(specs) != len(session.inputs):
            raise ProfileError(
                f"the manifest lists {len(specs)} inputs but the artifact takes {len(session.inputs)}; "
                f"the manifest belongs to another export."
            )
        arrays, described = [], []
        for spec, actual in zip(specs, session.inputs):
            if len(actual.shape) != len(spec["shape"]) or any(
                isinstance(a, int) and a != m for a, m in zip(actual.shape, spec["shape"])
            ):
                raise ProfileError(
                    f"the manifest gives input {spec['name']!r} shape {spec['shape']} but the artifact "
                    f"takes {list(actual.shape)}; re-export or fix the manifest."
                )
            low, high = spec.get("value_range", [0.0, 1.0])
            arrays.append(rng.uniform(low, high, spec["shape"]).astype(spec["dtype"]))
            described.append(
                {"name": spec["name"], "shape": list(spec["shape"]), "dtype": spec["dtype"], "source": "manifest"}
            )
        return arrays, described
    arrays, described = [], []
    for spec in session.inputs:
        if not all(isinstance(d, int) and d > 0 for d in spec.shape):
            raise ProfileError(
                f"input {spec.name!r} has a dynamic shape {list(spec.shape)} and there is no manifest "
                f"beside the artifact to fix it; export with edge to get one."
            )
        data = rng.uniform(0, 1, spec.shape) if "float" in spec.dtype else rng.integers(0, 100, spec.shape)
        arrays.append(data.astype(spec.dtype))
        described.append({"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype, "source": "runtime"})
    return arrays, described


def time_runs(session: Session, inputs: list[np.ndarray], warmup: int, runs: int) -> tuple[list[float], float]:
    """(timed samples in ms, the first inference in ms). The collector is off so it cannot land in a sample."""
    samples = []
    first = 0.0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(warmup + runs):
            start = time.perf_counter_ns()
            session.run(inputs)
            ms = (time.perf_counter_ns() - start) / 1e6
            first = ms if i == 0 else first
            if i >= warmup:
                samples.append(round(ms, 4))
    finally:
        if was_enabled:
            gc.enable()
    return samples, round(first, 4)


_RUNTIME_MODULES = {
    "pte": ("torch", "executorch.runtime", "executorch.extension.pybindings.portable_lib"),
    "tflite": ("ai_edge_litert.interpreter",),
    "onnx": ("onnxruntime",),
    "ort": ("onnxruntime",),
    "mlpackage": ("coremltools",),
}


def import_runtime(fmt: str) -> None:
    """Import the runtime's Python modules before the memory window: an import is not the model's cost."""
    import importlib

    for name in _RUNTIME_MODULES.get(fmt, ()):
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # open_session says which package is missing


def delegation(fmt: str, detail: dict) -> dict:
    if fmt == "pte":
        return {"partitions": detail.get("delegate_calls"), "detail": detail}
    if fmt == "tflite":
        return {"partitions": detail.get("delegate_partitions"), "detail": detail}
    if fmt in ("onnx", "ort"):  # the CPU execution provider is not a delegate
        return {"partitions": 0, "detail": detail}
    return {"partitions": None, "detail": detail}


def profile_host(
    path: str | Path,
    runs: int = 50,
    warmup: int = 10,
    threads: int | None = None,
    op_profile: bool = True,
    op_runs: int = 10,
    seed: int = 0,
    taskset: str | None = None,
    cooldown: float = 0.0,
) -> dict:
    """Measure one artifact in this process and return a validated record."""
    from runtimes import open_session
    from runtimes.opprofile import profile_ops, unavailable

    check_counts(runs, warmup, threads)
    cpus = cpus_of_mask(taskset)
    path = Path(path)
    fmt = detect_format(path)
    check_complete(path, fmt)
    notes: list[str] = []
    artifact, manifest = artifact_facts(path, fmt, notes)
    import_runtime(fmt)
    if cooldown:
        time.sleep(cooldown)
    with pinned(cpus):  # runtimes start their worker threads at load: pin before it
        with PeakMemory() as memory:  # load and timed runs only; the op profile loads a second copy
            session = open_session(path, threads)
            inputs, described = make_inputs(manifest, session, seed)
            samples, first = time_runs(session, inputs, warmup, runs)
        pressure = cpu_pressure()
        info = session.info
        del session
        if op_profile:
            ops = profile_ops(fmt, path, inputs, min(op_runs, runs), info.threads)
        else:
            ops = unavailable("per-op profile not requested")
    if pressure is not None and pressure > 1.0:
        notes.append(
            f"other work competed for the CPU during the timed runs (PSI some avg10 {pressure:.1f}%); "
            f"compare with runs measured side by side"
        )
    if info.load_ms is None:
        raise ProfileError(f"the {info.runtime} adapter did not time its load.")
    record = {
        "schema": SCHEMA_ID,
        "created": now_iso(),
        "artifact": artifact,
        "device": host_device(),
        "runtime": {
            "name": RUNTIME_OF_FORMAT[fmt],
            "versions": dict(info.versions),
            "threads": info.threads,
            "delegates": delegation(fmt, info.delegates),
        },
        "runner": {
            "kind": "python",
            "name": f"runtimes.profile (Python {sys.version.split()[0]})",
            "command": None,
            "taskset": taskset or _affinity_note(),
            "cooldown_s": cooldown or None,
        },
        "load_ms": round(info.load_ms, 3),
        "first_run_ms": first,
        "warmup": warmup,
        "runs": runs,
        "latency_ms": summarize(samples),
        "samples_ms": samples,
        "memory": memory.as_dict(),
        "ops": ops,
        "inputs": described,
        "notes": notes,
    }
    return validate_record(record, "the host record")


def cpus_of_mask(mask: str | None) -> set[int] | None:
    """CPUs a hexadecimal taskset mask selects, checked against the CPUs this process may use."""
    if mask is None:
        return None
    bits = int(check_taskset(mask) or "0", 16)
    cpus = {i for i in range(bits.bit_length()) if bits >> i & 1}
    if not hasattr(os, "sched_setaffinity"):
        raise ProfileError("--taskset on the host needs Linux (sched_setaffinity).")
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        raise ProfileError(
            f"--taskset {mask} names CPUs {sorted(cpus - allowed)} that this machine does not offer "
            f"(available: {sorted(allowed)})."
        )
    return cpus


@contextlib.contextmanager
def pinned(cpus: set[int] | None):
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _affinity_note() -> str | None:
    """The CPU set this process may run on, when it is not every core (set by taskset or a container)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) == os.cpu_count():
        return None
    return hex(sum(1 << c for c in cpus))
