"""MobileViT v1 (Mehta & Rastegari, ICLR 2022), configured as in ml-cvnets.

MobileNetV2 blocks for the early stages; in stages 3-5 a MobileViT block: local 3x3 conv,
1x1 projection to the transformer width, pre-LN transformer layers over "patch-grid" groups
(2x2 patches: the pixels at the same offset inside every patch attend to each other), 1x1
projection back, and a 3x3 fusion conv over [input, output]. SiLU everywhere, 4 heads.

Measured here (1000 classes, 256 px): xxs 1,272,024 params / 0.329 GMACs,
xs 2,317,848 / 0.909, s 5,578,632 / 1.823 — the reference counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edge.models.layers import ConvNormAct, attention, fold_norm_affine, fuse_all
from edge.models.registry import ModelConfig, register_model


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, in_chs: int, out_chs: int, stride: int, expansion: float):
        super().__init__()
        mid = int(round(in_chs * expansion))
        self.use_residual = stride == 1 and in_chs == out_chs
        self.expand = ConvNormAct(in_chs, mid, 1)
        self.depthwise = ConvNormAct(mid, mid, 3, stride, groups=mid)
        self.project = ConvNormAct(mid, out_chs, 1, act=None)

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.use_residual else y


class MultiHeadSelfAttention(nn.Module):
    """Fused qkv projection for training and weight loading; `fuse()` splits it into q, k, v
    projections (the attention scale folded into q) so the deployed graph has no rank-5 tensor
    and no slicing of the fused output. `scale` is an attribute so that it survives pruning of
    the head dims (the trained model's scale, not one recomputed from a pruned head_dim)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.split: nn.ModuleList | None = None

    def forward(self, x):  # x: (groups, tokens, dim)
        g, n, c = x.shape
        h = self.num_heads
        if self.split is not None:
            q, k, v = (lin(x).reshape(g, n, h, c // h).permute(0, 2, 1, 3) for lin in self.split)
            out = attention(q, k, v, 1.0)
        else:
            qkv = self.qkv(x).reshape(g, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
            out = attention(qkv[0], qkv[1], qkv[2], self.scale)
        return self.proj(out.transpose(1, 2).reshape(g, n, c))

    @torch.no_grad()
    def fuse(self) -> None:
        if self.split is not None:
            return
        dim = self.proj.in_features
        parts = [nn.Linear(dim, dim).to(self.qkv.weight.dtype) for _ in range(3)]
        for i, lin in enumerate(parts):
            factor = self.scale if i == 0 else 1.0
            lin.weight.copy_(self.qkv.weight[i * dim : (i + 1) * dim] * factor)
            lin.bias.copy_(self.qkv.bias[i * dim : (i + 1) * dim] * factor)
        self.split = nn.ModuleList(parts)
        del self.qkv


class TransformerLayer(nn.Module):
    """Pre-norm transformer layer: LN + MHSA, LN + FFN (SiLU)."""

    def __init__(self, dim: int, ffn_dim: int, num_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.SiLU(), nn.Linear(ffn_dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))

    def fuse(self) -> None:
        self.attn.fuse()
        assert self.attn.split is not None  # fuse() made it
        fold_norm_affine(self.norm1, list(self.attn.split))
        fold_norm_affine(self.norm2, [self.ffn[0]])


def unfold_patch_grid(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (p*B*p, H*W/p^2, C): one group per offset inside a p x p patch (and image).

    Written with rank <= 4 tensors only: TFLite's GPU delegate and Core ML reject higher ranks.
    Channels-last first, so that each later permute moves whole runs of C values: backends that keep
    feature maps NHWC (XNNPACK, TFLite) cancel the first permute against their own layout change,
    and no permute has a tiny innermost dim (ETDump on MobileViT-XXS: transposes 0.34 -> 0.22 ms
    fp32, 0.32 -> 0.16 ms int8). Groups are ordered (pi, B, pj); attention treats each group alone.
    """
    b, c, h, w = x.shape
    hp, wp = h // p, w // p
    x = x.permute(0, 2, 3, 1).reshape(b * hp, p, wp, p * c)  # (B h', pi, w', pj C)
    x = x.permute(1, 0, 2, 3).reshape(p * b, hp * wp, p, c)  # (pi B, N, pj, C)
    return x.permute(0, 2, 1, 3).reshape(p * b * p, hp * wp, c)  # (pi B pj, N, C)


def fold_patch_grid(x: torch.Tensor, batch: int, height: int, width: int, p: int) -> torch.Tensor:
    """Inverse of `unfold_patch_grid`, also rank <= 4 throughout."""
    c = x.shape[-1]
    hp, wp = height // p, width // p
    x = x.reshape(p * batch, p, hp * wp, c).permute(0, 2, 1, 3)  # (pi B, N, pj, C)
    x = x.reshape(p, batch * hp, wp, p * c).permute(1, 0, 2, 3)  # (B h', pi, w', pj C)
    return x.reshape(batch, height, width, c).permute(0, 3, 1, 2)


class MobileViTBlock(nn.Module):
    def __init__(self, chs: int, dim: int, ffn_dim: int, depth: int, num_heads: int = 4, patch: int = 2):
        super().__init__()
        self.patch = patch
        self.local = ConvNormAct(chs, chs, 3)
        self.to_tokens = nn.Conv2d(chs, dim, 1, bias=False)
        self.transformer = nn.Sequential(*[TransformerLayer(dim, ffn_dim, num_heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.from_tokens = ConvNormAct(dim, chs, 1)
        self.fusion = ConvNormAct(2 * chs, chs, 3)

    def forward(self, x):
        b, _, h, w = x.shape
        y = self.to_tokens(self.local(x))
        tokens = self.norm(self.transformer(unfold_patch_grid(y, self.patch)))
        y = self.from_tokens(fold_patch_grid(tokens, b, h, w, self.patch))
        return self.fusion(torch.cat((x, y), dim=1))

    def fuse(self) -> None:
        self.from_tokens.fuse()  # its BN first, so the norm folds into the final conv weights
        fold_norm_affine(self.norm, [self.from_tokens[0]])  # fold_patch_grid only moves tokens


@dataclass(frozen=True)
class MobileViTSpec:
    channels: tuple[int, int, int, int, int]  # outputs of stages 1-5
    dims: tuple[int, int, int]  # transformer widths, stages 3-5
    expansion: float
    depths: tuple[int, int, int] = (2, 4, 3)
    stem: int = 16


class MobileViT(nn.Module):
    def __init__(self, spec: MobileViTSpec, config: ModelConfig):
        super().__init__()
        self.config = config
        c1, c2, c3, c4, c5 = spec.channels
        e = spec.expansion
        self.stem = ConvNormAct(3, spec.stem, 3, 2)
        stages = [
            nn.Sequential(InvertedResidual(spec.stem, c1, 1, e)),
            nn.Sequential(
                InvertedResidual(c1, c2, 2, e), InvertedResidual(c2, c2, 1, e), InvertedResidual(c2, c2, 1, e)
            ),
        ]
        prev = c2
        for chs, dim, depth in zip((c3, c4, c5), spec.dims, spec.depths):
            stages.append(nn.Sequential(InvertedResidual(prev, chs, 2, e), MobileViTBlock(chs, dim, 2 * dim, depth)))
            prev = chs
        self.stages = nn.Sequential(*stages)
        self.head_conv = ConvNormAct(c5, min(4 * c5, 960), 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(min(4 * c5, 960), config.num_classes)

    def forward(self, x):
        x = self.head_conv(self.stages(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))

    def reparameterize(self) -> MobileViT:
        return fuse_all(self)


def _build(name: str, spec: MobileViTSpec, num_classes: int, input_size: int | None, **kwargs) -> MobileViT:
    if kwargs:
        raise TypeError(f"{name} got unexpected options: {', '.join(sorted(kwargs))}.")
    size = input_size or 256
    if size % 64:
        raise ValueError(f"{name} needs an input size divisible by 64 (2x2 patches at stride 32). Got {size}.")
    return MobileViT(
        spec,
        ModelConfig(
            name=name,
            family="mobilevit",
            input_size=size,
            num_classes=num_classes,
            mean=(0.0, 0.0, 0.0),
            std=(1.0, 1.0, 1.0),
            interpolation="bilinear",
            crop_pct=0.9,
        ),
    )


@register_model
def mobilevit_xxs(num_classes: int = 1000, input_size: int | None = None, **kwargs):
    return _build(
        "mobilevit_xxs", MobileViTSpec((16, 24, 48, 64, 80), (64, 80, 96), 2.0), num_classes, input_size, **kwargs
    )


@register_model
def mobilevit_xs(num_classes: int = 1000, input_size: int | None = None, **kwargs):
    return _build(
        "mobilevit_xs", MobileViTSpec((32, 48, 64, 80, 96), (96, 120, 144), 4.0), num_classes, input_size, **kwargs
    )


@register_model
def mobilevit_s(num_classes: int = 1000, input_size: int | None = None, **kwargs):
    return _build(
        "mobilevit_s", MobileViTSpec((32, 64, 96, 128, 160), (144, 192, 240), 4.0), num_classes, input_size, **kwargs
    )
