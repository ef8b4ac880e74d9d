"""ONNX lowerings: in-place channel slicing (FasterNet's "slicing" PConv written by users) exports
as ScatterND fed by index tensors built at run time; a Concat of slices says the same in one node.
SDPA is written out as the matmuls opset 18 would get anyway, before torch.onnx sees it."""

from __future__ import annotations

import torch

from edge.lowering import lowering
from edge.targets.xnnpack.lowerings import (
    clone__xnnpack,
    copy__xnnpack,
    scaled_dot_product_attention__xnnpack,
    slice_scatter__xnnpack,
)

aten = torch.ops.aten
BACKEND = "onnx"


@lowering(aten.slice_scatter.default, BACKEND)
def slice_scatter__onnx(x, src, dim=0, start=None, end=None, step=1):
    """torch.onnx turns slice_scatter into ScatterND plus Range/Reshape/Expand index plumbing."""
    return slice_scatter__xnnpack(x, src, dim, start, end, step)


@lowering(aten.copy.default, BACKEND)
def copy__onnx(x, src, non_blocking=False):
    """A functionalized in-place write leaves copy(), exported as Expand/Cast; its value is just src."""
    return copy__xnnpack(x, src, non_blocking)


@lowering(aten.clone.default, BACKEND)
def clone__onnx(x, memory_format=None):
    """The clone before in-place slicing exports as an Identity copy that no longer has a purpose."""
    return clone__xnnpack(x, memory_format)


@lowering(aten.scaled_dot_product_attention.default, BACKEND)
def scaled_dot_product_attention__onnx(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """torch.onnx's type-promotion pass re-runs SDPA with a contiguous output where the export recorded
    the query's layout, so a view after it (Swin's `transpose(1, 2).reshape`) can no longer be formed."""
    return scaled_dot_product_attention__xnnpack(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
