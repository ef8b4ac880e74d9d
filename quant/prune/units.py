"""Torch-Pruning customized pruners for the blocks its autograd tracer cannot see through.

Torch-Pruning's DependencyGraph couples channels by walking the autograd graph and treats every
op it does not know as element-wise. That is wrong for attention (q.k^T contracts head dims, the
head count is a reshape constant) and for our custom ops `edge::local_attention` /
`edge::partial_conv` (PConv's conv weight is never called as a module). Each block below is
therefore registered as ONE customized layer (`tp.pruner.BasePruningFunc`): Torch-Pruning couples
its input/output channels with the rest of the network, and the pruner here removes the matching
rows and columns inside the block and updates its constants:

- PartialConv (FasterNet): the conv covers the first `dim_conv` channels; `dim_conv` and
  `dim_untouched` follow the pruned indices, and the driver keeps dim/dim_conv (n_div) fixed.
- qkv attention (MobileViT's MultiHeadSelfAttention, timm-style `qkv`/`proj` Linear modules with
  `num_heads` or `heads`): embedding and inner width are the same index space (their forward
  reshapes with `C // heads` of the input), so channel i of the embedding prunes q/k/v row i and
  proj column i too; the driver prunes the same positions in every head (heads stay equal).
- SHMA (iFormer): the residual width is the customized layer's channel space; the inner q/k
  width and the v/gate width are pruned by `prune_inner` (before the graph is built) and `v_dim`,
  the reshape constant, follows.
- nn.MultiheadAttention: Torch-Pruning's own pruner; the driver adds `num_heads` channel groups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
import torch_pruning as tp
from torch import nn

from quant.prune.config import unit_kind

# weigh(param, dim, idxs) -> one score per index: how much of `param` along `dim` each index holds
Weigh = Callable[[torch.Tensor, int, Sequence[int]], torch.Tensor]
# keep(n, chunks) -> how many of n channels to keep (a multiple of chunks and of round_to)
Keep = Callable[[int, int], int]


def _out(layer, idxs):
    (tp.prune_conv_out_channels if isinstance(layer, nn.Conv2d) else tp.prune_linear_out_channels)(layer, idxs)


def _in(layer, idxs):
    (tp.prune_conv_in_channels if isinstance(layer, nn.Conv2d) else tp.prune_linear_in_channels)(layer, idxs)


def _norm(module: nn.Module, idxs) -> None:
    """Prune a BatchNorm/LayerNorm (or nothing, once BN is folded into its conv)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        tp.prune_batchnorm_out_channels(module, idxs)
    elif isinstance(module, nn.LayerNorm):
        tp.prune_layernorm_out_channels(module, idxs)


class UnitPruner(tp.pruner.BasePruningFunc):
    """A block pruned as one layer whose input and output channels are the same index space."""

    TARGET_MODULES = None

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        self.prune(layer, list(idxs))
        return layer

    prune_in_channels = prune_out_channels  # intra-layer dependency: in and out are coupled

    def get_in_channels(self, layer):
        return self.get_out_channels(layer)

    def prune(self, layer, idxs: list[int]) -> None:
        raise NotImplementedError

    def scores(self, layer, weigh: Weigh) -> torch.Tensor:
        """Importance of each channel from the weights inside the block."""
        raise NotImplementedError

    def split_point(self, layer) -> int | None:
        """Channels [0, split) are kept in proportion to the rest (PConv's partial channels)."""
        return None

    def prune_inner(self, layer, keep: Keep, weigh: Weigh) -> None:
        """Prune widths private to the block (not visible to the dependency graph)."""


class PartialConvPruner(UnitPruner):
    def prune(self, layer, idxs):  # a PartialConv: dim_conv, dim_untouched, partial_conv
        conv_idxs = [i for i in idxs if i < layer.dim_conv]
        if conv_idxs:
            tp.prune_conv_out_channels(layer.conv, conv_idxs)
            tp.prune_conv_in_channels(layer.conv, conv_idxs)
        layer.dim_conv -= len(conv_idxs)
        layer.dim_untouched -= len(idxs) - len(conv_idxs)

    def get_out_channels(self, layer):
        return layer.dim_conv + layer.dim_untouched

    def split_point(self, layer):
        return layer.dim_conv

    def scores(self, layer, weigh):
        s = torch.zeros(self.get_out_channels(layer))
        idx = list(range(layer.dim_conv))
        s[: layer.dim_conv] = weigh(layer.conv.weight, 0, idx) + weigh(layer.conv.weight, 1, idx)
        return s


