"""Patch (un)folding as convolutions with one-hot kernels, for backends without im2col/col2im kernels
(XNNPACK has neither; LiteRT's converter writes col2im as a scatter its runtime cannot prepare)."""

from __future__ import annotations

import torch


def _one_hot_patch_kernel(channels: int, kh: int, kw: int, dtype) -> torch.Tensor:
    """(C*kh*kw, 1, kh, kw): output channel c*kh*kw + j of a groups=C conv picks tap j of channel c,
    the order im2col lays its rows out in."""
    taps = kh * kw
    eye = torch.eye(taps, dtype=dtype).reshape(taps, 1, kh, kw)
    return torch.cat([eye] * channels, dim=0) if channels > 1 else eye


def im2col_as_conv(x, kernel_size, dilation, padding, stride):
    """F.unfold as a grouped convolution with a constant one-hot kernel: the same taps, for any stride,
    padding and dilation."""
    batched = x.dim() == 4
    x4 = x if batched else x.unsqueeze(0)
    n, c = x4.shape[0], x4.shape[1]
    kh, kw = kernel_size
    weight = _one_hot_patch_kernel(c, kh, kw, x.dtype)
    cols = torch.nn.functional.conv2d(
        x4, weight, stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation), groups=c
    )
    out = cols.reshape(n, c * kh * kw, -1)
    return out if batched else out.squeeze(0)


def col2im_as_conv_transpose(x, output_size, kernel_size, dilation, padding, stride):
    """F.fold as a grouped transposed convolution with the one-hot kernel: each tap put back, overlaps
    summed, as fold does."""
    batched = x.dim() == 3
    x3 = x if batched else x.unsqueeze(0)
    n, ck, _ = x3.shape
    kh, kw = kernel_size
    c = ck // (kh * kw)
    out_hw = []
    for i in range(2):
        span = dilation[i] * (kernel_size[i] - 1) + 1
        out_hw.append((output_size[i] + 2 * padding[i] - span) // stride[i] + 1)
    cols = x3.reshape(n, ck, out_hw[0], out_hw[1])
    weight = _one_hot_patch_kernel(c, kh, kw, x.dtype)
    natural = [(out_hw[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel_size[i] - 1) + 1 for i in range(2)]
    extra = tuple(output_size[i] - natural[i] for i in range(2))
    y = torch.nn.functional.conv_transpose2d(
        cols,
        weight,
        stride=tuple(stride),
        padding=tuple(padding),
        output_padding=extra,
        groups=c,
        dilation=tuple(dilation),
    )
    return y if batched else y.squeeze(0)


def tiles_without_overlap(output_size, kernel_size, dilation, padding, stride) -> bool:
    """Fold of patches that tile the output exactly (stride = kernel, no padding or dilation): a
    reshuffle of values, no sums."""
    return (
        list(stride) == list(kernel_size)
        and not any(padding)
        and list(dilation) == [1, 1]
        and all(output_size[i] % kernel_size[i] == 0 for i in range(2))
    )


def col2im_as_reshuffle(x, output_size, kernel_size):
    """F.fold of non-overlapping patches as reshapes and two rank-4 transposes (out[i*kh + a, j*kw + b]
    = cols[(c, a, b), (i, j)]), for converters that split a grouped transposed conv per group."""
    batched = x.dim() == 3
    x3 = x if batched else x.unsqueeze(0)
    n, ck, _ = x3.shape
    kh, kw = kernel_size
    c, oh, ow = ck // (kh * kw), output_size[0] // kh, output_size[1] // kw
    rows = x3.reshape(n * c * kh, kw, oh, ow).permute(0, 2, 3, 1)  # (ncA, i, j, b): j*kw + b is a column
    rows = rows.reshape(n * c, kh, oh, ow * kw).permute(0, 2, 1, 3)  # (nc, i, a, column): i*kh + a is a row
    y = rows.reshape(n, c, oh * kh, ow * kw)
    return y if batched else y.squeeze(0)
