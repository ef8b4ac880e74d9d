"""Per-backend lowerings: a function registered for (op, backend) that replaces every node of
that op with the formulation the backend runs best.

A lowering is named `<op>__<backend>`, keyed by the OpOverload object (not a string), and its
docstring states the backend limitation it works around. Lowerings are applied as one graph
pass over the ExportedProgram (`run_decompositions` with the backend's table): the functions are
traced, so they are written as ordinary PyTorch code. Backend "*" is the default every backend
gets unless it registers its own.
"""

from __future__ import annotations

import copy
import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from edge.implicit_broadcast import drop_implicit_expands

if TYPE_CHECKING:
    from edge.targets.base import Target

ANY_BACKEND = "*"


@dataclass(frozen=True)
class Lowering:
    op: torch._ops.OpOverload
    backend: str
    fn: Callable
    why: str  # first line of the docstring: the backend limitation

    @property
    def name(self) -> str:
        return self.fn.__name__


_LOWERINGS: dict[tuple[torch._ops.OpOverload, str], Lowering] = {}
# modules whose import registers the lowerings every backend may get (each Target names its own
# modules: Target.lowering_modules); imported lazily so `import edge` stays light
_SHARED_PROVIDERS = ("edge.ops.lowerings", "edge.ops.rank_limits", "edge.ops.rank_folding")
# backend -> the passes over the whole lowered program, in registration order (folding what lowerings
# computed from constants, collapsing reshape chains)
_FINISHERS: dict[str, list[Callable]] = {}


def lowering(op: torch._ops.OpOverload, backend: str = ANY_BACKEND):
    def register(fn: Callable) -> Callable:
        key = (op, backend)
        if key in _LOWERINGS:
            raise ValueError(
                f"a lowering for {op} on {backend} is already registered "
                f"({_LOWERINGS[key].name}); each (op, backend) has one."
            )
        doc = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        if not doc:
            raise ValueError(f"lowering {fn.__name__} needs a docstring stating the backend limitation.")
        _LOWERINGS[key] = Lowering(op, backend, fn, doc)
        return fn

    return register


def finisher(backend: str):
    """Register a pass run once on the whole program after a backend's lowerings, after the passes
    registered before it. It may edit the program in place (apply_lowerings hands it one that no other
    target shares) and returns it."""

    def register(fn: Callable) -> Callable:
        passes = _FINISHERS.setdefault(backend, [])
        if fn in passes:
            raise ValueError(f"finisher {fn.__name__} is already registered for {backend}.")
        passes.append(fn)
        return fn

    return register


def lowerings_for(target: Target | None) -> dict[torch._ops.OpOverload, Lowering]:
    """The target's table: the defaults, overridden by what its own modules register (None: defaults)."""
    for module in _SHARED_PROVIDERS + (target.lowering_modules if target else ()):
        importlib.import_module(module)
    table = {op: low for (op, b), low in _LOWERINGS.items() if b == ANY_BACKEND}
    if target is not None:
        table.update({op: low for (op, b), low in _LOWERINGS.items() if b == target.name})
    return table


def count_ops(program: torch.export.ExportedProgram) -> Counter:
    return Counter(n.target for n in program.graph.nodes if n.op == "call_function")


def apply_lowerings(
    program: torch.export.ExportedProgram, target: Target, enabled: bool = True
) -> tuple[torch.export.ExportedProgram, list[dict]]:
    """Lower every op the backend has a lowering for; returns the new program and what was applied.

    With enabled=False only the custom ops are lowered (no backend can run them otherwise), with
    their default formulation: that is the "naive" export the benchmark compares against.
    """
    given = program
    table = lowerings_for(target)
    if not enabled:
        defaults = lowerings_for(None)
        table = {op: low for op, low in defaults.items() if op.namespace == "edge"}
    if any(getattr(getattr(op, "_schema", None), "is_mutable", False) for op in count_ops(program)):
        # in-place ops (x[:, :c] = ...) become functional ones (slice_scatter) that lowerings can match
        program = program.run_decompositions({})
    if enabled:
        program = drop_implicit_expands(program)
    present = count_ops(program)
    if any(present.get(op) for op in table):
        program = views_as_reshapes(program)
    # the whole table, not only the ops present: an op's decomposition may emit another we lower
    lowered = (
        program.run_decompositions({op: low.fn for op, low in table.items()})
        if any(present.get(op) for op in table)
        else program
    )
    if enabled and target.name in _FINISHERS:  # also on an unlowered program, which other targets share:
        # a finisher edits the program in place, so it gets one of its own (a copy costs a tenth of a second,
        # re-tracing one as run_decompositions({}) does cost seconds)
        lowered = lowered if lowered is not given else copy.deepcopy(lowered)
        for finish in _FINISHERS[target.name]:
            lowered = finish(lowered)
    applied = [
        {"op": str(op), "lowering": low.name, "backend": low.backend, "nodes": present[op], "why": low.why}
        for op, low in table.items()
        if present.get(op)
    ]
    return lowered, applied


def views_as_reshapes(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """A copy of `program` whose views are reshapes.

    A `view` recorded by torch.export was valid for the strides the original op produced; a lowering
    computes the same values with other strides (SDPA's output follows its query's layout, so user code
    writes `attn.transpose(1, 2).view(...)`, while the lowered bmm's output is contiguous), and the view
    then cannot be formed. A reshape is the same view wherever one exists and a copy where the strides
    demand it, so the graph means what the model meant for any layout a lowering chooses.
    """
    views = [n for n in program.graph.nodes if n.op == "call_function" and n.target is torch.ops.aten.view.default]
    if not views:
        return program
    program = copy.deepcopy(program)  # the given program may be shared with other targets
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target is torch.ops.aten.view.default:
            node.target = torch.ops.aten.reshape.default
    program.graph_module.recompile()
    return program


def per_channel_affine(y: torch.Tensor, weight=None, bias=None) -> torch.Tensor:
    """A norm's optional weight and bias over dim 1 (channels), as the backends' norm lowerings apply it."""
    per_channel = [1, y.shape[1]] + [1] * (y.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    if bias is not None:
        y = y + bias.reshape(per_channel)
    return y
