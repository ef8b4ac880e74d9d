"""XNNPACK lowerings for normalizations, sums and patch (un)folding that foreign graphs carry.

ExecuTorch 1.5.1's XNNPACK partitioner has no group_norm, sum, vector norm, im2col or col2im; each
is rewritten into ops it delegates (products with constant columns, convolutions with constant
one-hot kernels), exact in fp32. Keyed by these ops, so any model using them gets the rewrite.
"""

from __future__ import annotations

import math

import torch

from edge.lowering import lowering, per_channel_affine
from edge.targets.patches import col2im_as_conv_transpose, im2col_as_conv
from edge.targets.xnnpack.lowerings import _row_mean, mean_dim__xnnpack, normal_eps

aten = torch.ops.aten
BACKEND = "xnnpack"


# aten::group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, float eps=1e-05,
#     bool cudnn_enabled=True) -> Tensor
@lowering(aten.group_norm.default, BACKEND)
def group_norm__xnnpack(x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """XNNPACK has no group norm (GroupNorm(1, C) is a LayerNorm over C, H, W in PoolFormer and
    MobileViTV2): its two means become products of the group rows with a constant 1/K column."""
    n = x.shape[0]
    rows = x.reshape(n * num_groups, -1)
    centered = rows - _row_mean(rows)
    var = _row_mean(centered * centered)
    y = (centered * torch.rsqrt(var + normal_eps(eps, x.dtype))).reshape(x.shape)
    return per_channel_affine(y, weight, bias)


# aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor
@lowering(aten.sum.dim_IntList, BACKEND)
def sum_dim__xnnpack(x, dim, keepdim=False, dtype=None):
    """XNNPACK has no sum: the mean over the same dims (delegated forms) times the element count."""
    rank = x.dim()
    dims = sorted({d % rank for d in (dim if dim else range(rank))})
    count = math.prod(x.shape[d] for d in dims)
    return mean_dim__xnnpack(x, dims, keepdim, dtype) * float(count)  # an int would become an int64 constant


# aten::linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *,
#     ScalarType? dtype=None) -> Tensor
@lowering(aten.linalg_vector_norm.default, BACKEND)
def linalg_vector_norm__xnnpack(x, ord=2, dim=None, keepdim=False, dtype=None):
    """XNNPACK has no vector norm (ConvNeXt-V2's GRN takes one over H, W): the 2-norm as the square
    root of a sum of squares; other orders are left as they are."""
    if ord != 2:
        return NotImplemented
    return torch.sqrt(sum_dim__xnnpack(x * x, dim, keepdim, dtype))


# aten::im2col(Tensor self, int[2] kernel_size, int[2] dilation, int[2] padding, int[2] stride) -> Tensor
@lowering(aten.im2col.default, BACKEND)
def im2col__xnnpack(x, kernel_size, dilation, padding, stride):
    """XNNPACK has no im2col (F.unfold, MobileViTV2's patch unfolding): a grouped convolution with a
    constant one-hot kernel gathers the same taps, for any stride, padding and dilation."""
    return im2col_as_conv(x, kernel_size, dilation, padding, stride)


# aten::col2im(Tensor self, SymInt[2] output_size, int[2] kernel_size, int[2] dilation, int[2] padding,
#     int[2] stride) -> Tensor
@lowering(aten.col2im.default, BACKEND)
def col2im__xnnpack(x, output_size, kernel_size, dilation, padding, stride):
    """XNNPACK has no col2im (F.fold, MobileViTV2's patch folding): a grouped transposed convolution
    with the one-hot kernel puts each tap back and sums overlaps, as fold does."""
    return col2im_as_conv_transpose(x, output_size, kernel_size, dilation, padding, stride)


def _max_over(x: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over dim d as XNNPACK's arg-max pooling runs it: on a (1, A, S[d], B) view, keepdim, over dim 2.
    The indices along d are those of the original tensor; both come back with d kept (size 1)."""
    s = x.shape
    rows = x.reshape(1, math.prod(s[:d]), s[d], math.prod(s[d + 1 :]))
    values, indices = torch.max(rows, 2, keepdim=True)
    kept = (*s[:d], 1, *s[d + 1 :])
    return values.reshape(kept), indices.reshape(kept)


# aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)
@lowering(aten.max.dim, BACKEND)
def max_dim__xnnpack(x, dim, keepdim=False):
    """ExecuTorch 1.5.1's partitioner takes any 4-D max.dim, then its XNNPACK converter fails on all but
    keepdim=True over dim 2 or 3 (Hiera's mask-unit pooling: 'amax.default only supports keep_dim'), and
    other ranks stay outside the delegate: every max.dim becomes that one form around reshapes."""
    d = dim % x.dim()
    if x.dim() == 4 and d in (2, 3) and keepdim:
        return NotImplemented
    values, indices = _max_over(x, d)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return values, indices


# aten::amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor
@lowering(aten.amax.default, BACKEND)
def amax__xnnpack(x, dim=(), keepdim=False):
    """XNNPACK's partitioner has no amax: a max.dim (the form above) per reduced dim."""
    rank = x.dim()
    dims = sorted({d % rank for d in (dim if dim else range(rank))})
    y = x
    for d in dims:
        y = _max_over(y, d)[0]
    return y if keepdim else y.reshape([s for i, s in enumerate(x.shape) if i not in dims])


# aten::adaptive_avg_pool1d(Tensor self, int[1] output_size) -> Tensor
@lowering(aten.adaptive_avg_pool1d.default, BACKEND)
def adaptive_avg_pool1d__xnnpack(x, output_size):
    """XNNPACK has no 1-D pooling (`nn.AdaptiveAvgPool1d(1)` over tokens is the head of Swin, FocalNet,
    Hiera): when the length divides into the output bins, the mean of each bin (the delegated mean)."""
    (bins,) = output_size
    length = x.shape[-1]
    if length % bins:
        return NotImplemented  # uneven bins overlap; left as it is
    grouped = x.reshape(*x.shape[:-1], bins, length // bins)
    return mean_dim__xnnpack(grouped, [-1], False)


# aten::avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, bool ceil_mode=False,
#     bool count_include_pad=True, int? divisor_override=None) -> Tensor
@lowering(aten.avg_pool2d.default, BACKEND)
def avg_pool2d__xnnpack(
    x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """XNNPACK refuses ceil_mode. Without padding, ceil mode changes nothing where the windows tile the map,
    and a window at least as large as the map averages all of it (EfficientNet's head: a 1280-wide kernel
    on a 7x7 map): both are plain pools. Windows cut off at the edge are left as they are."""
    if not ceil_mode or divisor_override is not None or any(_pair(padding)):
        return NotImplemented
    kernel, step = _pair(kernel_size), _pair(stride or kernel_size)
    plain_kernel, plain_step = [], []
    for size, k, s in zip(x.shape[-2:], kernel, step):
        if k >= size:  # one window, clipped to the map
            k = s = size
        elif (size - k) % s:  # a window cut off at the edge: ceil mode differs from a plain pool
            return NotImplemented
        plain_kernel.append(k)  # else the windows tile the map: floor and ceil agree
        plain_step.append(s)
    return torch.nn.functional.avg_pool2d(x, plain_kernel, plain_step)


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return (value[0], value[0]) if len(value) == 1 else (value[0], value[1])
