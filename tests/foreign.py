"""Hand-written models in styles users bring, built only from torch.nn (no zoo code)."""

import torch
from torch import nn


class TinyViT(nn.Module):
    """A small ViT on nn.MultiheadAttention: conv patch embedding, 2 pre-norm layers, mean pool."""

    def __init__(self, num_classes: int = 10, dim: int = 64, heads: int = 4, patch: int = 8, depth: int = 2):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.layers = nn.ModuleList(
            nn.ModuleDict(
                {
                    "norm1": nn.LayerNorm(dim),
                    "attn": nn.MultiheadAttention(dim, heads, batch_first=True),
                    "norm2": nn.LayerNorm(dim),
                    "mlp": nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)),
                }
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        for layer in self.layers:
            y = layer["norm1"](x)
            x = x + layer["attn"](y, y, y, need_weights=False)[0]
            x = x + layer["mlp"](layer["norm2"](x))
        return self.head(self.norm(x).mean(1))


class DataDependentGate(nn.Module):
    """Branches on a tensor's value: torch.export cannot capture this."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        if y.mean() > 0:  # data-dependent control flow
            return y.relu()
        return -y


class GatedNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(DataDependentGate())
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def tiny_vit(num_classes: int = 10, input_size: int | None = None):
    return TinyViT(num_classes)


def gated_net(num_classes: int = 10, input_size: int | None = None):
    return GatedNet(num_classes)


class SDPABlock(nn.Module):
    """timm-style attention: fused qkv linear, reshape/permute, F.scaled_dot_product_attention."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return x + self.proj(y.transpose(1, 2).reshape(b, n, c))


class ManualAttentionBlock(SDPABlock):
    """Attention written out: 4-D broadcast matmuls, scale multiply, softmax."""

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        y = attn.softmax(dim=-1) @ v
        return x + self.proj(y.transpose(1, 2).reshape(b, n, c))


class UnfoldViT(nn.Module):
    """MobileViT-style: conv, unfold into 2x2 patches with 6-D reshape/permute, attention, fold."""

    def __init__(self, num_classes=10, dim=32, attention=SDPABlock):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, 2, 1), nn.BatchNorm2d(dim), nn.SiLU())
        self.block = attention(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.stem(x)
        b, c, h, w = x.shape
        t = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 2, 4, 1).reshape(b * 4, -1, c)
        t = self.block(t)
        x = t.reshape(b, 2, 2, h // 2, w // 2, c).permute(0, 5, 3, 1, 4, 2).reshape(b, c, h, w)
        return self.head(x.mean((2, 3)))


class ShiftedWindowAttention(nn.Module):
    """Swin-style: tokens in 4x4 windows of a cyclically shifted map, attention inside each window with an
    additive mask the forward builds from torch.zeros, slice assignments, .contiguous() and masked_fill
    (the mask is a constant the exporter must fold, or it runs outside the delegate)."""

    def __init__(self, num_classes=10, dim=32, heads=4, window=4):
        super().__init__()
        self.heads, self.window = heads, window
        self.stem = nn.Conv2d(3, dim, 3, 2, 1)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.head = nn.Linear(dim, num_classes)

    def mask(self, h: int, w: int) -> torch.Tensor:
        ws, shift = self.window, self.window // 2
        marks = torch.zeros((1, h, w, 1))
        count = 0
        for rows in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            for cols in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
                marks[:, rows, cols, :] = count
                count += 1
        windows = marks.view(1, h // ws, ws, w // ws, ws, 1).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws * ws)
        mask = windows.unsqueeze(1) - windows.unsqueeze(2)
        return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)
        b, h, w, c = x.shape
        ws, d = self.window, c // self.heads
        x = torch.roll(x, shifts=(-ws // 2, -ws // 2), dims=(1, 2))
        t = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        q, k, v = self.qkv(t).reshape(t.shape[0], ws * ws, 3, self.heads, d).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1)) * d**-0.5 + self.mask(h, w).unsqueeze(1).repeat(b, 1, 1, 1)
        y = (attn.softmax(-1) @ v).transpose(1, 2).reshape(t.shape)
        return self.head(y.mean(1).view(b, -1, c).mean(1))


class SplitCatPConv(nn.Module):
    def __init__(self, dim=32, n_div=4):
        super().__init__()
        self.cp = dim // n_div
        self.conv = nn.Conv2d(self.cp, self.cp, 3, 1, 1, bias=False)

    def forward(self, x):
        a, b = torch.split(x, [self.cp, x.shape[1] - self.cp], dim=1)
        return torch.cat((self.conv(a), b), 1)


class InplacePConv(SplitCatPConv):
    """FasterNet's 'slicing' inference form: clone, then overwrite the first channels in place."""

    def forward(self, x):
        x = x.clone()
        x[:, : self.cp, :, :] = self.conv(x[:, : self.cp, :, :])
        return x


class PConvNet(nn.Module):
    def __init__(self, num_classes=10, dim=32, pconv=SplitCatPConv):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(pconv(dim), nn.Conv2d(dim, 2 * dim, 1), nn.GELU(), nn.Conv2d(2 * dim, dim, 1))
                for _ in range(2)
            ]
        )
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = x + block(x)
        return self.head(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


FOREIGN_STYLES = {
    "mha_vit": lambda: TinyViT(),
    "sdpa_unfold": lambda: UnfoldViT(attention=SDPABlock),
    "manual_attention_unfold": lambda: UnfoldViT(attention=ManualAttentionBlock),
    "shifted_window_mask": lambda: ShiftedWindowAttention(),
    "split_cat_pconv": lambda: PConvNet(pconv=SplitCatPConv),
    "inplace_pconv": lambda: PConvNet(pconv=InplacePConv),
}
