"""Coverage: which nodes a backend will not take, and why — before and after fallbacks.

XNNPACK answers for itself (its partitioner, see targets/xnnpack/coverage.py). For the
converters (LiteRT, Core ML, ONNX) the limits that bite hybrids are structural and declared on
each Target: the highest tensor rank the backend's accelerators accept, and ops it lacks.
"""

from __future__ import annotations

import operator

import torch

from edge.targets.base import Target, load

_STRUCTURAL = {operator.getitem}


def graph_coverage(program: torch.export.ExportedProgram, target: Target) -> dict:
    """Nodes of an (aten-level) program that break the target's declared limits, with reasons."""
    left_out, total = [], 0
    for node in program.graph.nodes:
        if node.op != "call_function" or node.target in _STRUCTURAL:
            continue
        total += 1
        op = str(node.target)
        name = getattr(node.target, "_opname", op.split(".")[-2] if "." in op else op)
        reasons = []
        if name in target.unsupported_ops:
            reasons.append(f"{target.name} has no {name} op")
        if target.max_rank is not None:
            rank = max(
                [_rank(node.meta.get("val"))]
                + [_rank(a.meta.get("val")) for a in node.args if isinstance(a, torch.fx.Node)]
            )
            if rank > target.max_rank:
                reasons.append(f"rank-{rank} tensor; {target.name} accelerators take rank <= {target.max_rank}")
        if reasons:
            left_out.append({"op": op, "node": node.name, "reason": "; ".join(reasons)})
    return {"backend": target.name, "compute_nodes": total, "violations": len(left_out), "left_out": left_out}


def _rank(val) -> int:
    if isinstance(val, torch.Tensor):
        return val.dim()
    if isinstance(val, (list, tuple)):
        return max((_rank(v) for v in val), default=0)
    return 0


def target_coverage(program: torch.export.ExportedProgram, target: Target) -> dict:
    return load(target.coverage)(program, target) if target.coverage else graph_coverage(program, target)
