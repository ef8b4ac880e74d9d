"""The toy backend's converter (torch.export.save of the lowered program) and runtime (torch.export.load)."""

from __future__ import annotations

import time

import numpy as np
import torch

from edge.targets.base import ExportJob, ExportOutcome
from runtimes.base import SessionInfo, TensorSpec


def export_pt2(job: ExportJob) -> ExportOutcome:
    torch.export.save(job.program, str(job.out_path))
    nodes = sum(1 for n in job.program.graph.nodes if n.op == "call_function")
    return ExportOutcome(coverage={"backend": "pt2", "compute_nodes": nodes, "violations": 0, "left_out": []})


class Pt2Session:
    def __init__(self, path):
        start = time.perf_counter()
        self._module = torch.export.load(str(path)).module()
        self.info = SessionInfo(
            "torch", {"torch": torch.__version__}, torch.get_num_threads(), load_ms=(time.perf_counter() - start) * 1e3
        )
        self.inputs: list[TensorSpec] = []
        self.outputs: list[TensorSpec] = []

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = self._module(*(torch.from_numpy(x) for x in inputs))
        return [out.detach().numpy()]


def open_pt2(path, config=None) -> Pt2Session:
    return Pt2Session(path)
