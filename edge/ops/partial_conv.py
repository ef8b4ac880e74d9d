"""edge::partial_conv — FasterNet's PConv: a k x k conv on the first C_p channels, the rest passed on.

x is (B, C, H, W), weight (C_p, C_p, k, k) with stride 1 and 'same' padding. One node in
torch.export, so each backend can pick split/conv/cat, slices + conv + cat, or another form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import register_flop_formula


@torch.library.custom_op("edge::partial_conv", mutates_args=())
def partial_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return reference_partial_conv(x, weight)


@partial_conv.register_fake
def _(x, weight):
    return torch.empty_like(x)


def _backward(ctx, grad):
    x, weight = ctx.saved_tensors
    with torch.enable_grad():
        x_, w_ = x.detach().requires_grad_(), weight.detach().requires_grad_()
        return torch.autograd.grad(reference_partial_conv(x_, w_), (x_, w_), grad)


def _setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


partial_conv.register_autograd(_backward, setup_context=_setup)


def reference_partial_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    cp = weight.shape[0]
    pad = weight.shape[-1] // 2
    return torch.cat((F.conv2d(x[:, :cp], weight, padding=pad), x[:, cp:]), dim=1)


@register_flop_formula(torch.ops.edge.partial_conv)
def _flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    b, _, h, w = x_shape
    cout, cin, kh, kw = w_shape
    return 2 * b * h * w * cout * cin * kh * kw
