"""LiteRT's lowerings: what its default CPU delegate (XNNPACK) runs badly as the converter writes it."""

from __future__ import annotations

import torch

from edge.lowering import lowering
from edge.targets.depthwise_strips import conv2d_in_strips

aten = torch.ops.aten


# aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=1, SymInt[2] padding=0,
#     SymInt[2] dilation=1, SymInt groups=1) -> Tensor
@lowering(aten.conv2d.default, "litert")
def conv2d__litert(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """LiteRT's XNNPACK delegate runs a depthwise conv above 25 taps (7x7) as a slow grouped GEMM: split
    it into strips."""
    return conv2d_in_strips(x, weight, bias, stride, padding, dilation, groups)
