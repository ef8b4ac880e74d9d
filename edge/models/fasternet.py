"""FasterNet (Chen et al., CVPR 2023, "Run, Don't Walk"), configured as in the authors' repo.

Conv 4x4/4 stem + BN; four stages of FasterNet blocks (PConv on C/4 channels, then a 1x1
conv -> BN -> act -> 1x1 conv MLP with ratio 2, residual), 2x2/2 patch merging + BN between
stages; head: global pool, 1x1 conv to 1280, act, linear. GELU for T0/T1, ReLU for T2.

Measured here (1000 classes, 224 px): t0 3,905,500 params / 0.335 GMACs, t1 7,595,368 / 0.851,
t2 14,982,888 / 1.904 — the reference counts.
"""

from __future__ import annotations

import torch
from torch import nn

from edge.models.layers import ConvNormAct, PartialConv, fuse_all
from edge.models.registry import ModelConfig, register_model


class FasterNetBlock(nn.Module):
    def __init__(self, dim: int, act: type[nn.Module], mlp_ratio: float = 2.0, n_div: int = 4):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.spatial_mixing = PartialConv(dim, n_div)
        self.mlp = nn.Sequential(ConvNormAct(dim, hidden, 1, act=act), nn.Conv2d(hidden, dim, 1, bias=False))

    def forward(self, x):
        return x + self.mlp(self.spatial_mixing(x))


class FasterNet(nn.Module):
    def __init__(
        self, embed_dim: int, act: type[nn.Module], config: ModelConfig, depths=(1, 2, 8, 2), feature_dim: int = 1280
    ):
        super().__init__()
        self.config = config
        self.stem = ConvNormAct(3, embed_dim, 4, 4, act=None, padding=0)
        stages: list[nn.Module] = []
        dim = embed_dim
        for i, depth in enumerate(depths):
            if i > 0:  # patch merging: 2x2 stride-2 conv doubles the width
                stages.append(ConvNormAct(dim, dim * 2, 2, 2, act=None, padding=0))
                dim *= 2
            stages.append(nn.Sequential(*[FasterNetBlock(dim, act) for _ in range(depth)]))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_conv = nn.Conv2d(dim, feature_dim, 1, bias=False)
        self.head_act = act()
        self.classifier = nn.Linear(feature_dim, config.num_classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.classifier(torch.flatten(self.head_act(self.head_conv(x)), 1))

    def reparameterize(self) -> FasterNet:
        return fuse_all(self)


def _build(name: str, embed_dim: int, act, num_classes: int, input_size: int | None, **kwargs) -> FasterNet:
    if kwargs:
        raise TypeError(f"{name} got unexpected options: {', '.join(sorted(kwargs))}.")
    size = input_size or 224
    if size % 32:
        raise ValueError(f"{name} needs an input size divisible by 32 (total stride). Got {size}.")
    return FasterNet(
        embed_dim,
        act,
        ModelConfig(
            name=name,
            family="fasternet",
            input_size=size,
            num_classes=num_classes,
            interpolation="bicubic",
            crop_pct=0.9,
        ),
    )


@register_model
def fasternet_t0(num_classes: int = 1000, input_size: int | None = None, **kwargs):
    return _build("fasternet_t0", 40, nn.GELU, num_classes, input_size, **kwargs)


@register_model
def fasternet_t1(num_classes: int = 1000, input_size: int | None = None, **kwargs):
    return _build("fasternet_t1", 64, nn.GELU, num_classes, input_size, **kwargs)


@register_model
def fasternet_t2(num_classes: int = 1000, input_size: int | None = None, **kwargs):
    return _build("fasternet_t2", 96, nn.ReLU, num_classes, input_size, **kwargs)
