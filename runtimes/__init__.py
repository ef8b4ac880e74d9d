"""Runtime adapters: load and run an artifact file on this machine. Knows nothing of models."""

from __future__ import annotations

import platform
from pathlib import Path

from runtimes.base import ProfileError, RuntimeUnavailable, Session, SessionInfo, TensorSpec
from runtimes.formats import ArtifactError, check_complete, detect_format


def open_session(path: str | Path, threads: int | None = None, config: dict | None = None) -> Session:
    """Check the file's header, then load it in the runtime its format needs. `config`: runtime
    session settings (onnxruntime's session config entries); other runtimes take none."""
    fmt = detect_format(path)
    check_complete(path, fmt)
    if config and fmt not in ("onnx", "ort"):
        raise ValueError(f"session config is for onnxruntime; a .{fmt} takes none. Got {config!r}.")
    if fmt == "pte":
        from runtimes.executorch_rt import ExecuTorchSession

        return ExecuTorchSession(path, threads)
    if fmt == "tflite":
        from runtimes.litert_rt import LiteRTSession

        return LiteRTSession(path, threads)
    if fmt in ("onnx", "ort"):
        from runtimes.onnxruntime_rt import OnnxRuntimeSession

        return OnnxRuntimeSession(path, threads, config=config)
    if platform.system() != "Darwin":
        raise RuntimeUnavailable(
            "Core ML models run only on macOS/iOS; on this machine a .mlpackage can be validated but not run."
        )
    from runtimes.coreml_rt import CoreMLSession

    return CoreMLSession(path, threads)


__all__ = [
    "ArtifactError",
    "ProfileError",
    "RuntimeUnavailable",
    "Session",
    "SessionInfo",
    "TensorSpec",
    "detect_format",
    "open_session",
]
