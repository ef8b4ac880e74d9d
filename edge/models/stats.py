"""Parameter and multiply-accumulate counts, as the zoo's table and `edge list` report them."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int, in_chans: int = 3, attention: bool = True) -> int:
    """MACs per image: FlopCounterMode's FLOPs (convs, matmuls, our attention op) halved.

    attention=False leaves out the q.k^T and attn.v matmuls of edge::local_attention, the way
    FlopCounterMode counts models that call PyTorch's fused SDPA (it has no formula for it):
    published figures measured that way (MobileViT's) are comparable only to that count.
    """
    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_chans, input_size, input_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    total = counter.get_total_flops()
    if not attention:
        total -= sum(counter.get_flop_counts().get("Global", {}).get(op, 0)
                     for op in (torch.ops.edge.local_attention,))
    return total // 2
