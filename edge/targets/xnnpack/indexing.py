"""XNNPACK lowerings for strided slices and tiling (LeViT's subsampling, SwiftFormer's query repeat).

ExecuTorch 1.5.1's XNNPACK partitioner takes slice_copy only with step 1 and has no repeat; both
become reshapes, static slices and a broadcast multiply, which it delegates.
"""
from __future__ import annotations

import torch

from edge.lowering import lowering

aten = torch.ops.aten
BACKEND = "xnnpack"


# aten::slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor(a)
@lowering(aten.slice.Tensor, BACKEND)
def slice__xnnpack(x, dim=0, start=None, end=None, step=1):
    """XNNPACK slices only with step 1: x[::s] is a step-1 slice, padded to a multiple of s, viewed as
    (n/s, s) and narrowed to the first of each s."""
    if step == 1:
        return NotImplemented  # delegated as it is
    dim = dim % x.dim()
    size = x.shape[dim]
    start = 0 if start is None else (start + size if start < 0 else min(start, size))
    end = size if end is None else (end + size if end < 0 else min(end, size))
    span = x.narrow(dim, start, max(end - start, 0))
    count = -(-span.shape[dim] // step)
    missing = count * step - span.shape[dim]
    if missing:
        pad = [0, 0] * (x.dim() - 1 - dim) + [0, missing]
        span = torch.nn.functional.pad(span, pad)
    shape = list(span.shape)
    grouped = span.reshape(shape[:dim] + [count, step] + shape[dim + 1:])
    return grouped.narrow(dim + 1, 0, 1).reshape(shape[:dim] + [count] + shape[dim + 1:])


# aten::repeat(Tensor self, SymInt[] repeats) -> Tensor
@lowering(aten.repeat.default, BACKEND)
def repeat__xnnpack(x, repeats):
    """XNNPACK has no repeat (tiling): each tiled dim gets an outer axis that a multiply by a constant
    ones tensor broadcasts, then one reshape merges it (not a concat of copies: XNNPACK's concat
    counts distinct inputs, so cat([x] * n) stays outside the delegate)."""
    repeats = list(repeats)
    y = x.reshape([1] * (len(repeats) - x.dim()) + list(x.shape))
    shape = list(y.shape)
    if all(r == 1 for r in repeats):
        return y.reshape(shape)
    split = []
    for r, s in zip(repeats, shape):
        split += [1, s]
    tiles = []
    for r, s in zip(repeats, shape):
        tiles += [r, s]
    tiled = y.reshape(split) * torch.ones(tiles, dtype=y.dtype)
    return tiled.reshape([r * s for r, s in zip(repeats, shape)])
