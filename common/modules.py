"""Facts about a user's nn.Module for messages and reports: where its forward failed, its size."""

from __future__ import annotations

import traceback

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def failing_submodule(model: nn.Module, exc: BaseException) -> str:
    """The deepest submodule of `model` whose forward is on the failing stack, with file:line."""
    names = {id(m): n for n, m in model.named_modules()}
    found = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        owner = frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and id(owner) in names:
            found = (
                names[id(owner)] or "the model's top level",
                type(owner).__name__,
                f"{frame.f_code.co_filename}:{tb.tb_lineno}",
            )
        tb = tb.tb_next
    if found is None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename]
        return f"{type(model).__name__} ({frames[-1].filename}:{frames[-1].lineno})" if frames else type(model).__name__
    name, cls, loc = found
    return f"module '{name}' ({cls}, {loc})"


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int, in_chans: int = 3, leave_out: tuple = ()) -> int:
    """MACs per image: FlopCounterMode's FLOPs (convs, matmuls, custom ops with a formula) halved,
    without those of the ops in `leave_out`."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_chans, input_size, input_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    counts = counter.get_flop_counts().get("Global", {})
    return (counter.get_total_flops() - sum(counts.get(op, 0) for op in leave_out)) // 2
