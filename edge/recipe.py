"""YAML recipes: model x compression x targets, typed and validated (unknown keys are errors)."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from common.errors import EdgeError, suggest
from quant.config import QuantConfig, recipe_fields
from quant.prune.config import PruneConfig


@dataclass(frozen=True)
class ModelSection:
    name: str | None = None  # a zoo name ...
    factory: str | None = None  # ... or 'pkg.module:function'
    weights: str | None = None
    num_classes: int | None = None
    input_size: int | None = None
    labels: str | None = None  # text file, one label per line
    author: str | None = None  # written into the artifacts' own metadata
    license: str | None = None

    def __post_init__(self):
        if (self.name is None) == (self.factory is None):
            raise ValueError("model needs exactly one of 'name' (zoo) or 'factory' ('pkg.module:function').")

    @property
    def spec(self) -> str:
        return self.name or self.factory


def _quant_section() -> type:
    """How to quantize (with `quant: int8`): the QuantConfig fields a recipe may set, with their defaults
    (calibration data, what stays float, the accuracy budget, the deployment CPU...). Paths in it are
    relative to the recipe. Tuples are written as YAML lists (or "a,b" strings)."""
    hints = typing.get_type_hints(QuantConfig)

    def section_hint(name):
        hint = hints[name]
        return list[str] if typing.get_origin(hint) is tuple else hint

    def to_kwargs(self) -> dict:
        return {
            f.name: tuple(v) if isinstance(v := getattr(self, f.name), list) else v for f in dataclasses.fields(self)
        }

    return dataclasses.make_dataclass(
        "QuantSection",
        [(f.name, section_hint(f.name), field(default=f.default)) for f in recipe_fields()],
        frozen=True,
        namespace={"to_kwargs": to_kwargs, "__doc__": _quant_section.__doc__, "__module__": __name__},
    )


QuantSection = _quant_section()


@dataclass(frozen=True)
class Recipe:
    model: ModelSection
    targets: list[str] = field(default_factory=lambda: ["all"])
    quant: str = "fp32"
    quantization: QuantSection | None = None
    out_dir: str = "out"
    prune: PruneConfig | None = None  # ratio | flops, importance, round_to, exclude, keep_stem
    input_form: str | None = None  # nchw-float (default) | nhwc-float | nhwc-uint8 (edge/io_form.py)

    def __post_init__(self):
        from edge.io_form import FORMS

        if self.input_form is not None and self.input_form not in FORMS:
            raise ValueError(f"input_form must be one of {', '.join(FORMS)}. Got {self.input_form!r}.")


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise EdgeError(f"cannot read recipe {str(path)!r} ({e.strerror}).") from None
    except UnicodeDecodeError:
        raise EdgeError(f"recipe {str(path)!r} is not UTF-8 text; save it as a UTF-8 YAML file.") from None
    except yaml.YAMLError as e:
        raise EdgeError(f"recipe {str(path)!r} is not valid YAML ({str(e).splitlines()[0]}).") from None
    try:
        recipe = _build(Recipe, data, "recipe")
    except (TypeError, ValueError) as e:
        raise EdgeError(f"recipe {str(path)!r}: {e}") from None
    base = path.parent  # relative files in a recipe are relative to the recipe
    m = recipe.model
    resolved = dataclasses.replace(m, weights=_rel(base, m.weights), labels=_rel(base, m.labels))
    q = recipe.quantization
    if q is not None:
        runner = q.tune_runner if q.tune_runner == "app" else _rel(base, q.tune_runner)
        q = dataclasses.replace(q, calib=_rel(base, q.calib), eval_data=_rel(base, q.eval_data), tune_runner=runner)
    return dataclasses.replace(recipe, model=resolved, quantization=q)


def _rel(base: Path, value: str | None) -> str | None:
    """A recipe's file path: absolute as given, relative to the recipe's folder otherwise."""
    if value is None:
        return None
    return value if Path(value).is_absolute() else str(base / value)


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise TypeError(f"{where} must be a mapping, got {type(data).__name__}.")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ValueError(f"unknown key {where}.{key}.{suggest(str(key), names)} Allowed: {', '.join(names)}.")
    values = {key: _check(hints[key], value, f"{where}.{key}") for key, value in data.items()}
    return cls(**values)


def _check(hint, value, where: str):
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return _check(inner[0], value, where)
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, str):  # "xnnpack,onnx" is accepted for a list of names
            value = [v.strip() for v in value.split(",")]
        if not isinstance(value, list):
            raise TypeError(f"{where} must be a list of {item.__name__}, got {type(value).__name__}.")
        return [_check(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{where} must be an integer, got {type(value).__name__} {value!r}.")
    if hint is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(f"{where} must be a number, got {type(value).__name__} {value!r}.")
    if hint is bool and not isinstance(value, bool):
        raise TypeError(f"{where} must be true or false, got {type(value).__name__} {value!r}.")
    if hint is str and not isinstance(value, str):
        raise TypeError(f"{where} must be a string, got {type(value).__name__} {value!r}.")
    return value
