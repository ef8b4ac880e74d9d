"""Which compute nodes the XNNPACK delegate takes, which it leaves to portable kernels, and why."""

from __future__ import annotations

import logging
import operator
from collections import Counter
from contextlib import contextmanager

_PARTITION_LOGGER = "executorch.backends.xnnpack.partition"  # parent of every op config's logger
_NOT_COMPUTE = {operator.getitem}


class _ReasonCollector(logging.Handler):
    """Collects the partitioner's WhyNoPartition records: node name -> reason."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.reasons: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        why = record.msg
        node, reason = getattr(why, "node", None), getattr(why, "reason", None)
        if node is not None and reason:
            self.reasons.setdefault(node.name, reason)


@contextmanager
def collect_rejections():
    """While partitioning, record every reason XNNPACK's op configs give for rejecting a node."""
    collector = _ReasonCollector()
    loggers = [logging.getLogger(_PARTITION_LOGGER)]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(collector)
        lg.setLevel(logging.DEBUG)
        lg.propagate = False  # keep the debug flood off the user's console
    try:
        yield collector.reasons
    finally:
        for lg, level, propagate in saved:
            lg.removeHandler(collector)
            lg.setLevel(level)
            lg.propagate = propagate


def _op_name(node) -> str:
    target = node.target
    return getattr(target, "__name__", None) or str(target)


def _supported_ops() -> set[str]:
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS

    names = set()
    for config in ALL_PARTITIONER_CONFIGS:
        name = getattr(config, "target_name", None)
        if name:
            names.add(name.split(".")[0])
    return names


def delegation_coverage(graph_module, reasons: dict[str, str]) -> dict:
    """Count delegated vs. non-delegated compute nodes in a lowered graph, with a reason for each miss."""
    supported = _supported_ops()
    delegated = Counter()
    subgraphs = 0
    left_out = []
    for node in graph_module.graph.nodes:
        if node.op == "get_attr" and node.name.startswith("lowered_module_"):
            subgraphs += 1
            lowered = getattr(graph_module, node.name)
            for inner in lowered.original_module.graph.nodes:
                if inner.op == "call_function" and inner.target not in _NOT_COMPUTE:
                    delegated[_op_name(inner)] += 1
        elif node.op == "call_function" and node.target not in _NOT_COMPUTE:
            op = _op_name(node)
            if "executorch_call_delegate" in op:
                continue
            base = op.split(".")[0]
            reason = reasons.get(node.name) or (
                "XNNPACK has no kernel for this op"
                if base not in supported
                else "the partitioner's constraints for this op were not met"
            )
            left_out.append({"op": op, "node": node.name, "reason": reason})
    by_op = Counter(item["op"] for item in left_out)
    why = {}
    for item in left_out:
        why.setdefault(item["op"], item["reason"])
    return {
        "backend": "xnnpack",
        "delegated_subgraphs": subgraphs,
        "delegated_nodes": sum(delegated.values()),
        "non_delegated_nodes": len(left_out),
        "non_delegated_ops": [{"op": op, "count": n, "reason": why[op]} for op, n in by_op.most_common()],
        "non_delegated": left_out,
    }


def partitioner_coverage(program, target=None) -> dict:
    """What XnnpackPartitioner delegates of the lowered program, and why it leaves the rest out."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    with collect_rejections() as reasons:
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    return delegation_coverage(lowered.exported_program().graph_module, reasons)
