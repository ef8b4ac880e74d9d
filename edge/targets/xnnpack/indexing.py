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
    grouped = span.reshape(shape[:dim] + [count, step] + shape[dim + 1 :])
    return grouped.narrow(dim + 1, 0, 1).reshape(shape[:dim] + [count] + shape[dim + 1 :])


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
    for _, s in zip(repeats, shape):
        split += [1, s]
    tiles = []
    for r, s in zip(repeats, shape):
        tiles += [r, s]
    tiled = y.reshape(split) * torch.ones(tiles, dtype=y.dtype)
    return tiled.reshape([r * s for r, s in zip(repeats, shape)])


# aten::roll(Tensor self, SymInt[1] shifts, int[1] dims=[]) -> Tensor
@lowering(aten.roll.default, BACKEND)
def roll__xnnpack(x, shifts, dims=()):
    """roll decomposes into arange/fmod/index_select (Swin's shifted windows), none delegated: a cyclic
    shift is two static slices concatenated."""
    shifts, dims = list(shifts), list(dims)
    if not dims:  # roll of the flattened tensor
        return roll__xnnpack(x.reshape(-1), shifts, [0]).reshape(x.shape)
    for shift, dim in zip(shifts, dims):
        size = x.shape[dim]
        shift = shift % size
        if shift:
            x = torch.cat((x.narrow(dim, size - shift, shift), x.narrow(dim, 0, size - shift)), dim=dim)
    return x


_SCALAR_OPS = (aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor)


def _float_scalar(op):
    def lower(x, other, *args, **kwargs):
        if not (
            isinstance(other, int)
            and not isinstance(other, bool)
            and isinstance(x, torch.Tensor)
            and x.is_floating_point()
        ):
            return NotImplemented
        return op(x, float(other), *args, **kwargs)

    lower.__name__ = f"{op.__name__.split('.')[0]}_int_scalar__xnnpack"
    lower.__doc__ = (
        "An int scalar in float arithmetic (`(a + b) / 2`) becomes an int64 constant and a cast "
        "XNNPACK does not take; the same value as a float scalar is delegated."
    )
    return lower


for _op in _SCALAR_OPS:
    lowering(_op, BACKEND)(_float_scalar(_op))
