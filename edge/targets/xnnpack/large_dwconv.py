"""Depthwise convolutions above 25 taps for ExecuTorch's XNNPACK delegate (edge/targets/depthwise_strips.py
says why and how), and the renaming its pt2e quantizer needs afterwards."""

from __future__ import annotations

import torch

from edge.lowering import lowering
from edge.targets.depthwise_strips import conv2d_in_strips

aten = torch.ops.aten


# aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=1, SymInt[2] padding=0,
#     SymInt[2] dilation=1, SymInt groups=1) -> Tensor
@lowering(aten.conv2d.default, "xnnpack")
def conv2d__xnnpack(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """XNNPACK runs a depthwise conv above 25 taps (7x7) as a slow grouped GEMM: split it into strips."""
    return conv2d_in_strips(x, weight, bias, stride, padding, dilation, groups)


def convolutions_as_conv2d(program):
    """The lowering above can only emit aten.convolution (emitting conv2d from conv2d's own lowering
    recurses), but the XNNPACK pt2e quantizer annotates aten.conv2d only: rename them back (same
    semantics for a plain 2-D convolution; the node keeps its shape metadata)."""
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target == aten.convolution.default:
            x, w, b, stride, padding, dilation, transposed, _, groups = node.args
            if not transposed and len(stride) == 2:
                node.target = aten.conv2d.default
                node.args = (x, w, b, stride, padding, dilation, groups)
    program.graph_module.recompile()
    return program
