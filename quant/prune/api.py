"""`prune(model, example_inputs, ratio=... | flops=...)`: a physically smaller copy and a report."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable
from importlib.metadata import version

import torch
import torch.nn.functional as F
from torch import nn

from common.errors import suggest
from common.modules import count_macs, count_params
from quant.prune.config import PruneConfig, PruneError
from quant.prune.engine import prune_once
from quant.prune.units import attention_heads

SEARCH_STEPS = 7  # bisection steps on the channel ratio for a GFLOPs target (resolution ~0.007)
MAX_RATIO = 0.95


def prune(
    model: nn.Module,
    example_inputs,
    ratio: float | None = None,
    flops: float | None = None,
    importance: str = "l2",
    round_to: int = 8,
    exclude=(),
    keep_stem: bool = True,
    calib=None,
    finetune: Callable[[nn.Module], nn.Module | None] | None = None,
) -> tuple[nn.Module, dict]:
    """Structured pruning that removes channels, head dims and PConv channels for real.

    ratio: fraction of channels removed from each prunable group; flops: fraction of GFLOPs to
    REMOVE (the ratio is searched until the model's MACs drop by at least that much). Exactly one.
    importance: "l2" | "l1" (weight magnitude) | "taylor" (needs `calib`: images, (images, labels),
    or an iterable of either; without labels the unpruned model's predictions are the labels).
    round_to: kept widths are multiples of it. exclude: module names or fnmatch patterns whose output
    channels are kept; the first conv (unless keep_stem=False) and the output layers always are.
    finetune: called with the pruned model (your training loop); may return a replacement.
    The model passed in is not modified. Returns (pruned model in eval mode, report dict).
    """
    config = PruneConfig(
        ratio=ratio, flops=flops, importance=importance, round_to=round_to, exclude=list(exclude), keep_stem=keep_stem
    )
    inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    work = copy.deepcopy(model).eval()
    for p in work.parameters():
        p.requires_grad_(True)
    excluded = resolve_exclusions(work, config.exclude)
    reference = check_traceable(work, inputs)
    if config.importance == "taylor":
        accumulate_gradients(work, calib, inputs)
    size, chans = int(inputs[0].shape[-1]), int(inputs[0].shape[1])
    before = count_params(work), count_macs(work, size, chans)
    heads_before = {n: attention_heads(m) for n, m in work.named_modules() if attention_heads(m)}
    if config.ratio is not None:
        chosen, pruned, info = config.ratio, *_attempt(work, inputs, config.ratio, config, excluded)
    else:
        chosen, pruned, info = _search(work, inputs, config, excluded, before[1], size, chans)
    check_consistent(pruned, inputs, reference)
    for p in pruned.parameters():
        p.grad = None
    if finetune is not None:
        returned = finetune(pruned)
        pruned = returned if isinstance(returned, nn.Module) else pruned
    pruned.eval()
    after = count_params(pruned), count_macs(pruned, size, chans)
    names = {id(m): n for n, m in pruned.named_modules()}
    attention = [
        {"module": n, "num_heads": h[0], "head_dim_before": heads_before[n][1], "head_dim_after": h[1]}
        for n, m in pruned.named_modules()
        if n in heads_before and (h := attention_heads(m))
    ]
    report = {
        "method": "structured (channels, head dims) on Torch-Pruning's DependencyGraph",
        "torch_pruning": version("torch-pruning"),
        "ratio": round(chosen, 4),
        "flops_target": config.flops,
        "importance": config.importance,
        "round_to": config.round_to,
        "keep_stem": config.keep_stem,
        "excluded": sorted(set(excluded) | {names[id(m)] for m in info["kept_layers"] if id(m) in names}),
        "params_before": before[0],
        "params_after": after[0],
        "gmacs_before": round(before[1] / 1e9, 4),
        "gmacs_after": round(after[1] / 1e9, 4),
        "groups": info["groups"],
        "groups_pruned": info["groups_pruned"],
        "attention": attention,
        "finetuned": finetune is not None,
    }
    return pruned, report


def resolve_exclusions(model: nn.Module, patterns: list[str]) -> list[str]:
    """Module names matching the patterns (a name also covers its submodules); unknown names are errors."""
    names = [n for n, _ in model.named_modules() if n]
    out = []
    for pattern in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise PruneError(
                f"--prune-exclude names no module {pattern!r}.{suggest(pattern, names)} "
                f"Module names look like {', '.join(names[:3])}."
            )
        out += hits
    return out


def _modules(model: nn.Module, names: list[str]) -> list[nn.Module]:
    table = dict(model.named_modules())
    return [table[n] for n in names]


def _attempt(work: nn.Module, inputs: tuple, ratio: float, config: PruneConfig, excluded: list[str]):
    """Prune a copy of `work` (gradients carried over for Taylor) at one channel ratio."""
    model = copy.deepcopy(work)
    for (_, src), (_, dst) in zip(work.named_parameters(), model.named_parameters()):
        dst.grad = None if src.grad is None else src.grad.clone()
    try:
        info = prune_once(
            model, inputs, ratio, config.importance, config.round_to, _modules(model, excluded), config.keep_stem
        )
    except PruneError:
        raise
    except Exception as e:  # Torch-Pruning raises assorted types when a graph cannot be built or pruned
        from common.modules import failing_submodule as _failing_submodule

        raise PruneError(
            f"cannot build the pruning dependency graph at {_failing_submodule(model, e)}: "
            f"{_first_line(e)}. Exclude that module with --prune-exclude NAME."
        ) from e
    if not info["groups_pruned"]:
        raise PruneError(
            f"nothing left to prune at ratio {ratio:.3g}: "
            + (
                "every channel group touches an excluded module; exclude fewer modules."
                if excluded or not info["groups"]
                else f"every group is smaller than round_to={config.round_to} allows; lower round_to."
            )
        )
    return model, info


def _search(work, inputs, config: PruneConfig, excluded, macs_before: int, size: int, chans: int):
    """Bisect the channel ratio until the MACs drop by at least config.flops."""
    target = macs_before * (1 - config.flops)
    lo, hi, best = 0.0, MAX_RATIO, None
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) / 2
        model, info = _attempt(work, inputs, mid, config, excluded)
        if count_macs(model, size, chans) <= target:
            best, hi = (mid, model, info), mid
        else:
            lo = mid
    if best is None:
        model, info = _attempt(work, inputs, MAX_RATIO, config, excluded)
        reached = 1 - count_macs(model, size, chans) / macs_before
        if reached < config.flops:
            raise PruneError(
                f"cannot remove {config.flops:.0%} of the GFLOPs: at most {reached:.0%} with the "
                f"excluded modules and round_to={config.round_to}."
            )
        best = (MAX_RATIO, model, info)
    return best


def check_traceable(model: nn.Module, inputs: tuple) -> torch.Tensor:
    """Run the model once under autograd; name the module that fails or cuts the autograd graph."""
    cut: list[str] = []
    names = {id(m): n for n, m in model.named_modules()}

    def hook(module, args, output):
        outs = [o for o in (output if isinstance(output, (tuple, list)) else [output]) if isinstance(o, torch.Tensor)]
        feeds = any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
        owns = any(p.requires_grad for p in module.parameters())
        if outs and (feeds or owns) and not any(o.requires_grad for o in outs) and not cut:
            cut.append(f"module '{names[id(module)] or 'top level'}' ({type(module).__name__})")

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.enable_grad():
            out = model(*inputs)
    except Exception as e:  # the user's forward can raise anything
        from common.modules import failing_submodule as _failing_submodule

        raise PruneError(
            f"cannot build the pruning dependency graph: the forward pass failed in "
            f"{_failing_submodule(model, e)}: {_first_line(e)}"
        ) from e
    finally:
        for h in handles:
            h.remove()
    if cut:
        raise PruneError(
            f"cannot build the pruning dependency graph: {cut[0]} cuts the autograd graph "
            "(it runs under torch.no_grad() or detaches its output), and Torch-Pruning traces "
            "channel dependencies through autograd. Remove the detach/no_grad or prune a model "
            "without it."
        )
    if not isinstance(out, torch.Tensor):
        raise PruneError(
            f"pruning needs a model returning one tensor; {type(model).__name__} returns {type(out).__name__}."
        )
    return out.detach()


def check_consistent(pruned: nn.Module, inputs: tuple, reference: torch.Tensor) -> None:
    try:
        with torch.no_grad():
            out = pruned(*inputs)
    except Exception as e:  # a module whose constants did not follow its pruned weights
        from common.modules import failing_submodule as _failing_submodule

        raise PruneError(
            f"the pruned model no longer runs: {_failing_submodule(pruned, e)} did not follow its "
            f"pruned weights ({_first_line(e)}). Exclude it with --prune-exclude NAME."
        ) from e
    if out.shape != reference.shape:
        raise PruneError(
            f"pruning changed the output shape from {list(reference.shape)} to {list(out.shape)}; "
            "exclude the output layer with --prune-exclude NAME."
        )


def accumulate_gradients(model: nn.Module, calib, inputs: tuple) -> None:
    """dL/dw over the calibration batches for Taylor importance (eval mode: BN statistics unchanged)."""
    if calib is None:
        raise PruneError("Taylor importance needs calibration data (calib=images, (images, labels), or batches).")
    batches = [calib] if isinstance(calib, (torch.Tensor, tuple)) else list(calib)
    model.zero_grad(set_to_none=True)
    for batch in batches:
        x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
        out = model(x)
        if out.ndim == 2:
            target = y if y is not None else out.detach().argmax(1)
            loss = F.cross_entropy(out, target)
        else:
            loss = out.pow(2).mean()
        loss.backward()
    for p in model.parameters():  # parameters the loss does not reach score zero, not an error
        if p.grad is None:
            p.grad = torch.zeros_like(p)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]
