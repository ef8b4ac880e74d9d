"""Parameter and multiply-accumulate counts, as the zoo's table and `edge list` report them."""

from __future__ import annotations

import torch
from torch import nn

from common.modules import count_macs as _count_macs
from common.modules import count_params

__all__ = ["count_macs", "count_params"]


def count_macs(model: nn.Module, input_size: int, in_chans: int = 3, attention: bool = True) -> int:
    """MACs per image: FlopCounterMode's FLOPs (convs, matmuls, our attention op) halved.

    attention=False leaves out the q.k^T and attn.v matmuls of edge::local_attention, the way
    FlopCounterMode counts models that call PyTorch's fused SDPA (it has no formula for it):
    published figures measured that way (MobileViT's) are comparable only to that count.
    """
    return _count_macs(model, input_size, in_chans, () if attention else (torch.ops.edge.local_attention,))
