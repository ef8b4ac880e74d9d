"""edge::local_attention — softmax attention inside local groups of a feature map.

q, k, v are (groups, heads, tokens, head_dim). "groups" are the sets of positions that attend
among themselves: MobileViT's patch grid (the pixels at one offset inside every patch),
non-overlapping windows, or the whole map (one group per image). Registered with torch.library
and a fake kernel, so torch.export keeps it as ONE node that every backend lowers its own way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import register_flop_formula


@torch.library.custom_op("edge::local_attention", mutates_args=())
def local_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    # eager: PyTorch's fused kernel is the fastest path on every host we run on
    return F.scaled_dot_product_attention(q, k, v, scale=scale)


@local_attention.register_fake
def _(q, k, v, scale=None):
    return q.new_empty((*q.shape[:-1], v.shape[-1]))


def _backward(ctx, grad):
    q, k, v = ctx.saved_tensors
    with torch.enable_grad():
        q_, k_, v_ = (t.detach().requires_grad_() for t in (q, k, v))
        out = reference_local_attention(q_, k_, v_, ctx.scale)
        return (*torch.autograd.grad(out, (q_, k_, v_), grad), None)


def _setup(ctx, inputs, output):
    q, k, v, scale = inputs
    ctx.save_for_backward(q, k, v)
    ctx.scale = scale


local_attention.register_autograd(_backward, setup_context=_setup)  # so zoo models can be fine-tuned


def reference_local_attention(q, k, v, scale: float | None = None) -> torch.Tensor:
    """The plain formula every lowering is tested against."""
    s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    return torch.softmax((q @ k.transpose(-1, -2)) * s, dim=-1) @ v


@register_flop_formula(torch.ops.edge.local_attention)
def _flops(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    """q @ k^T and attn @ v (PyTorch's CPU SDPA has no formula, so FlopCounterMode counts it as 0)."""
    g, h, n, d = q_shape
    m, dv = k_shape[-2], v_shape[-1]
    return 2 * g * h * n * m * (d + dv)
