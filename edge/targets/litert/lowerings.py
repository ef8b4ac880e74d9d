"""LiteRT lowerings: what TFLite's GPU delegate cannot take."""
from __future__ import annotations

import torch

from edge.lowering import lowering
from edge.ops.rank_limits import MAX_RANK, permute_as_rank4_swaps, unbind_flat

aten = torch.ops.aten


# aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)
@lowering(aten.permute.default, "litert")
def permute__litert(x, dims):
    """TFLite's GPU delegate rejects tensors above rank 4 (5-D/6-D patch unfolding): rank-4 swaps."""
    if x.dim() <= MAX_RANK:
        return aten.permute_copy.default(x, dims)  # a lowering must not emit the op it replaces
    return permute_as_rank4_swaps(x, list(dims))


# aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]
@lowering(aten.unbind.int, "litert")
def unbind__litert(x, dim=0):
    """Splitting a fused 5-D qkv tensor slices rank-5 tensors, above this backend's rank-4 limit."""
    if x.dim() <= MAX_RANK:
        return [aten.select.int(x, dim, i) for i in range(x.shape[dim])]
    return unbind_flat(x, dim)


# aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)
@lowering(aten.select.int, "litert")
def select__litert(x, dim, index):
    """Indexing a fused 5-D qkv tensor (qkv[0]) slices a rank-5 tensor, above the rank-4 limit."""
    if x.dim() <= MAX_RANK:
        return aten.select_copy.int(x, dim, index)  # a lowering must not emit the op it replaces
    return unbind_flat(x, dim)[index % x.shape[dim]]
