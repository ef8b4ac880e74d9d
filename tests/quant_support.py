"""Helpers for the quantization tests."""

import torch

import edge
from quant.calibration import load_calibration


def input_dependent(name: str, input_size: int) -> torch.nn.Module:
    """A zoo model whose output depends on its input. Random weights shrink the activations layer by
    layer, so the logits are almost constant (the head bias) and any cosine to them is close to 1;
    BN statistics re-estimated on photo crops and a zero head bias fix that."""
    torch.manual_seed(0)
    model = edge.models.create(name, input_size=input_size)
    crops = torch.cat(load_calibration(None, model.config, 3, 8, seed=3).inputs)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(crops)
        [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].bias.zero_()
    return model.eval()


def held_out_photos(model, n: int = 4) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Photo crops unlike the calibration ones, and the eager logits on them (which must differ)."""
    photos = load_calibration(None, model.config, 3, n, seed=11).inputs
    with torch.no_grad():
        eager = torch.cat([model(x) for x in photos])
    assert eager.std(0).mean() > 0.5 * eager.std(), "the logits barely depend on the input"
    return photos, eager