def qkv_parts(module: nn.Module):
    """(qkv Linear or None, [q, k, v] Linears or None, proj Linear, heads) of a qkv-attention module, else None."""
    heads = getattr(module, "num_heads", getattr(module, "heads", None))
    proj, qkv, split = getattr(module, "proj", None), getattr(module, "qkv", None), getattr(module, "split", None)
    if not isinstance(heads, int) or not isinstance(proj, nn.Linear) or proj.in_features != proj.out_features:
        return None
    dim = proj.in_features
    if isinstance(qkv, nn.Linear) and qkv.in_features == dim and qkv.out_features == 3 * dim:
        return qkv, None, proj, heads
    if (
        isinstance(split, nn.ModuleList)
        and len(split) == 3
        and all(isinstance(s, nn.Linear) and s.in_features == s.out_features == dim for s in split)
    ):
        return None, list(split), proj, heads
    return None


class QKVAttentionPruner(UnitPruner):
    def prune(self, layer, idxs):
        qkv, split, proj, heads = qkv_parts(layer)
        dim = proj.in_features
        head_dim = dim // heads
        if qkv is not None:
            tp.prune_linear_out_channels(qkv, [i + k * dim for k in range(3) for i in idxs])
            tp.prune_linear_in_channels(qkv, idxs)
        for lin in split or []:
            tp.prune_linear_out_channels(lin, idxs)
            tp.prune_linear_in_channels(lin, idxs)
        tp.prune_linear_out_channels(proj, idxs)
        tp.prune_linear_in_channels(proj, idxs)
        positions = sorted({i % head_dim for i in idxs})
        for child in layer.children():  # pre-norms over the width, q/k norms over head_dim
            if isinstance(child, nn.LayerNorm) and child.normalized_shape == (dim,):
                _norm(child, idxs)
            elif isinstance(child, nn.LayerNorm) and child.normalized_shape == (head_dim,):
                _norm(child, positions)
        if isinstance(getattr(layer, "head_dim", None), int):
            layer.head_dim = proj.in_features // heads

    def get_out_channels(self, layer):
        return qkv_parts(layer)[2].in_features

    def get_out_channel_groups(self, layer):
        return qkv_parts(layer)[3]

    get_in_channel_groups = get_out_channel_groups

    def scores(self, layer, weigh):
        qkv, split, proj, _ = qkv_parts(layer)
        idx = list(range(proj.in_features))
        dim = len(idx)
        s = weigh(proj.weight, 0, idx) + weigh(proj.weight, 1, idx)
        if qkv is not None:
            s = s + weigh(qkv.weight, 1, idx) + sum(weigh(qkv.weight, 0, [i + k * dim for i in idx]) for k in range(3))
        for lin in split or []:
            s = s + weigh(lin.weight, 0, idx) + weigh(lin.weight, 1, idx)
        return s


