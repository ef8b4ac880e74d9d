"""A user's model as the pipeline needs it: one image in, one logits tensor out, finite numbers.

Checked once, before anything is converted, so a model that takes two inputs, returns a dict
without logits, raises in its forward or computes NaN fails with one line naming what and where.
Hugging Face style outputs (a ModelOutput or dict with `logits`, a tuple whose first item is the
tensor) are reduced to that tensor; the choice is recorded for the manifest.
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Mapping

import torch
from torch import nn

from common.errors import EdgeError
from common.modules import failing_submodule


def check_single_input(model: nn.Module) -> None:
    """forward must take one tensor (extra parameters need defaults)."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return  # a builtin or C++ forward: nothing to read
    required = [
        p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params or (len(required) > 1):
        names = ", ".join(required) or "none"
        raise EdgeError(
            f"{type(model).__name__}.forward takes {len(required)} required inputs ({names}); edge exports "
            "image models with one NCHW input. Wrap it in a module whose forward(x) builds the others."
        )


def run_forward(model: nn.Module, x: torch.Tensor, what: str):
    """model(x) under no_grad; an exception becomes one line naming the submodule and source line."""
    try:
        with torch.no_grad():
            return model(x)
    except EdgeError:
        raise
    except Exception as e:  # a user's model can raise anything
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise EdgeError(
            f"the model's forward failed on {what} in {failing_submodule(model, e)}: {type(e).__name__}: {first}"
        ) from None


def output_form(out) -> tuple[str, object]:
    """('tensor' | 'logits' | 'first', key) for an output edge can reduce to one tensor, else EdgeError."""
    if isinstance(out, torch.Tensor):
        return "tensor", None
    if isinstance(out, Mapping) or hasattr(out, "keys"):
        keys = list(out.keys())
        if "logits" in keys and isinstance(out["logits"], torch.Tensor):
            return "logits", "logits"
        raise EdgeError(
            f"the model returns a {type(out).__name__} with keys {keys[:8]} and no 'logits' tensor; "
            "return the class scores as one tensor (or under 'logits')."
        )
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return "first", 0
    raise EdgeError(f"the model returns {type(out).__name__}, not a tensor; return the class scores as one tensor.")


def with_single_output(model: nn.Module, form: str, key) -> nn.Module:
    """`model` itself for a tensor output; else a shallow copy whose forward returns out[key]. A copy
    (not a wrapper module) keeps every module name as the user wrote it, for --keep-float and pruning."""
    if form == "tensor":
        return model
    picked = copy.copy(model)  # shares submodules and parameters with `model`
    original = type(model).forward

    def forward(self, x):
        return original(self, x)[key]

    picked.forward = types.MethodType(forward, picked)
    return picked


def check_finite(outputs: list[torch.Tensor], what: str) -> None:
    for out in outputs:
        if not torch.isfinite(out).all():
            raise EdgeError(
                f"the model outputs NaN or Inf on {what}; check its weights (a NaN weight, an overflow in "
                "fp32) before exporting."
            )


def describe_form(form: str) -> str:
    return {
        "tensor": "the model's output tensor",
        "logits": "the 'logits' entry of the model's output",
        "first": "the first item of the model's output tuple",
    }[form]
