"""Building blocks shared by the zoo families.

`attention` and `PartialConv` are the two operations the product singles out: every family
calls them here, so one place decides how they are computed (eager fast path now, custom ops
that each backend lowers its own way later).
"""

from __future__ import annotations

import contextlib
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from edge.ops import local_attention, partial_conv
from quant.prune.config import register_unit

M = TypeVar("M", bound=nn.Module)


def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Fold an inference-mode BatchNorm into the preceding convolution (returns a new conv, with a bias)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    return fuse_conv_bn_eval(conv.eval(), bn.eval())


@torch.no_grad()
def fold_norm_affine(norm: nn.LayerNorm, consumers: list[nn.Module]) -> None:
    """Fold a LayerNorm's scale and shift into the linear maps (Linear or 1x1 Conv2d over the same
    channels) that are its only readers: W(g*x + b) + c = (W*g)x + (Wb + c). The norm keeps only
    its normalization, two elementwise ops fewer per norm in every backend's graph."""
    if norm.weight is None:
        return
    for layer in consumers:
        assert isinstance(layer, (nn.Linear, nn.Conv2d)), f"{type(layer).__name__} is not a linear map"
        weight = layer.weight.reshape(layer.weight.shape[0], -1)  # (out, in) for Linear and 1x1 conv
        shift = weight @ norm.bias if norm.bias is not None else torch.zeros(weight.shape[0])
        bias = layer.bias if layer.bias is not None else nn.Parameter(torch.zeros(weight.shape[0], dtype=weight.dtype))
        layer.bias = bias
        bias.add_(shift)
        layer.weight.mul_(norm.weight.reshape(1, -1, *([1] * (layer.weight.dim() - 2))))
    norm.register_parameter("weight", None)
    norm.register_parameter("bias", None)


class ConvNormAct(nn.Sequential):
    """Conv (no bias) + BatchNorm + optional activation; `fuse()` folds the BN away."""

    def __init__(
        self,
        in_chs,
        out_chs,
        kernel_size=1,
        stride=1,
        groups=1,
        act: type[nn.Module] | None = nn.SiLU,
        padding: int | None = None,
    ):
        padding = (kernel_size - 1) // 2 if padding is None else padding
        layers = [
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_chs),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)

    def fuse(self) -> None:
        conv, norm = self[0], self[1]
        if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
            self[0] = fuse_conv_bn(conv, norm)
            self[1] = nn.Identity()


def fuse_all(model: M) -> M:
    """Fold every foldable BatchNorm in place (the single reparameterize step of the zoo)."""
    model.eval()
    for module in list(model.modules()):
        fuse = getattr(module, "fuse", None)
        if callable(fuse) and module is not model:
            fuse()
    return model


_PLAIN_OPS = False


@contextlib.contextmanager
def plain_pytorch_ops():
    """Build graphs the way an unaided user's code would: F.scaled_dot_product_attention and
    split/conv/cat instead of our custom ops. The benchmark's "naive" baselines use this."""
    global _PLAIN_OPS
    saved, _PLAIN_OPS = _PLAIN_OPS, True
    try:
        yield
    finally:
        _PLAIN_OPS = saved


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Softmax attention over the token axis: q, k, v are (groups, heads, tokens, head_dim).

    "groups" are whatever local sets attend among themselves (MobileViT patch-grid positions,
    windows, or the batch for global attention). One custom-op node in torch.export.
    """
    if _PLAIN_OPS:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    return local_attention(q, k, v, scale)


class PartialConv(nn.Module):
    """FasterNet's PConv: a k×k conv on the first C/n_div channels, the rest passed through."""

    def __init__(self, dim: int, n_div: int = 4, kernel_size: int = 3):
        super().__init__()
        if dim % n_div:
            raise ValueError(f"PartialConv needs dim divisible by n_div. Got dim={dim}, n_div={n_div}.")
        self.dim_conv = dim // n_div
        self.dim_untouched = dim - self.dim_conv
        self.conv = nn.Conv2d(self.dim_conv, self.dim_conv, kernel_size, 1, (kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _PLAIN_OPS:
            x1, x2 = torch.split(x, [self.dim_conv, self.dim_untouched], dim=1)
            return torch.cat((self.conv(x1), x2), dim=1)
        return partial_conv(x, self.conv.weight)


# Torch-Pruning prunes it as one block (quant/prune/units.py: partial_conv)
register_unit(PartialConv, "partial_conv")