class SHMAPruner(UnitPruner):
    def prune(self, layer, idxs):  # an SHMA: v_dim and its q/k/v/gate/proj layers
        for part in (layer.q, layer.k, layer.v_gate):
            tp.prune_conv_in_channels(part[0], idxs)
        tp.prune_conv_out_channels(layer.proj[0], idxs)
        _norm(layer.proj[1], idxs)

    def get_out_channels(self, layer):
        return layer.q[0].in_channels

    def scores(self, layer, weigh):
        idx = list(range(self.get_out_channels(layer)))
        inputs = sum(weigh(p[0].weight, 1, idx) for p in (layer.q, layer.k, layer.v_gate))
        return inputs + weigh(layer.proj[0].weight, 0, idx)

    def prune_inner(self, layer, keep, weigh):
        qk = list(range(layer.q[0].out_channels))
        drop = _lowest(weigh(layer.q[0].weight, 0, qk) + weigh(layer.k[0].weight, 0, qk), keep(len(qk), 1))
        for part in (layer.q, layer.k):  # q and k rows pair up in the dot product
            tp.prune_conv_out_channels(part[0], drop)
            _norm(part[1], drop)
        v = list(range(layer.v_dim))
        score = (
            weigh(layer.v_gate[0].weight, 0, v)
            + weigh(layer.v_gate[0].weight, 0, [i + layer.v_dim for i in v])
            + weigh(layer.proj[0].weight, 1, v)
        )
        drop = _lowest(score, keep(len(v), 1))
        both = drop + [i + layer.v_dim for i in drop]  # v and its gate are multiplied channel by channel
        tp.prune_conv_out_channels(layer.v_gate[0], both)
        _norm(layer.v_gate[1], both)
        tp.prune_conv_in_channels(layer.proj[0], drop)
        layer.v_dim -= len(drop)


def _lowest(score: torch.Tensor, n_keep: int) -> list[int]:
    """Indices of all but the n_keep highest scores."""
    order = torch.argsort(score, descending=True)
    return sorted(order[n_keep:].tolist())


class MHAPruner(tp.pruner.function.MultiheadAttentionPruner):
    """Torch-Pruning's nn.MultiheadAttention pruner, plus head groups and weight scores."""

    def get_out_channel_groups(self, layer):
        return layer.num_heads

    get_in_channel_groups = get_out_channel_groups

    def scores(self, layer: nn.MultiheadAttention, weigh):
        idx = list(range(layer.embed_dim))
        e = layer.embed_dim
        s = weigh(layer.out_proj.weight, 0, idx) + weigh(layer.out_proj.weight, 1, idx)
        if layer.in_proj_weight is not None:
            s = s + weigh(layer.in_proj_weight, 1, idx)
            s = s + sum(weigh(layer.in_proj_weight, 0, [i + k * e for i in idx]) for k in range(3))
        return s

    def split_point(self, layer):
        return None

    def prune_inner(self, layer, keep, weigh):
        pass


PRUNER_OF_KIND = {"partial_conv": PartialConvPruner, "single_head_gated_attention": SHMAPruner}


def unit_pruners(model: nn.Module) -> dict[type, tp.pruner.BasePruningFunc]:
    """Customized pruners by module type for every block of `model` Torch-Pruning must not trace into."""
    found: dict[type, tp.pruner.BasePruningFunc] = {}
    for m in model.modules():
        t = type(m)
        if t in found:
            continue
        if unit_kind(m) is not None:
            found[t] = PRUNER_OF_KIND[unit_kind(m)]()
        elif isinstance(m, nn.MultiheadAttention):
            found[t] = MHAPruner()
        elif all(qkv_parts(o) is not None for o in model.modules() if type(o) is t):
            found[t] = QKVAttentionPruner()  # a type is registered only when every instance qualifies
    return found


@contextlib.contextmanager
def opaque(model: nn.Module, types: tuple[type, ...]):
    """While the graph is traced, make each block's output depend on its input only directly.

    The output value is unchanged; autograd sees `x + (block(x) - x).detach()`, so Torch-Pruning
    records the block as one node after its input instead of walking its internals (whose
    chunk/split ops would otherwise shift channel indices).
    """

    def hook(module, inputs, output):
        x = inputs[0]
        if isinstance(output, torch.Tensor) and isinstance(x, torch.Tensor) and output.shape == x.shape:
            return x + (output - x).detach()
        return output

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def attention_heads(module: nn.Module) -> tuple[int, int] | None:
    """(num_heads, head_dim) of an attention module this file knows, else None."""
    if isinstance(module, nn.MultiheadAttention):
        return module.num_heads, module.head_dim
    parts = qkv_parts(module)
    if parts is not None:
        return parts[3], parts[2].in_features // parts[3]
    if unit_kind(module) == "single_head_gated_attention":
        return 1, module.q[0].out_channels
    return None
