"""What one Ray task does: convert one cell, or time one artifact on one device.

Plain functions (the runner wraps them with ray.remote): they take plain data and {path: bytes}
payloads, work in a private scratch folder on whichever node runs them, and return plain data.
A mistake in a cell (a model that cannot export, a device that cannot run a format) comes back as
status "error" with one line; only the death of the worker process itself is left to Ray to retry.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from edge.sweep.store import pack, unpack

# what each device kind can run (the harnesses in runtimes/)
RUNS_ON = {
    "host": ("pte", "tflite", "onnx", "ort"),
    "adb": ("pte",),
    "adb-app": ("pte", "tflite", "onnx", "ort"),
    "ios": ("mlpackage", "pte"),
}


def one_line(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [""])[0].strip()
    from common.errors import EdgeError

    named = text if isinstance(e, EdgeError) and text else f"{type(e).__name__}: {text}" if text else type(e).__name__
    return named[:400]


def _where() -> dict:
    node = None
    try:
        import ray

        if ray.is_initialized():
            node = ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return {"node": node, "hostname": socket.gethostname(), "pid": os.getpid()}


def scratch(kind: str, key: str) -> Path:
    """A new empty folder for this attempt at this cell: private to it even when another sweep on the same
    node runs the same cell at once (a fixed name let one sweep delete another's files mid-conversion)."""
    root = Path(tempfile.gettempdir()) / "edge-sweep"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{key}-", dir=root))


def convert(
    job: dict,
    weights: dict | None,
    calib: dict | None,
    eval_data: dict | None,
    tracker=None,
    kill_marker: str | None = None,
) -> dict:
    """Export one cell (edge.export.export_targets) and return its files as bytes."""
    started = time.time()
    if tracker is not None:
        tracker.started.remote(job["key"])
    if job.get("cwd") and job["cwd"] not in sys.path:  # factories in the sweep's working folder import here too
        sys.path.insert(0, job["cwd"])
    work = scratch("convert", job["key"])
    try:
        from edge.export import export_targets
        from quant.config import QuantConfig
        from quant.prune import PruneConfig

        quant = dict(job["quant"])
        if calib is not None:
            quant["calib"] = (
                str(unpack(calib, work / "calib") / job["calib_name"])
                if job["calib_is_file"]
                else str(unpack(calib, work / "calib"))
            )
        if eval_data is not None:
            quant["eval_data"] = str(unpack(eval_data, work / "eval"))
        weights_path = str(unpack(weights, work / "weights") / next(iter(weights))) if weights else None
        prune = PruneConfig(**job["prune"]) if job["prune"] else None

        def progress(target: str, step: str) -> None:
            if kill_marker and step.startswith("converting") and not os.path.exists(kill_marker):
                Path(kill_marker).write_text(str(os.getpid()))  # test hook: the worker dies mid-conversion
                os.kill(os.getpid(), signal.SIGKILL)

        out = work / "out"
        (result,) = export_targets(
            job["model"],
            targets=job["target"],
            quant=QuantConfig(**quant),
            out_dir=out,
            num_classes=job["num_classes"],
            input_size=job["input_size"],
            weights=weights_path,
            labels=job["labels"],
            prune=prune,
            progress=progress,
        )
        m = result.manifest
        return {
            "status": "ok",
            "files": pack(out),
            "artifact": result.path.name,
            "manifest": result.manifest_path.name,
            "summary": summary_of(m),
            "started": started,
            "ended": time.time(),
            **_where(),
        }
    except Exception as e:  # any failure of the cell is its error row; the sweep goes on
        return {"status": "error", "error": one_line(e), "started": started, "ended": time.time(), **_where()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary_of(m: dict) -> dict:
    parity = m["parity"]
    accuracy = m["quant"].get("accuracy") or {}
    return {
        "model": m["model"]["name"],
        "params": m["model"]["params"],
        "gmacs": m["model"]["gmacs"],
        "size_bytes": m["artifact"]["size_bytes"],
        "format": m["artifact"]["format"],
        "parity_status": parity["status"],
        "cosine": parity.get("cosine"),
        "top1": accuracy.get("artifact_top1"),
        "eager_top1": accuracy.get("eager_fp32_top1"),
        "accuracy_status": accuracy.get("status"),
    }


def runs_on(device: str, runner: str | None, fmt: str) -> str | None:
    """Why this device cannot run this format, or None when it can."""
    kind = device.partition(":")[0]
    kind = "adb-app" if kind == "adb" and runner == "app" else kind
    if fmt in RUNS_ON[kind]:
        return None
    what = {
        "adb": "the native runner runs .pte only (use runners.adb: app for .tflite/.onnx/.ort)",
        "adb-app": "android_demo runs .pte, .tflite, .onnx and .ort",
        "ios": "ios_demo runs .mlpackage and .pte",
        "host": "Core ML runs only on macOS/iOS devices",
    }[kind]
    return f"{device} cannot run .{fmt}: {what}"


def time_artifact(job: dict, files: dict, tracker=None) -> dict:
    """Profile one artifact on one device (runtimes/ harnesses); the record is edge profile's."""
    started = time.time()
    if tracker is not None:
        tracker.started.remote(job["key"])
    work = scratch("time", job["key"])
    try:
        from common.quiet import captured_output
        from runtimes.adb import parse_device

        path = unpack(files, work) / job["artifact"]
        kind, ident = parse_device(job["device"])
        runner = job.get("runner")
        with captured_output(True):  # runtimes print C++ log lines on fd 2
            if kind == "host":
                from runtimes.profile import profile_host

                record = profile_host(
                    path, runs=job["runs"], warmup=job["warmup"], threads=job["threads"], op_profile=False
                )
            elif kind == "adb" and runner == "app":
                from runtimes.adb_app import profile_adb_app

                record = profile_adb_app(
                    path, serial=ident, runs=job["runs"], warmup=job["warmup"], threads=job["threads"]
                )
            elif kind == "adb":
                from runtimes.adb import profile_adb

                record = profile_adb(
                    path, runner, serial=ident, runs=job["runs"], warmup=job["warmup"], threads=job["threads"]
                )
            else:
                from runtimes.ios import profile_ios

                record = profile_ios(
                    path, udid=ident, app=runner, runs=job["runs"], warmup=job["warmup"], threads=job["threads"]
                )
        return {"status": "ok", "record": record, "started": started, "ended": time.time(), **_where()}
    except Exception as e:
        return {"status": "error", "error": one_line(e), "started": started, "ended": time.time(), **_where()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Tracker:
    """A tiny Ray actor: which cells a worker has actually started (the rest are queued for resources)."""

    def __init__(self):
        self.running: set[str] = set()

    def started(self, key: str) -> None:
        self.running.add(key)

    def finished(self, key: str) -> None:
        self.running.discard(key)

    def count(self) -> int:
        return len(self.running)
