"""Parameter and multiply-accumulate counts, as the zoo's table and `edge list` report them."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int, in_chans: int = 3) -> int:
    """MACs per image: FlopCounterMode's FLOPs (matmuls and convs) halved."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_chans, input_size, input_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2
