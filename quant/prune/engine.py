"""Structured pruning on Torch-Pruning's DependencyGraph: pick channels per group, remove them for real.

One pass at channel ratio r: (1) each hybrid block prunes its private widths (SHMA's q/k and v),
(2) the DependencyGraph is built with the blocks of units.py as customized layers, (3) every
coupled group (residual streams, concat halves, conv->BN->conv chains) keeps round(C*(1-r)) of
its C channels, rounded to a multiple of round_to, of the head count (heads keep equal widths: the
same positions go in every head) and of PConv's n_div (its partial channels stay C/n_div), chosen
by importance, and (4) Torch-Pruning removes them from every layer of the group.

Why not tp.pruner.MetaPruner's own scheduling (checked with 1.6.1 on tests/foreign.py's models):
given `num_heads`, it skips the groups coupled to an nn.MultiheadAttention, and for a qkv-Linear
attention it prunes the inner width apart from the embedding the block reshapes with (the forward
then fails); with `round_to` it rounds the per-head count against the full width and prunes
nothing; without `num_heads` it removes uneven positions per head, so head boundaries shift. It has
no notion of PConv's split either. So the selection is done here and the removal by Torch-Pruning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch_pruning as tp
from torch import nn

from quant.prune.config import PruneError
from quant.prune.units import opaque, unit_pruners

ROOTS = (nn.Conv2d, nn.Conv1d, nn.Linear)


def weigh_fn(importance: str):
    """Per-index score of a tensor slice: |w|^p summed (l1/l2), or |w * grad| summed (taylor)."""
    p = 1 if importance == "l1" else 2

    def weigh(param: torch.Tensor, dim: int, idxs: Sequence[int]) -> torch.Tensor:
        index = torch.as_tensor(list(idxs), dtype=torch.long)
        w = param.detach().index_select(dim, index).transpose(0, dim).flatten(1)
        if importance == "taylor":
            g = param.grad if param.grad is not None else torch.zeros_like(param)
            return (w * g.detach().index_select(dim, index).transpose(0, dim).flatten(1)).abs().sum(1)
        return w.abs().pow(p).sum(1)

    return weigh


def group_importance(importance: str):
    if importance == "taylor":
        return tp.importance.GroupTaylorImportance()
    return tp.importance.GroupMagnitudeImportance(p=1 if importance == "l1" else 2)


def build_graph(model: nn.Module, example_inputs: tuple) -> tp.DependencyGraph:
    pruners = unit_pruners(model)
    with opaque(model, tuple(pruners)):
        return tp.DependencyGraph().build_dependency(
            model, example_inputs=example_inputs, customized_pruners=pruners, verbose=False
        )


def boundary_layers(graph: tp.DependencyGraph) -> tuple[list[nn.Module], list[nn.Module]]:
    """(layers reading the model input: the stem, layers producing a model output: the classifier)."""
    stems = [m for m, n in graph.module2node.items() if isinstance(m, ROOTS) and not n.inputs]
    heads, seen = [], set()
    stack = [n for n in graph.module2node.values() if not n.outputs]  # sinks: the model's outputs
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node.module, ROOTS) or type(node.module) in graph.CUSTOMIZED_PRUNERS:
            heads.append(node.module)
        else:
            stack.extend(node.inputs)
    return stems, heads


def keep_count(n: int, ratio: float, quantum: int) -> int:
    """Channels to keep of n: nearest multiple of quantum to n*(1-ratio), at least one quantum."""
    return max(quantum, round(n * (1 - ratio) / quantum) * quantum)


def _constraints(graph, group) -> tuple[int, set[int] | None, bool]:
    """(channel chunks that must stay equal, root indices of PConv's partial channels, usable)."""
    chunks, splits = 1, []
    for item in group:
        dep, module = item.dep, item.dep.target.module
        pruner = graph.get_pruner_of_module(module)
        if pruner is None or isinstance(module, tp.ops._ElementWiseOp):
            continue
        out = graph.is_out_channel_pruning_fn(dep.handler)
        g = pruner.get_out_channel_groups(module) if out else pruner.get_in_channel_groups(module)
        if isinstance(module, nn.Conv2d) and module.groups in (1, module.in_channels, module.out_channels):
            g = 1  # plain or depthwise: Torch-Pruning handles both
        split = getattr(pruner, "split_point", lambda m: None)(module)
        if (g > 1 or split is not None) and list(item.idxs) != list(item.root_idxs):
            return 1, None, False  # heads/splits behind an index shift (concat): leave the group alone
        chunks = math.lcm(chunks, g)
        if split is not None:
            splits.append({r for i, r in zip(item.idxs, item.root_idxs) if i < split})
    if len({frozenset(s) for s in splits}) > 1:
        return 1, None, False
    return chunks, (splits[0] if splits else None), True


def _scores(graph, group, imp: torch.Tensor, weigh) -> torch.Tensor:
    """Torch-Pruning's group score plus the weights inside customized blocks, each mean-normalized."""
    total, n = imp.clone().float(), 1
    for item in group:
        module = item.dep.target.module
        pruner = graph.CUSTOMIZED_PRUNERS.get(type(module))
        if pruner is None or not hasattr(pruner, "scores"):
            continue
        own = pruner.scores(module, weigh)[list(item.idxs)]
        full = torch.zeros_like(total)
        full[list(item.root_idxs)] = own
        total += full / own.mean().clamp_min(1e-12)
        n += 1
    return total / n


def choose(score: torch.Tensor, ratio: float, round_to: int, chunks: int, split: set[int] | None) -> list[int] | None:
    """Root indices to remove, or None when the group is too small to prune under its constraints."""
    n = len(score)
    quantum = math.lcm(round_to, chunks)
    if split:
        n_div = n // len(split) if n % len(split) == 0 else None
        quantum = math.lcm(quantum, n_div) if n_div else quantum
    if n % chunks or n <= quantum:
        return None
    keep = keep_count(n, ratio, quantum)
    if keep >= n:
        return None
    if chunks > 1:
        per_position = score.view(chunks, -1).mean(0)
        top = torch.argsort(per_position, descending=True)[: keep // chunks]
        size = n // chunks
        kept = {h * size + int(p) for h in range(chunks) for p in top}
    elif split:
        kept = set()
        k_split = round(keep * len(split) / n)
        for members, k in ((sorted(split), k_split), (sorted(set(range(n)) - split), keep - k_split)):
            order = torch.argsort(score[members], descending=True)[:k]
            kept |= {members[int(i)] for i in order}
    else:
        kept = set(torch.argsort(score, descending=True)[:keep].tolist())
    return sorted(set(range(n)) - kept)


def prune_once(
    model: nn.Module,
    example_inputs: tuple,
    ratio: float,
    importance: str,
    round_to: int,
    excluded: list[nn.Module],
    keep_stem: bool = True,
) -> dict:
    """Prune `model` in place at channel ratio `ratio`: returns the groups pruned and the layers kept whole."""
    weigh = weigh_fn(importance)
    skip = {id(s) for m in excluded for s in m.modules()}

    def keep(n: int, chunks: int) -> int:
        quantum = math.lcm(round_to, chunks)
        return keep_count(n, ratio, quantum) if n > quantum else n

    pruners = unit_pruners(model)
    for module in list(model.modules()):
        pruner = pruners.get(type(module))
        if pruner is not None and id(module) not in skip and hasattr(pruner, "prune_inner"):
            pruner.prune_inner(module, keep, weigh)
    graph = build_graph(model, example_inputs)
    stems, heads = boundary_layers(graph)
    kept = (stems if keep_stem else []) + heads
    ignored = [s for m in excluded + kept for s in m.modules()]
    scorer = group_importance(importance)
    plan, candidates, group = [], 0, None
    try:
        for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=ROOTS):
            candidates += 1
            chunks, split, usable = _constraints(graph, group)
            imp = scorer(group) if usable else None
            if imp is None:
                continue
            drop = choose(_scores(graph, group, imp, weigh), ratio, round_to, chunks, split)
            if drop:
                root = group[0].dep
                plan.append((root.target.module, root.handler, drop))
    except (IndexError, RuntimeError, ValueError, AssertionError) as e:  # Torch-Pruning's index mapping gave up
        raise PruneError(
            f"Torch-Pruning could not map the channels coupled with {_members(graph, group)} "
            f"({type(e).__name__}: {str(e)[:200]}); exclude one of them with --prune-exclude NAME."
        ) from e
    for module, handler, drop in plan:
        group = graph.get_pruning_group(module, handler, drop)
        if graph.check_pruning_group(group):
            group.prune()
    return {"groups": candidates, "groups_pruned": len(plan), "kept_layers": kept}


def _members(graph, group) -> str:
    if group is None:
        return "the first layers"
    names = [graph._module2name[i.dep.target.module] for i in group if i.dep.target.module in graph._module2name]
    names = list(dict.fromkeys(n for n in names if n))
    return ", ".join(f"'{n}'" for n in names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
