"""Default lowerings of the custom ops: what every backend gets unless it registers its own.

Both formulations use only rank <= 4 tensors, 3-D batched matmuls and no masking ops, which
every converter here (executorch, litert-torch, coremltools, torch.onnx) takes as is.
"""

from __future__ import annotations

import math

import torch

from edge.lowering import lowering

edge_ops = torch.ops.edge


# edge::local_attention(Tensor q, Tensor k, Tensor v, float? scale) -> Tensor
@lowering(edge_ops.local_attention.default)
def local_attention__default(q, k, v, scale=None):
    """Converters have no custom op: explicit 3-D bmm + softmax, no 4-D broadcast matmul, no masks."""
    g, h, n, d = q.shape
    m, dv = k.shape[2], v.shape[3]
    s = scale if scale is not None else 1.0 / math.sqrt(d)
    q3 = q.reshape(g * h, n, d)
    if s != 1.0:  # the zoo folds the scale into the q projection: no multiply left to do
        q3 = q3 * s
    logits = torch.bmm(q3, k.reshape(g * h, m, d).transpose(1, 2))
    out = torch.bmm(torch.softmax(logits, dim=-1), v.reshape(g * h, m, dv))
    return out.reshape(g, h, n, dv)


# edge::partial_conv(Tensor x, Tensor weight) -> Tensor
@lowering(edge_ops.partial_conv.default)
def partial_conv__default(x, weight):
    """Converters have no custom op: two slices, a conv on the first, a concat (no split op)."""
    cp = weight.shape[0]
    pad = weight.shape[-1] // 2
    head = torch.nn.functional.conv2d(x[:, :cp], weight, padding=pad)
    return torch.cat((head, x[:, cp:]), dim=1)
