"""Core ML lowerings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edge.lowering import lowering


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
