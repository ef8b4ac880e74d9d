"""LiteRT's lowerings: what its default CPU delegate (XNNPACK) runs badly as the converter writes it."""

from __future__ import annotations

import torch

from edge.lowering import finisher, lowering
from edge.targets.constant_folding import fold_constants
from edge.targets.depthwise_strips import conv2d_in_strips
from edge.targets.patches import col2im_as_conv_transpose, col2im_as_reshuffle, im2col_as_conv, tiles_without_overlap

aten = torch.ops.aten


# aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=1, SymInt[2] padding=0,
#     SymInt[2] dilation=1, SymInt groups=1) -> Tensor
@lowering(aten.conv2d.default, "litert")
def conv2d__litert(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """LiteRT's XNNPACK delegate runs a depthwise conv above 25 taps (7x7) as a slow grouped GEMM: split
    it into strips."""
    return conv2d_in_strips(x, weight, bias, stride, padding, dilation, groups)


# aten::im2col(Tensor self, int[2] kernel_size, int[2] dilation, int[2] padding, int[2] stride) -> Tensor
@lowering(aten.im2col.default, "litert")
def im2col__litert(x, kernel_size, dilation, padding, stride):
    """litert-torch writes F.unfold as gathers; a grouped convolution with a one-hot kernel is one
    depthwise conv that XNNPACK runs."""
    return im2col_as_conv(x, kernel_size, dilation, padding, stride)


# aten::col2im(Tensor self, SymInt[2] output_size, int[2] kernel_size, int[2] dilation, int[2] padding,
#     int[2] stride) -> Tensor
@lowering(aten.col2im.default, "litert")
def col2im__litert(x, output_size, kernel_size, dilation, padding, stride):
    """litert-torch writes F.fold as a STABLEHLO_SCATTER that ai-edge-litert 2.3 cannot prepare: tiling
    patches are a reshuffle, overlapping ones a grouped transposed conv with a one-hot kernel (which the
    converter splits per group)."""
    if tiles_without_overlap(output_size, kernel_size, dilation, padding, stride):
        return col2im_as_reshuffle(x, output_size, kernel_size)
    return col2im_as_conv_transpose(x, output_size, kernel_size, dilation, padding, stride)


@finisher("litert")
def fold_constants__litert(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """Kernels lowerings build from constants (a one-hot `torch.eye`) folded: traced, they become
    STABLEHLO_IOTA, which the LiteRT runtime does not have. Needs executorch's constant propagation;
    without it (a LiteRT-only install) the program is left as it is."""
    try:
        import executorch  # noqa: F401
    except ImportError:
        return program
    program = fold_constants(program)
    # litert-torch serializes a constant's storage as it lies: a folded slice or permute must be dense
    for table in (program.state_dict, program.constants):
        for name, tensor in table.items():
            if isinstance(tensor, torch.Tensor) and not tensor.is_contiguous():
                table[name] = tensor.contiguous()
    return program
