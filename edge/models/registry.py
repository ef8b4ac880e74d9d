"""Model registry: variants are tiny functions registered by name.

A duplicate name is an error (timm only warns; silently replacing a model is a bug here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from common.errors import suggest

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelConfig:
    """What an app needs to feed the model: recorded with every variant and every artifact."""

    name: str
    family: str
    input_size: int
    num_classes: int = 1000
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    in_chans: int = 3
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.input_size < 32:
            raise ValueError(f"input_size must be at least 32 pixels. Got {self.input_size}.")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer. Got {self.num_classes}.")
        if self.interpolation not in ("bilinear", "bicubic", "nearest"):
            raise ValueError(f"interpolation must be bilinear, bicubic or nearest. Got {self.interpolation!r}.")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "family": self.family,
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "crop_pct": self.crop_pct,
            "in_chans": self.in_chans,
            **({"extra": dict(self.extra)} if self.extra else {}),
        }


class UnknownModelError(KeyError):
    """An unknown model name; the message carries a close-match suggestion."""

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain sentence
        return str(self.args[0])


_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_FAMILY: dict[str, str] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a variant factory under its function name; the module name is the family."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is registered twice; variant names must be unique.")
    _REGISTRY[name] = fn
    _FAMILY[name] = fn.__module__.rsplit(".", 1)[-1]
    return fn


def list_models(family: str | None = None) -> list[str]:
    return sorted(n for n in _REGISTRY if family is None or _FAMILY[n] == family)


def get_factory(name: str) -> Callable[..., nn.Module]:
    if name not in _REGISTRY:
        raise UnknownModelError(
            f"unknown model {name!r}.{suggest(name, list(_REGISTRY))} "
            f"Run 'edge list' to see the {len(_REGISTRY)} zoo models."
        )
    return _REGISTRY[name]


def create(name: str, num_classes: int = 1000, input_size: int | None = None, **kwargs) -> nn.Module:
    """Build a zoo variant with random weights; the module carries `.config` (ModelConfig)."""
    return get_factory(name)(num_classes=num_classes, input_size=input_size, **kwargs)
