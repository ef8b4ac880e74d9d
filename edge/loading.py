"""Resolve what the user named into an nn.Module: a zoo name, a factory `pkg.mod:fn`, or a module.

Weights load from safetensors or from a state_dict file read with `weights_only=True`:
arbitrary pickled objects are never unpickled.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import sys
from pathlib import Path

import torch
from torch import nn

from common.errors import EdgeError
from edge import models
from edge.limits import INPUT_SIZE, NUM_CLASSES, optional
from edge.models.registry import ModelConfig, UnknownModelError


def build_model(
    spec: str | nn.Module,
    num_classes: int | None = None,
    input_size: int | None = None,
    weights: str | Path | None = None,
) -> nn.Module:
    """Build (zoo name or factory) or take a module, then load weights if given; eval mode."""
    optional(NUM_CLASSES, num_classes)
    optional(INPUT_SIZE, input_size)
    from edge.corpus import is_corpus_spec
    from edge.corpus.hf import build_corpus_model, is_pretrained_folder, load_pretrained_folder

    if isinstance(spec, nn.Module):
        model = spec
    elif is_corpus_spec(spec):  # hf:<name>: a transformers model from its config class, random weights
        model = build_corpus_model(spec, num_classes, input_size)
    elif is_pretrained_folder(spec):  # a save_pretrained folder, read locally
        model = load_pretrained_folder(spec, num_classes, input_size)
    elif ":" in spec:
        model = _from_factory(spec, num_classes, input_size)
    else:
        kwargs = {"input_size": input_size} if input_size is not None else {}
        try:
            model = models.create(spec, num_classes=1000 if num_classes is None else num_classes, **kwargs)
        except UnknownModelError as e:
            raise EdgeError(str(e)) from None
        except ValueError as e:
            raise EdgeError(f"{spec}: {e}") from None
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


def _from_factory(spec: str, num_classes: int | None, input_size: int | None) -> nn.Module:
    module_name, _, fn_name = spec.partition(":")
    if os.getcwd() not in sys.path:  # like `python -m`: a factory in the working folder is importable
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise EdgeError(
            f"cannot import {module_name!r} for factory {spec!r} ({e}); check the module is on PYTHONPATH."
        ) from None
    except Exception as e:  # the module's own code failed while importing
        raise EdgeError(
            f"importing {module_name!r} for factory {spec!r} failed: {type(e).__name__}: {_first_line(e)}"
        ) from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise EdgeError(f"{module_name!r} has no callable {fn_name!r}; a factory is written 'pkg.mod:function'.")
    kwargs = {k: v for k, v in (("num_classes", num_classes), ("input_size", input_size)) if v is not None}
    try:
        model = fn(**kwargs)
    except TypeError as e:
        raise EdgeError(f"factory {spec!r} rejected its arguments {kwargs}: {e}") from None
    except Exception as e:  # a user's factory can raise anything
        raise EdgeError(f"factory {spec!r} raised {type(e).__name__}: {_first_line(e)}") from None
    if not isinstance(model, nn.Module):
        raise EdgeError(f"factory {spec!r} returned {type(model).__name__}, not a torch.nn.Module.")
    return model


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read tensors from .safetensors or a torch state_dict file, refusing pickled objects."""
    path = Path(path)
    if not path.is_file():
        raise EdgeError(f"weights file {str(path)!r} does not exist or is not a file.")
    with open(path, "rb") as f:
        head = f.read(9)  # safetensors: 8-byte little-endian header length, then a JSON object
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise EdgeError(f"weights file {str(path)!r} is not a readable safetensors file ({e}).") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0][:160]
        raise EdgeError(
            f"weights file {str(path)!r} holds pickled objects, not plain tensors ({first}); "
            "save model.state_dict() or use safetensors."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise EdgeError(f"weights file {str(path)!r} is not a readable state_dict ({e}).") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # common training-checkpoint wrapper
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EdgeError(f"weights file {str(path)!r} is not a state_dict of tensors; save model.state_dict().")
    return state


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    state = read_state_dict(path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    name = getattr(getattr(model, "config", None), "name", type(model).__name__)
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} shape mismatches (first: {k} is {tuple(state[k].shape)} in the file, "
                f"{tuple(expected[k].shape)} in the model)"
            )
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        hint = " Check --num-classes and --input-size." if wrong else ""
        raise EdgeError(f"weights {str(path)!r} do not match {name}: {'; '.join(parts)}.{hint}")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise EdgeError(
            f"weights {str(path)!r} hold NaN or Inf in {len(bad)} tensors (first: {bad[0]}); "
            "re-save them from a healthy checkpoint."
        )
    model.load_state_dict(state)
    return model


def model_config(model: nn.Module, input_size: int | None = None, name: str | None = None) -> ModelConfig:
    """The zoo model's ModelConfig; for a foreign module, one with ImageNet preprocessing.

    A foreign module's class count is read off one forward pass at the given input size.
    """
    config = getattr(model, "config", None)
    if isinstance(config, ModelConfig):
        return config
    attached = getattr(model, "edge_config", None)  # a Hugging Face model (edge.corpus.hf)
    if isinstance(attached, ModelConfig):
        return dataclasses.replace(attached, input_size=input_size or attached.input_size, name=name or attached.name)
    from edge.model_io import check_single_input, output_form, run_forward

    size = 224 if input_size is None else input_size
    check_single_input(model)
    out = run_forward(model.eval(), torch.zeros(1, 3, size, size), f"a 1x3x{size}x{size} zero image")
    form, key = output_form(out)
    out = out if key is None else out[key]
    classes = out.shape[-1] if isinstance(out, torch.Tensor) and out.ndim == 2 else 1
    return ModelConfig(name=name or type(model).__name__.lower(), family="custom", input_size=size, num_classes=classes)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def read_labels(path: str) -> list[str]:
    """A labels file: one class name per line (blank lines skipped)."""
    try:
        return [line.strip() for line in open(path, encoding="utf-8") if line.strip()]
    except OSError as e:
        raise EdgeError(
            f"cannot read labels file {path!r} ({e.strerror}); give a text file, one label per line."
        ) from None
