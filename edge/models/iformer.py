"""iFormer: Integrating ConvNet and Transformer for Mobile Application (Zheng, ICLR 2025).

Architecture facts follow the authors' release (nirvanesque/iFormer): the `iFormer_t/s/m`
factories in models/iformer.py and configs/iFormer_{t,s,m}.yaml, which train with
layer_scale_init_value=0 and drop_path=0 (so no layer scale and no stochastic depth here).
Eval preprocessing is the ConvNeXt recipe they build on: bicubic resize, crop_pct 224/256.

Layout (all norms are BatchNorm, so everything folds for deployment):
  stem      5x5 s2 conv -> GELU -> FusedIB (5x5 s2 conv expanding to 2*C0 -> GELU -> 1x1 to C0)
  stage1/2  ConvNeXt-style blocks (7x7 depthwise -> 1x1 expand -> GELU -> 1x1 project)
  stage3    conv blocks, then [RepCPE, SHMA, FFN] triples, then one more conv block
  stage4    [RepCPE, SHMA, FFN] triples
  head      global average pool -> BatchNorm1d -> Linear
Stages 2-4 start with a 3x3 stride-2 conv + BN.

Measured here (num_classes=1000, 224 px, edge.models.stats):
  iformer_t  2,886,456 params  0.530 GMACs
  iformer_s  6,563,368 params  1.092 GMACs
  iformer_m  8,907,424 params  1.640 GMACs
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edge.models import layers
from edge.models.layers import ConvNormAct, fuse_all
from edge.models.registry import ModelConfig, register_model
from quant.prune.config import register_unit


class ConvFFN(nn.Module):
    """Residual 1x1 expand -> GELU -> 1x1 project, optionally preceded by a depthwise conv.

    With `dw_kernel` it is iFormer's conv block (ConvNeXt with BN in place of LN); without it,
    the FFN that follows each attention layer.
    """

    def __init__(self, dim: int, ratio: int, dw_kernel: int = 0):
        super().__init__()
        hidden = dim * ratio
        mix = [ConvNormAct(dim, dim, dw_kernel, groups=dim, act=None)] if dw_kernel else []
        mix += [ConvNormAct(dim, hidden, 1, act=nn.GELU), ConvNormAct(hidden, dim, 1, act=None)]
        self.mix = nn.Sequential(*mix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(x)


class RepCPE(nn.Module):
    """Conditional positional encoding: x + BN(dw3x3(x)); fuse() folds BN and the skip into one conv."""

    def __init__(self, dim: int, kernel: int = 3):
        super().__init__()
        self.conv = ConvNormAct(dim, dim, kernel, groups=dim, act=None)
        self.has_skip = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.has_skip else y

    @torch.no_grad()
    def fuse(self) -> None:
        self.conv.fuse()
        if self.has_skip:
            # a depthwise identity is a 1 at the kernel centre of every channel
            conv = self.conv[0]
            assert isinstance(conv, nn.Conv2d)
            c = conv.kernel_size[0] // 2
            conv.weight[:, 0, c, c] += 1.0
            self.has_skip = False


class SHMA(nn.Module):
    """Single-head modulation attention, residual included.

    q and k are squeezed to dim/reduce channels (one head); v and the gate come from one 1x1
    conv, both passed through a sigmoid. The attention output is modulated by the gate
    elementwise before the output projection.
    """

    def __init__(self, dim: int, reduce: int, ratio: int = 1):
        super().__init__()
        qk_dim = dim // reduce
        self.v_dim = dim * ratio
        self.scale = qk_dim**-0.5
        self.q = ConvNormAct(dim, qk_dim, 1, act=None)
        self.k = ConvNormAct(dim, qk_dim, 1, act=None)
        self.v_gate = ConvNormAct(dim, 2 * self.v_dim, 1, act=nn.Sigmoid)
        self.proj = ConvNormAct(self.v_dim, dim, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        v, gate = self.v_gate(x).chunk(2, dim=1)
        # (B, C, H, W) -> (B, 1 head, H*W tokens, C): the batch is the attention group
        q = self.q(x).flatten(2).transpose(1, 2).unsqueeze(1)
        k = self.k(x).flatten(2).transpose(1, 2).unsqueeze(1)
        v = v.flatten(2).transpose(1, 2).unsqueeze(1)
        out = layers.attention(q, k, v, self.scale)
        out = out.squeeze(1).transpose(1, 2).reshape(b, self.v_dim, h, w)
        return x + self.proj(out * gate)


class ClassifierHead(nn.Module):
    """BatchNorm1d then Linear on pooled features; fuse() folds the BN into the Linear."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.norm: nn.Module = nn.BatchNorm1d(dim)  # nn.Identity once fused
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(x))

    @torch.no_grad()
    def fuse(self) -> None:
        bn = self.norm
        if not isinstance(bn, nn.BatchNorm1d) or bn.running_var is None or bn.running_mean is None:
            return
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        # fc(bn(x)) = W (x*scale + shift) + b: scale W's input columns, push the shift into b
        self.fc.bias.add_(self.fc.weight @ shift)
        self.fc.weight.mul_(scale[None, :])
        self.norm = nn.Identity()


