"""Hand-written models in styles users bring, built only from torch.nn (no zoo code)."""
import torch
from torch import nn


class TinyViT(nn.Module):
    """A small ViT on nn.MultiheadAttention: conv patch embedding, 2 pre-norm layers, mean pool."""

    def __init__(self, num_classes: int = 10, dim: int = 64, heads: int = 4, patch: int = 8, depth: int = 2):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.layers = nn.ModuleList(nn.ModuleDict({
            "norm1": nn.LayerNorm(dim), "attn": nn.MultiheadAttention(dim, heads, batch_first=True),
            "norm2": nn.LayerNorm(dim), "mlp": nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)),
        }) for _ in range(depth))
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
