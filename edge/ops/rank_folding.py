"""Arithmetic on rank > 4 tensors, computed on a rank <= 4 view, for backends whose accelerators stop
at rank 4 (LiteRT, Core ML).

Foreign attention code computes at rank 5 and 6: SwinV2 adds its shifted-window mask to a
(batch, windows, heads, n, n) view of the scores, Hiera's mask-unit attention runs matmul, softmax and
max over (batch, heads, units, tokens, dim). Adjacent dims that every operand either spans fully or
broadcasts over entirely can be merged without changing a value, so the op runs on the merged view
and its result is viewed back; the reshape chains this leaves collapse (rank_limits' finisher).
"""

from __future__ import annotations

import functools
import math

import torch

from edge.ops.rank_limits import MAX_RANK

aten = torch.ops.aten


def merged_dims(shapes: list[tuple], out: tuple, fixed: tuple = ()) -> list[list[int]] | None:
    """Groups of adjacent dims of `out` (rank r) to merge so at most MAX_RANK remain, or None. Each
    operand shape (right-aligned to r) must be uniform over a group: all ones, or all of out's sizes.
    Dims in `fixed` (the matmul's last two, a softmax's dim) stay groups of their own."""
    rank = len(out)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]

    def uniform(group: list[int]) -> bool:
        return all(all(p[d] == 1 for d in group) or all(p[d] == out[d] for d in group) for p in padded)

    groups = [[d] for d in range(rank)]
    while len(groups) > MAX_RANK:
        for i in range(len(groups) - 1):
            pair = groups[i] + groups[i + 1]
            if not any(d in fixed for d in pair) and uniform(pair):
                groups[i : i + 2] = [pair]
                break
        else:
            return None
    return groups


def fold(x: torch.Tensor, groups: list[list[int]], rank: int) -> torch.Tensor:
    """`x` right-aligned to `rank` dims, viewed with each group of dims merged."""
    shape = (1,) * (rank - x.dim()) + tuple(x.shape)
    return x.reshape([math.prod(shape[d] for d in g) for g in groups])


def _out_rank_above_limit(*tensors) -> tuple | None:
    shapes = [tuple(t.shape) for t in tensors if isinstance(t, torch.Tensor)]
    if not shapes:
        return None
    out = tuple(torch.broadcast_shapes(*shapes))
    return out if len(out) > MAX_RANK else None


def _elementwise(op):
    """add/sub/mul/div of tensors (or a tensor and a scalar) with a rank > 4 result."""

    def lower(x, other, *args, **kwargs):
        out = _out_rank_above_limit(x, other)
        tensors = [t for t in (x, other) if isinstance(t, torch.Tensor)]
        groups = merged_dims([tuple(t.shape) for t in tensors], out) if out else None
        if groups is None:
            return NotImplemented  # within the limit, or not mergeable: the op as it is
        a, b = (fold(t, groups, len(out)) if isinstance(t, torch.Tensor) else t for t in (x, other))
        return op(a, b, *args, **kwargs).reshape(out)

    return lower


# aten::matmul(Tensor self, Tensor other) -> Tensor
def matmul__folded(a, b):
    """A batched matmul over 3 batch dims (Hiera's mask units) as one over their merged batch."""
    if a.dim() < 3 or b.dim() < 3:
        return NotImplemented
    out = (*torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
    if len(out) <= MAX_RANK:
        return NotImplemented
    rank = len(out)
    batch = [tuple(a.shape[:-2]) + (1, 1), tuple(b.shape[:-2]) + (1, 1)]
    groups = merged_dims(batch, out[:-2] + (1, 1), fixed=(rank - 2, rank - 1))
    if groups is None:
        return NotImplemented
    batch_groups = groups[:-2]
    fa = fold(a, batch_groups + [[rank - 2], [rank - 1]], rank)
    fb = fold(b, batch_groups + [[rank - 2], [rank - 1]], rank)
    return aten.matmul.default(fa, fb).reshape(out)


def _around(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, int]:
    """x as (before, n, after) around `dim`, and the dim's position there (1)."""
    dim = dim % x.dim()
    return x.reshape(math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1 :])), 1


# aten::softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor
def softmax__folded(x, dim, dtype=None):
    if x.dim() <= MAX_RANK:
        return NotImplemented
    flat, d = _around(x, dim)
    return aten.softmax.int(flat, d, dtype).reshape(x.shape)


# aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)
def max_dim__folded(x, dim, keepdim=False):
    """Hiera's mask-unit pooling, max over dim 3 of a 6-D view."""
    if x.dim() <= MAX_RANK:
        return NotImplemented
    dim = dim % x.dim()
    flat, d = _around(x, dim)
    values, indices = aten.max.dim(flat, d, True)
    shape = list(x.shape)
    shape[dim] = 1
    if not keepdim:
        del shape[dim]
    return values.reshape(shape), indices.reshape(shape)


def _register_for_rank4_targets() -> None:
    from edge.lowering import lowering
    from edge.targets import TARGETS

    ops = {op: _elementwise(op) for op in (aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor)}
    ops.update({aten.matmul.default: matmul__folded, aten.softmax.int: softmax__folded, aten.max.dim: max_dim__folded})
    for backend in (t.name for t in TARGETS.values() if t.max_rank == MAX_RANK):
        for op, fn in ops.items():
            named = functools.wraps(fn)(lambda *a, _fn=fn, **k: _fn(*a, **k))
            named.__name__ = f"{op.__name__.split('.')[0]}_folded__{backend}"
            named.__doc__ = named.__doc__ or "rank > 4 arithmetic on a rank <= 4 view of mergeable dims"
            lowering(op, backend)(named)


_register_for_rank4_targets()
