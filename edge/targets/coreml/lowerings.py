"""Core ML lowerings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edge.lowering import lowering, per_channel_affine

aten = torch.ops.aten


# edge::local_attention(Tensor q, Tensor k, Tensor v, float? scale) -> Tensor
@lowering(torch.ops.edge.local_attention.default, "coreml")
def local_attention__coreml(q, k, v, scale=None):
    """Core ML has a fused scaled_dot_product_attention op from iOS 18, which coremltools emits only for
    an SDPA without an explicit scale; below iOS 18 it writes the same SDPA as rank-4 matmul + softmax.
    So: SDPA with the default scale, q pre-scaled to give the requested one."""
    d = q.shape[-1]
    s = scale if scale is not None else 1.0 / math.sqrt(d)
    factor = s * math.sqrt(d)
    return F.scaled_dot_product_attention(q * factor if factor != 1.0 else q, k, v)


# aten::group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, float eps=1e-05,
#     bool cudnn_enabled=True) -> Tensor
@lowering(aten.group_norm.default, "coreml")
def group_norm__coreml(x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """coremltools writes group_norm through a 5-D (N, G, C/G, H, W) reshape, above the rank 4 the
    Neural Engine takes (MobileViTV2, PoolFormer): the same statistics over (N, G, C/G*H*W) rows."""
    n = x.shape[0]
    rows = x.reshape(n, num_groups, -1)
    centered = rows - rows.mean(dim=-1, keepdim=True)
    var = (centered * centered).mean(dim=-1, keepdim=True)
    y = (centered * torch.rsqrt(var + eps)).reshape(x.shape)
    return per_channel_affine(y, weight, bias)
