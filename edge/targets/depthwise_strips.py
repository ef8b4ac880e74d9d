"""Depthwise convolutions with more than 25 taps (7x7, as in iFormer and ConvNeXt-style blocks), for
the backends whose CPU kernels are XNNPACK's: ExecuTorch's delegate and LiteRT's default delegate.

XNNPACK has single-pass depthwise kernels up to 25 taps; a bigger depthwise conv falls back to its
grouped IGEMM path, ~5x slower for a 7x7 at 56x56x64 (ExecuTorch, ETDump: 7.4 ms against 1.4 ms,
fp32; the same in int8. LiteRT 2.3, one conv timed alone: 5.85 ms against 1.33 ms). Splitting the
kernel into column strips of at most 25 taps, each a depthwise conv whose output columns are shifted
by a slice, and summing them is exactly the same convolution. The strips' weights are slices of the
parameter, folded into constants before (or by) the converter, so the delegate sees static weights.
"""

from __future__ import annotations

import torch

aten = torch.ops.aten
MAX_TAPS = 25  # XNNPACK's largest single-pass depthwise kernel (5x5)


def is_large_depthwise(x, weight, stride, padding, dilation, groups) -> bool:
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


def conv2d_in_strips(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """aten.conv2d's arguments; a large depthwise conv comes back as strips, any other conv unchanged
    (as aten.convolution: emitting conv2d from conv2d's own lowering would recurse)."""
    stride, padding, dilation = (list(v) * 2 if len(v) == 1 else list(v) for v in (stride, padding, dilation))
    if not is_large_depthwise(x, weight, stride, padding, dilation, groups):
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
