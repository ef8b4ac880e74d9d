"""LiteRT (.tflite) through ai-edge-litert's Interpreter, XNNPACK delegate on (its default)."""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from runtimes.base import SessionInfo, TensorSpec


class LiteRTSession:
    def __init__(self, path: str | Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        start = time.perf_counter()
        try:
            self._interp = Interpreter(model_path=str(path), num_threads=threads)
        except ValueError as e:  # the flatbuffer verifier rejects a damaged file here
            from runtimes.formats import ArtifactError

            raise ArtifactError(f"{str(path)!r} is not a loadable .tflite model ({str(e).splitlines()[0]}).") from None
        self._interp.allocate_tensors()
        load_ms = (time.perf_counter() - start) * 1e3
        self._in = self._interp.get_input_details()
        self._out = self._interp.get_output_details()
        self.inputs = [
            TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]).name) for d in self._in
        ]
        self.outputs = [
            TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]).name) for d in self._out
        ]
        # the XNNPACK delegate replaces the nodes it takes by DELEGATE nodes in the execution plan
        ops = [op["op_name"] for op in self._interp._get_ops_details()]
        partitions = ops.count("DELEGATE")
        self.info = SessionInfo(
            "litert",
            {"ai-edge-litert": version("ai-edge-litert")},
            threads,
            {"xnnpack_delegate": True, "delegate_partitions": partitions, "model_ops": len(ops) - partitions},
            load_ms,
        )

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for detail, x in zip(self._in, inputs):
            self._interp.set_tensor(detail["index"], _to_input(x, detail))
        self._interp.invoke()
        return [_from_output(self._interp.get_tensor(d["index"]), d) for d in self._out]


def _to_input(x: np.ndarray, detail: dict) -> np.ndarray:
    """Quantize a float input when the model takes integers (full-int8 I/O)."""
    if np.issubdtype(detail["dtype"], np.integer) and np.issubdtype(x.dtype, np.floating):
        scale, zero = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(detail["dtype"])
    return np.ascontiguousarray(x, dtype=detail["dtype"])


def _from_output(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(y.dtype, np.integer) and detail["quantization"][0]:
        scale, zero = detail["quantization"]
        return (y.astype(np.float32) - zero) * scale
    return y.copy()
