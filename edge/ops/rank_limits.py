"""Permutes of rank > 4 as a few rank-4 transposes, for backends whose accelerators stop at rank 4.

MobileViT-style patch unfolding written by users reshapes to 6-D and permutes there; TFLite's GPU
delegate and Core ML reject such tensors. Any permutation can be built from "swap two adjacent
blocks of dims", and each swap is one transpose of a 4-D view (before, block1, block2, after).
"""

from __future__ import annotations

import functools
import math

import torch

MAX_RANK = 4


def permute_as_rank4_swaps(x: torch.Tensor, perm: list[int]) -> torch.Tensor:
    rank = x.dim()
    perm = [p % rank for p in perm]
    order = list(range(rank))  # which original dim sits at each position now
    sizes = list(x.shape)
    y = x
    k = 0
    while k < rank:
        pos = order.index(perm[k])
        if pos == k:
            k += 1
            continue
        length = 1  # move the longest run of wanted dims that already sit together
        while k + length < rank and pos + length < rank and order[pos + length] == perm[k + length]:
            length += 1
        cur = [sizes[d] for d in order]
        view = (
            math.prod(cur[:k]),
            math.prod(cur[k:pos]),
            math.prod(cur[pos : pos + length]),
            math.prod(cur[pos + length :]),
        )
        y = y.reshape(view).transpose(1, 2)
        order = order[:k] + order[pos : pos + length] + order[k:pos] + order[pos + length :]
        k += length
    return y.reshape([sizes[d] for d in perm])


def unbind_flat(x: torch.Tensor, dim: int) -> list[torch.Tensor]:
    """unbind of a high-rank tensor through a rank-3 view (before, n, after): no rank > 4 slices."""
    dim = dim % x.dim()
    before, after = math.prod(x.shape[:dim]), math.prod(x.shape[dim + 1 :])
    flat = x.reshape(before, x.shape[dim], after)
    rest = [s for i, s in enumerate(x.shape) if i != dim]
    return [flat[:, i].reshape(rest) for i in range(x.shape[dim])]


# --- lowerings, registered for every target that declares max_rank == 4 (LiteRT, Core ML) ---
aten = torch.ops.aten


# aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)
def permute__rank4(x, dims):
    """Accelerators limited to rank 4 (TFLite GPU, Core ML ANE/GPU) reject 5-D/6-D patch unfolding: rank-4 swaps."""
    if x.dim() <= MAX_RANK:
        return aten.permute_copy.default(x, dims)  # a lowering must not emit the op it replaces
    return permute_as_rank4_swaps(x, list(dims))


# aten::transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)
def transpose__rank4(x, dim0, dim1):
    """nn.MultiheadAttention splits its packed q/k/v by transposing a 5-D view: rank-4 swaps."""
    perm = list(range(x.dim()))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    if x.dim() <= MAX_RANK:
        return aten.permute_copy.default(x, perm)  # a lowering must not emit the op it replaces
    return permute_as_rank4_swaps(x, perm)


# aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]
def unbind__rank4(x, dim=0):
    """Splitting a fused 5-D qkv tensor slices rank-5 tensors, above the rank-4 limit: go through a flat view."""
    if x.dim() <= MAX_RANK:
        return [aten.select.int(x, dim, i) for i in range(x.shape[dim])]
    return unbind_flat(x, dim)


# aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)
def select__rank4(x, dim, index):
    """Indexing a fused 5-D qkv tensor (qkv[0]) slices a rank-5 tensor, above the rank-4 limit."""
    if x.dim() <= MAX_RANK:
        return aten.select_copy.int(x, dim, index)  # a lowering must not emit the op it replaces
    return unbind_flat(x, dim)[index % x.shape[dim]]


_RESHAPES = {
    aten.view.default,
    aten._unsafe_view.default,
    aten.reshape.default,
    aten.clone.default,
    aten.alias.default,
    aten.unsqueeze.default,
    aten.squeeze.dim,
    aten.squeeze.dims,
    aten.squeeze.default,
    aten.flatten.using_ints,
}


def _is_reshape(node) -> bool:
    return node.op == "call_function" and node.target in _RESHAPES and hasattr(node.meta.get("val"), "dim")


def collapse_high_rank_reshapes(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """A chain of reshapes (views, clones, (un)squeezes) that passes through rank > 4 becomes one
    reshape from its rank <= 4 source. Converters merge such a chain only when no step is shared:
    a 5-D qkv view read by three matmul operands stays a 5-D tensor in a Core ML program. In place."""
    chains = _chains_through_high_rank(program)
    if not chains:
        return program
    graph = program.graph
    for node, source in chains:
        with graph.inserting_before(node):
            flat = graph.call_function(aten.reshape.default, (source, list(node.meta["val"].shape)))
        flat.meta = dict(node.meta)
        node.replace_all_uses_with(flat)
    graph.eliminate_dead_code()
    program.graph_module.recompile()
    return program


def _chains_through_high_rank(program) -> list[tuple]:
    """(last reshape, rank <= 4 source) of every reshape chain that passes through rank > 4."""
    chains = []
    for node in program.graph.nodes:
        if not _is_reshape(node) or node.meta["val"].dim() > MAX_RANK:
            continue
        source, high = node.args[0], False
        while _is_reshape(source):
            high |= source.meta["val"].dim() > MAX_RANK
            source = source.args[0]
        if high:
            chains.append((node, source))
    return chains


def _register_for_rank4_targets() -> None:
    from edge.lowering import finisher, lowering
    from edge.targets import TARGETS

    for backend in (t.name for t in TARGETS.values() if t.max_rank == MAX_RANK):
        for op, fn in (
            (aten.permute.default, permute__rank4),
            (aten.unbind.int, unbind__rank4),
            (aten.select.int, select__rank4),
            (aten.transpose.int, transpose__rank4),
        ):
            named = functools.wraps(fn)(lambda *a, _fn=fn, **k: _fn(*a, **k))
            named.__name__ = fn.__name__.replace("rank4", backend)
            lowering(op, backend)(named)
        finisher(backend)(collapse_high_rank_reshapes)


_register_for_rank4_targets()
