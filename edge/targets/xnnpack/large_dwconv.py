"""Depthwise convolutions with more than 25 taps (7x7, as in iFormer and ConvNeXt-style blocks).

XNNPACK (executorch 1.5.1) has single-pass depthwise kernels up to 25 taps; a bigger depthwise
conv falls back to its grouped IGEMM path, ~5x slower for a 7x7 at 56x56x64 (7.4 ms against
1.4 ms, ETDump, fp32; the same in int8). The lowering splits the kernel into column strips of at
most 25 taps that each run as a depthwise kernel (output columns shifted by a slice), and sums them:
exactly the same convolution. The strips' weights are slices of the parameter; apply_lowerings
folds them into constants (finish.fold_constants) so XNNPACK sees static weights.
"""

from __future__ import annotations

import torch

from edge.lowering import lowering

aten = torch.ops.aten
MAX_TAPS = 25  # XNNPACK's largest single-pass depthwise kernel (5x5)


def _is_large_depthwise(x, weight, stride, padding, dilation, groups) -> bool:
    out_c, per_group, kh, kw = weight.shape
    return (
        groups > 1
        and groups == x.shape[1] == out_c
        and per_group == 1
        and kh * kw > MAX_TAPS
        and list(stride) == [1, 1]
        and list(dilation) == [1, 1]
        and kh <= MAX_TAPS
        and list(padding) == [kh // 2, kw // 2]
        and kh % 2 == 1
        and kw % 2 == 1
    )


# aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=1, SymInt[2] padding=0,
#     SymInt[2] dilation=1, SymInt groups=1) -> Tensor
@lowering(aten.conv2d.default, "xnnpack")
def conv2d__xnnpack(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """XNNPACK runs a depthwise conv above 25 taps (7x7) as a slow grouped GEMM: split it into strips."""
    stride, padding, dilation = (list(v) * 2 if len(v) == 1 else list(v) for v in (stride, padding, dilation))
    if not _is_large_depthwise(x, weight, stride, padding, dilation, groups):
        return aten.convolution.default(x, weight, bias, stride, padding, dilation, False, [0, 0], groups)
    kh, kw = weight.shape[-2:]
    strip = max(1, MAX_TAPS // kh)  # columns per strip: 3 for a 7x7
    width = x.shape[-1]
    out = None
    for c0 in range(0, kw, strip):
        # the full padding on both sides, then the strip's columns of the output: no separate pad op
        # (XNNPACK rejects a constant pad on int8 tensors here)
        w = weight[:, :, :, c0 : c0 + strip]
        b = bias if out is None else None  # the first strip adds the bias: no separate add over the map
        part = aten.convolution.default(x, w, b, [1, 1], [kh // 2, kw // 2], [1, 1], False, [0, 0], groups)
        part = part[..., c0 : c0 + width]
        out = part if out is None else out + part
    return out


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
