"""Core ML (.mlpackage) through coremltools' predict: macOS only (not exercised on Linux)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import numpy as np

from runtimes.base import SessionInfo, TensorSpec


class CoreMLSession:
    def __init__(self, path: str | Path, threads: int | None = None, compute_units: str = "ALL"):
        import coremltools as ct

        self._model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, compute_units))
        spec = self._model.get_spec()
        self.inputs = [
            TensorSpec(i.name, tuple(i.type.multiArrayType.shape), "float32") for i in spec.description.input
        ]
        self.outputs = [
            TensorSpec(o.name, tuple(o.type.multiArrayType.shape), "float32") for o in spec.description.output
        ]
        self.info = SessionInfo(
            "coreml", {"coremltools": version("coremltools")}, threads, {"compute_units": compute_units}
        )

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        result = self._model.predict({spec.name: x for spec, x in zip(self.inputs, inputs)})
        return [np.asarray(result[o.name]) for o in self.outputs]
