"""ONNX Runtime (.onnx and .ort) on the CPU execution provider."""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from runtimes.base import SessionInfo, TensorSpec

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}


class OnnxRuntimeSession:
    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        profile_prefix: str | None = None,
        config: dict | None = None,
    ):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        for key, value in (config or {}).items():  # e.g. session.disable_quant_qdq for reference int8 numerics
            opts.add_session_config_entry(key, value)
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        if profile_prefix:
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        start = time.perf_counter()
        try:
            self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT raises its own Fail/InvalidGraph/etc. types
            from runtimes.formats import ArtifactError

            raise ArtifactError(
                f"{str(path)!r} could not be loaded by onnxruntime ({str(e).splitlines()[0][:200]})."
            ) from None
        load_ms = (time.perf_counter() - start) * 1e3
        self.inputs = [
            TensorSpec(i.name, tuple(i.shape), _ORT_TYPES.get(i.type, i.type)) for i in self._sess.get_inputs()
        ]
        self.outputs = [
            TensorSpec(o.name, tuple(o.shape), _ORT_TYPES.get(o.type, o.type)) for o in self._sess.get_outputs()
        ]
        self.info = SessionInfo(
            "onnxruntime",
            {"onnxruntime": version("onnxruntime")},
            threads,
            {"providers": self._sess.get_providers()},
            load_ms,
        )

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feeds = {spec.name: np.ascontiguousarray(x, dtype=spec.dtype) for spec, x in zip(self.inputs, inputs)}
        return list(self._sess.run(None, feeds))

    def end_profiling(self) -> str:
        return self._sess.end_profiling()
