"""XNNPACK lowerings for ops whose result depends on which dim is innermost in memory.

The delegate keeps 4-D tensors channels-last after a convolution and converts back only where an op
needs NCHW. ExecuTorch 1.5.1 delegates softmax over the last logical dim of such a tensor without that
conversion, so it normalizes along the wrong memory axis (transformers' MobileViTV2: a softmax over
patches right after a 1x1 conv and a channel split came out at cosine 0.85). On rows of a 2-D view the
innermost dim is the logical one whatever the producer's layout: the view makes the delegate restore NCHW.
"""

from __future__ import annotations

import torch

from edge.lowering import lowering

aten = torch.ops.aten
BACKEND = "xnnpack"


def softmax_on_rows(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Softmax along `dim`, on a 2-D (rows, dim) view of a 4-D (or higher) tensor."""
    rank = x.dim()
    dim = dim % rank if rank else 0
    if rank <= 3:  # only 4-D tensors are ever held channels-last by the delegate
        return aten._softmax.default(x, dim, False)
    moved = x if dim == rank - 1 else x.movedim(dim, -1)
    rows = aten._softmax.default(moved.reshape(-1, moved.shape[-1]), 1, False).reshape(moved.shape)
    return rows if dim == rank - 1 else rows.movedim(-1, dim)


# aten::softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor
@lowering(aten.softmax.int, BACKEND)
def softmax__xnnpack(x, dim, dtype=None):
    """XNNPACK's softmax runs along the innermost memory dim; after a conv the delegate holds 4-D
    tensors channels-last and ExecuTorch 1.5.1 inserts no conversion, so softmax runs on 2-D rows."""
    if dtype is not None:
        x = x.to(dtype)
    return softmax_on_rows(x, dim)
