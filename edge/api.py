"""The Python API behind the CLI's read-only commands."""

from __future__ import annotations

import functools

from common.errors import EdgeError, suggest
from edge import models
from edge.loading import build_model, model_config
from edge.models.stats import count_macs, count_params
from edge.targets import TARGETS


def describe_models(family: str | None = None) -> list[dict]:
    """Every zoo variant at 1000 classes and its native input size: params, GMACs, preprocessing."""
    return [dict(m) for m in _describe_models(family)]


@functools.cache  # counting MACs builds and runs nine models: do it once per process
def _describe_models(family: str | None) -> tuple[dict, ...]:
    names = models.list_models(family)
    if family and not names:
        families = sorted({models.get_factory(n).__module__.rsplit(".", 1)[-1] for n in models.list_models()})
        raise EdgeError(f"unknown family {family!r}.{suggest(family, families)} Families: {', '.join(families)}.")
    out = []
    for name in names:
        model = models.create(name).eval()
        cfg = model.config
        out.append(
            {
                "name": name,
                "family": cfg.family,
                "params": count_params(model),
                "gmacs": round(count_macs(model, cfg.input_size) / 1e9, 4),
                "gmacs_without_attention": round(count_macs(model, cfg.input_size, attention=False) / 1e9, 4),
                "input_size": cfg.input_size,
                "config": cfg.to_dict(),
            }
        )
    return tuple(out)


def describe_model(
    spec, num_classes: int | None = None, input_size: int | None = None, weights: str | None = None
) -> dict:
    model = build_model(spec, num_classes=num_classes, input_size=input_size, weights=weights)
    cfg = model_config(model, input_size)
    return {
        "name": cfg.name,
        "family": cfg.family,
        "params": count_params(model),
        "gmacs": round(count_macs(model, cfg.input_size) / 1e9, 4),
        "input_size": cfg.input_size,
        "num_classes": cfg.num_classes,
        "weights": str(weights) if weights else None,
        "config": cfg.to_dict(),
    }


def describe_targets() -> list[dict]:
    return [
        {"name": t.name, "suffix": t.suffix, "description": t.description, **t.availability().to_dict()}
        for t in TARGETS.values()
    ]