def _attention_triple(dim: int, reduce: int, ffn_ratio: int) -> list[nn.Module]:
    return [RepCPE(dim), SHMA(dim, reduce), ConvFFN(dim, ffn_ratio)]


class IFormer(nn.Module):
    config: ModelConfig

    def __init__(
        self,
        dims: tuple[int, int, int, int],
        conv_ratio: int,
        ffn_ratio: int,
        stage3_convs: int,
        stage3_attn: int,
        stage4_attn: int = 2,
        early_depth: int = 2,
        num_classes: int = 1000,
        in_chans: int = 3,
    ):
        super().__init__()
        d0 = dims[0]
        # FusedIB stem: two stride-2 5x5 convs take the input to 1/4 resolution
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, d0 // 2, 5, stride=2, act=nn.GELU),
            ConvNormAct(d0 // 2, d0 * 2, 5, stride=2, act=nn.GELU),
            ConvNormAct(d0 * 2, d0, 1, act=None),
        )

        def conv_block(dim: int) -> nn.Module:
            return ConvFFN(dim, conv_ratio, dw_kernel=7)

        blocks: list[list[nn.Module]] = [
            [conv_block(dims[0]) for _ in range(early_depth)],
            [conv_block(dims[1]) for _ in range(early_depth)],
            [conv_block(dims[2]) for _ in range(stage3_convs)]
            + [m for _ in range(stage3_attn) for m in _attention_triple(dims[2], 2, ffn_ratio)]
            + [conv_block(dims[2])],
            [m for _ in range(stage4_attn) for m in _attention_triple(dims[3], 4, ffn_ratio)],
        ]
        stages = []
        for i, stage_blocks in enumerate(blocks):
            down = [ConvNormAct(dims[i - 1], dims[i], 3, stride=2, act=None)] if i else []
            stages.append(nn.Sequential(*down, *stage_blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(dims[3], num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).mean(dim=(2, 3)))

    def reparameterize(self) -> IFormer:
        """Fold every BN (conv BNs, the head's BN1d) and the RepCPE skips, in place."""
        return fuse_all(self)


_SPECS: dict[str, dict[str, Any]] = {
    "iformer_t": dict(dims=(32, 64, 128, 256), conv_ratio=3, ffn_ratio=2, stage3_convs=6, stage3_attn=3),
    "iformer_s": dict(dims=(32, 64, 176, 320), conv_ratio=4, ffn_ratio=3, stage3_convs=9, stage3_attn=3),
    "iformer_m": dict(dims=(48, 96, 192, 384), conv_ratio=4, ffn_ratio=3, stage3_convs=9, stage3_attn=4),
}


def _build(name: str, num_classes: int, input_size: int | None, **kwargs) -> IFormer:
    model = IFormer(num_classes=num_classes, **_SPECS[name], **kwargs)
    model.config = ModelConfig(
        name=name,
        family="iformer",
        input_size=input_size or 224,
        num_classes=num_classes,
        interpolation="bicubic",
        crop_pct=0.875,
    )
    return model


@register_model
def iformer_t(num_classes: int = 1000, input_size: int | None = None, **kwargs) -> nn.Module:
    return _build("iformer_t", num_classes, input_size, **kwargs)


@register_model
def iformer_s(num_classes: int = 1000, input_size: int | None = None, **kwargs) -> nn.Module:
    return _build("iformer_s", num_classes, input_size, **kwargs)


@register_model
def iformer_m(num_classes: int = 1000, input_size: int | None = None, **kwargs) -> nn.Module:
    return _build("iformer_m", num_classes, input_size, **kwargs)


# Torch-Pruning prunes it as one block (quant/prune/units.py)
register_unit(SHMA, "single_head_gated_attention")
