"""XNNPACK lowerings: rewrite what the XNNPACK partitioner rejects into ops it delegates.

Keyed by backend constraints (executorch 1.5.1's partitioner configs), not by model names, so
they apply to foreign graphs too: decomposed SDPA / nn.MultiheadAttention, LayerNorm over
tokens, select/squeeze from indexing, `mean` over non-innermost dims, same-shape expands.
"""

from __future__ import annotations

import math

import torch

from edge.lowering import lowering

aten = torch.ops.aten
BACKEND = "xnnpack"


# aten::scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None,
#     float dropout_p=0.0, bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor
@lowering(aten.scaled_dot_product_attention.default, BACKEND)
def scaled_dot_product_attention__xnnpack(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """SDPA's decomposition emits any/eq/where/full_like/logical_not, which XNNPACK does not take."""
    *lead, n, d = query.shape
    m, dv = key.shape[-2], value.shape[-1]
    batch = math.prod(lead)
    s = scale if scale is not None else 1.0 / math.sqrt(d)
    logits = torch.bmm(query.reshape(batch, n, d) * s, key.reshape(batch, m, d).transpose(1, 2))
    # A boolean mask becomes an additive one computed from the mask alone, so a constant mask (transformers'
    # ViT passes an all-true one) folds into a constant and only a delegated add remains; a masked_fill of
    # the logits would leave where/scalar_tensor outside the delegate.
    if attn_mask is not None:
        mask = attn_mask.expand(*lead, n, m).reshape(batch, n, m)
        logits = logits + (torch.where(mask, 0.0, float("-inf")) if mask.dtype == torch.bool else mask)
    if is_causal:
        causal = torch.ones(n, m, dtype=torch.bool).tril()
        logits = logits + torch.where(causal, 0.0, float("-inf"))
    out = torch.bmm(torch.softmax(logits, dim=-1), value.reshape(batch, m, dv))
    return out.reshape(*lead, n, dv)


def _pool_mean(x4: torch.Tensor) -> torch.Tensor:
    """Mean over dims 2 and 3 of a 4-D tensor, keepdim, as avg_pool2d (delegated). Not mean.dim:
    that op is itself lowered here, and a lowering must not emit the op it replaces."""
    return torch.nn.functional.avg_pool2d(x4, kernel_size=(x4.shape[2], x4.shape[3]))


def _row_mean(rows: torch.Tensor) -> torch.Tensor:
    """Mean of each row of a 2-D tensor, keepdim, as a product with a constant 1/C column: XNNPACK runs
    it as a fully-connected op on the rows as they lie (finish.fold_constants folds the column)."""
    c = rows.shape[-1]
    return torch.mm(rows, torch.full((c, 1), 1.0 / c, dtype=rows.dtype))


def normal_eps(eps: float, dtype: torch.dtype) -> float:
    """The norm's epsilon, raised to the dtype's smallest normal number when it lies below it. LayerNorm's
    1e-5 is subnormal in float16, and ARM fp16 kernels flush subnormals to zero: a token with zero
    variance (a constant patch) then gets rsqrt(0) = inf and 0 * inf = NaN. float32: unchanged."""
    return max(float(eps), float(torch.finfo(dtype).tiny))


# aten::layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, Tensor? bias=None,
#     float eps=1e-05, bool cudnn_enable=True) -> Tensor
@lowering(aten.layer_norm.default, BACKEND)
def layer_norm__xnnpack(x, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """XNNPACK has no layer norm, and its mean.dim takes only 4-D inputs averaged over dims 2 and 3.

    The two means over the normalized (innermost) dims are `_row_mean`s on the tokens as they lie in
    memory. Averaging by pooling instead needs two NCHW<->NHWC transposes of the whole tensor per mean
    (ETDump on MobileViT-XXS: 4% slower end to end).
    """
    shape = x.shape
    c = math.prod(normalized_shape)
    rows = x.reshape(-1, c)
    centered = rows - _row_mean(rows)
    var = _row_mean(centered * centered)
    y = (centered * torch.rsqrt(var + normal_eps(eps, x.dtype))).reshape(shape)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)
@lowering(aten.select.int, BACKEND)
def select__xnnpack(x, dim, index):
    """XNNPACK has no select (gather of one index); a static slice and a view are delegated."""
    dim = dim % x.dim()
    index = index % x.shape[dim]
    out_shape = [s for i, s in enumerate(x.shape) if i != dim]
    return x.narrow(dim, index, 1).reshape(out_shape)


# aten::squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)   (and .dims, .default)
def _squeeze_as_view(x, dims=None):
    if dims is None:
        return x.reshape([s for s in x.shape if s != 1])
    dims = [dims] if isinstance(dims, int) else list(dims)
    drop = {d % x.dim() for d in dims if x.shape[d] == 1}
    return x.reshape([s for i, s in enumerate(x.shape) if i not in drop])


@lowering(aten.squeeze.dim, BACKEND)
def squeeze_dim__xnnpack(x, dim):
    """XNNPACK does not take squeeze_copy; the same reshape as view_copy is delegated."""
    return _squeeze_as_view(x, dim)


@lowering(aten.squeeze.dims, BACKEND)
def squeeze_dims__xnnpack(x, dims):
    """XNNPACK does not take squeeze_copy; the same reshape as view_copy is delegated."""
    return _squeeze_as_view(x, dims)


# aten::mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor
@lowering(aten.mean.dim, BACKEND)
def mean_dim__xnnpack(x, dim, keepdim=False, dtype=None):
    """XNNPACK's mean.dim is global average pooling: 4-D input, dims (2, 3), keepdim only."""
    rank = x.dim()
    dims = sorted({d % rank for d in (dim if dim is not None else range(rank))})
    kept = [i for i in range(rank) if i not in dims]
    out_shape = [1 if i in dims else s for i, s in enumerate(x.shape)] if keepdim else [x.shape[i] for i in kept]
    if rank == 4 and dims == [2, 3]:
        y = _pool_mean(x)
    elif dims == list(range(len(kept), rank)):  # trailing dims: a product with a constant, no transposes
        y = _row_mean(x.reshape(-1, math.prod(x.shape[i] for i in dims)))
    else:
        moved = x.permute(*kept, *dims) if kept + dims != list(range(rank)) else x
        y = _pool_mean(moved.reshape(1, math.prod(x.shape[i] for i in kept), math.prod(x.shape[i] for i in dims), 1))
    y = y.reshape(out_shape)
    return y.to(dtype) if dtype is not None else y


# aten::expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)
@lowering(aten.expand.default, BACKEND)
def expand__xnnpack(x, size, implicit=False):
    """XNNPACK does not take expand_copy (broadcast matmuls emit it): a view, or a broadcast multiply.

    Not a concat of copies: XNNPACK's partitioner counts a concat's distinct inputs, so cat([y] * n)
    (one input node) stays outside the delegate. A product with a constant ones tensor of the target
    shape broadcasts in XNNPACK's multiply and is exact.
    """
    size = list(size)
    lead = len(size) - x.dim()
    y = x.reshape([1] * lead + list(x.shape)) if lead else x
    shape = [y.shape[d] if s == -1 else s for d, s in enumerate(size)]
    if list(y.shape) == shape:
        return y.reshape(shape)
    return y * torch.ones(shape, dtype=y.dtype)


# aten::unsqueeze(Tensor(a) self, int dim) -> Tensor(a)
@lowering(aten.unsqueeze.default, BACKEND)
def unsqueeze__xnnpack(x, dim):
    """XNNPACK takes unsqueeze_copy only on the trailing dimension; a reshape is delegated anywhere."""
    dim = dim % (x.dim() + 1)
    shape = list(x.shape)
    return x.reshape(shape[:dim] + [1] + shape[dim:])


# aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]
@lowering(aten.unbind.int, BACKEND)
def unbind__xnnpack(x, dim=0):
    """unbind becomes split + squeeze_copy, neither delegated; static slices + reshapes are."""
    dim = dim % x.dim()
    rest = [s for i, s in enumerate(x.shape) if i != dim]
    return [x.narrow(dim, i, 1).reshape(rest) for i in range(x.shape[dim])]


# aten::split_with_sizes(Tensor(a -> *) self, SymInt[] split_sizes, int dim=0) -> Tensor(a)[]
@lowering(aten.split_with_sizes.default, BACKEND)
def split_with_sizes__xnnpack(x, split_sizes, dim=0):
    """XNNPACK has no split_with_sizes_copy (split/cat PConv emits it); static slices are delegated."""
    outs, start = [], 0
    for size in split_sizes:
        outs.append(x.narrow(dim, start, size))
        start += size
    return outs


# aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]
@lowering(aten.split.Tensor, BACKEND)
def split__xnnpack(x, split_size, dim=0):
    """XNNPACK has no split_with_sizes_copy (torch.split / chunk emit it); static slices are delegated."""
    total = x.shape[dim]
    return [x.narrow(dim, s, min(split_size, total - s)) for s in range(0, total, split_size)]


# aten::matmul(Tensor self, Tensor other) -> Tensor
@lowering(aten.matmul.default, BACKEND)
def matmul__xnnpack(a, b):
    """A >3-D matmul decomposes into expand_copy (not delegated) + bmm; equal batch dims need only views."""
    if a.dim() <= 2 or b.dim() <= 2 or a.shape[:-2] != b.shape[:-2]:
        if b.dim() == 2 and a.dim() >= 2:  # (..., n, k) @ (k, m): one mm on flattened rows
            return torch.mm(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
        lead = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = expand__xnnpack(a, [*lead, *a.shape[-2:]])
        b = expand__xnnpack(b, [*lead, *b.shape[-2:]])
    lead = a.shape[:-2]
    batch = math.prod(lead)
    out = torch.bmm(a.reshape(batch, *a.shape[-2:]), b.reshape(batch, *b.shape[-2:]))
    return out.reshape(*lead, a.shape[-2], b.shape[-1])


# aten::slice_scatter(Tensor self, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1)
@lowering(aten.slice_scatter.default, BACKEND)
def slice_scatter__xnnpack(x, src, dim=0, start=None, end=None, step=1):
    """In-place channel slicing (x[:, :c] = f(x[:, :c])) functionalizes to slice_scatter, which XNNPACK
    does not take; for step 1 it is a concat of the untouched slices around the new one."""
    size = x.shape[dim]
    start = 0 if start is None else (start % size if start < 0 else min(start, size))
    end = size if end is None else (end % size if end < 0 else min(end, size))
    if step != 1:
        raise NotImplementedError("slice_scatter with step != 1 has no XNNPACK lowering")
    parts = [p for p in (x.narrow(dim, 0, start), src, x.narrow(dim, end, size - end)) if p.shape[dim] > 0]
    return torch.cat(parts, dim=dim) if len(parts) > 1 else parts[0]


# aten::copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor
@lowering(aten.copy.default, BACKEND)
def copy__xnnpack(x, src, non_blocking=False):
    """Functionalized in-place writes leave copy(); XNNPACK takes no copy op, and the value is just src."""
    src = src.to(x.dtype)
    return src.reshape(x.shape) if src.shape == x.shape else expand__xnnpack(src, list(x.shape))


# aten::clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor
@lowering(aten.clone.default, BACKEND)
def clone__xnnpack(x, memory_format=None):
    """A clone before in-place slicing becomes a delegate pass-through XNNPACK rejects; values need no copy.

    A clone that makes a strided tensor contiguous (`.contiguous()`) must stay a copy.
    """
    if x.is_contiguous():
        return x.reshape(x.shape)
    return aten._to_copy.default(x, memory_format=torch.contiguous_format)


# aten::chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]
@lowering(aten.chunk.default, BACKEND)
def chunk__xnnpack(x, chunks, dim=0):
    """chunk becomes split_with_sizes_copy, which XNNPACK does not take; static slices are delegated."""
    return split__xnnpack(x, math.ceil(x.shape[dim] / chunks), dim)


# aten::silu(Tensor self) -> Tensor
@lowering(aten.silu.default, BACKEND)
def silu__xnnpack(x):
    """XNNPACK has no SiLU (ExecuTorch emits sigmoid and multiply either way); written out before int8
    quantization, the sigmoid can take a fixed [0, 1) output range and run as an int8 table."""
    return x * torch.sigmoid(x)
