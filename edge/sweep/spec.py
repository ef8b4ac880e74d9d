"""The sweep spec: a YAML grid of models x input sizes x targets x quant schemes x prune ratios x devices.

Validated like recipes (edge/recipe.py): typed dataclasses, unknown keys and wrong types rejected by
name. Relative paths (weights, folders, labels, calibration and eval data, runners) are relative to
the spec file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from common.errors import EdgeError
from edge.recipe import QuantSection, _build  # the recipes' validator: one style of error for both
from quant.config import SCHEMES

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")


@dataclass(frozen=True)
class ModelEntry:
    """One of: a zoo name, a factory 'pkg.module:function', or a folder of weights named by zoo model."""

    name: str | None = None
    factory: str | None = None
    folder: str | None = None  # every <zoo name>.safetensors|.pt|.pth in it becomes one model
    weights: str | None = None
    num_classes: int | None = None
    labels: str | None = None

    def __post_init__(self):
        given = [k for k in ("name", "factory", "folder") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "each model needs exactly one of 'name' (zoo), 'factory' ('pkg.module:function') or "
                f"'folder' (weights named by zoo model). Got {given or 'none'}."
            )
        if self.folder is not None and self.weights is not None:
            raise ValueError(f"model folder {self.folder!r} brings its own weights; drop 'weights'.")


@dataclass(frozen=True)
class PruneOptions:
    """How every nonzero prune ratio of the grid prunes (quant.prune.PruneConfig without the ratio)."""

    importance: str = "l2"
    round_to: int = 8
    exclude: list[str] = field(default_factory=list)
    keep_stem: bool = True


@dataclass(frozen=True)
class Runners:
    adb: str | None = None  # edge_bench built for the phone, or 'app' (android_demo)
    ios: str | None = None  # the ios_demo .app (optional)


@dataclass(frozen=True)
class SweepSpec:
    models: list[ModelEntry]
    targets: list[str]
    quants: list[str] = field(default_factory=lambda: ["fp32"])
    input_sizes: list[int] = field(default_factory=list)  # empty: each model's own
    prune: list[float] = field(default_factory=lambda: [0.0])  # 0 = unpruned
    devices: list[str] = field(default_factory=lambda: ["host"])
    quantization: QuantSection | None = None
    pruning: PruneOptions | None = None
    runners: Runners | None = None
    runs: int = 50
    warmup: int = 10
    threads: int = 2
    eval_data: str | None = None  # labelled image folder: top-1 of every artifact and of its eager model

    def __post_init__(self):
        _nonempty("models", self.models)
        _nonempty("targets", self.targets)
        _nonempty("quants", self.quants)
        _nonempty("prune", self.prune)
        _nonempty("devices", self.devices)
        bad = [q for q in self.quants if q not in SCHEMES]
        if bad:
            raise ValueError(f"unknown quant scheme {bad[0]!r} in quants; choose from {', '.join(SCHEMES)}.")
        bad = [r for r in self.prune if not 0 <= r < 1]
        if bad:
            raise ValueError(
                f"prune ratios are fractions of channels removed, 0 <= r < 1 (0 = unpruned). Got {bad[0]!r}."
            )
        bad = [s for s in self.input_sizes if s < 16]
        if bad:
            raise ValueError(f"input sizes are square sizes in pixels, at least 16. Got {bad[0]!r}.")
        for key, low in (("runs", 1), ("warmup", 0), ("threads", 1)):
            if getattr(self, key) < low:
                raise ValueError(f"{key} must be at least {low}. Got {getattr(self, key)!r}.")
        for dup_key in ("targets", "quants", "prune", "devices", "input_sizes"):
            values = getattr(self, dup_key)
            if len(set(values)) != len(values):
                raise ValueError(f"{dup_key} lists a value twice: {values}.")


def _rel(base: Path, value: str | None) -> str | None:
    """Relative to the spec's folder; an absolute path as given."""
    return None if value is None else value if Path(value).is_absolute() else str(base / value)


def _nonempty(key: str, values: list) -> None:
    if not values:
        raise ValueError(f"{key} must list at least one value.")


def load_spec(path: str | Path) -> SweepSpec:
    """Read, validate and resolve a sweep spec; every mistake is one EdgeError naming the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise EdgeError(f"cannot read sweep spec {str(path)!r} ({e.strerror}).") from None
    except yaml.YAMLError as e:
        raise EdgeError(f"sweep spec {str(path)!r} is not valid YAML ({str(e).splitlines()[0]}).") from None
    if isinstance(data, dict) and isinstance(data.get("models"), list):
        data = {**data, "models": [_model_mapping(m) for m in data["models"]]}
    try:
        spec = _build(SweepSpec, data, "sweep")
    except (TypeError, ValueError) as e:
        raise EdgeError(f"sweep spec {str(path)!r}: {e}") from None
    return resolve(spec, path.parent)


def _model_mapping(entry):
    """A bare string is a zoo name, or a factory when it holds ':'."""
    if isinstance(entry, str):
        return {"factory": entry} if ":" in entry else {"name": entry}
    return entry


def resolve(spec: SweepSpec, base: Path) -> SweepSpec:
    """Paths relative to the spec's folder; names checked now, before any worker starts."""
    from common.errors import suggest
    from edge.models import list_models
    from edge.targets import TARGETS
    from runtimes.adb import parse_device
    from runtimes.base import ProfileError

    for t in spec.targets:
        if t not in TARGETS:
            raise EdgeError(
                f"sweep spec: unknown target {t!r}.{suggest(t, list(TARGETS))} Targets: {', '.join(TARGETS)}."
            )
        offered = TARGETS[t].quants
        missing = [q for q in spec.quants if q not in offered]
        if missing:
            raise EdgeError(
                f"sweep spec: target {t} does not offer {missing[0]} (it offers {', '.join(offered)}); "
                "a grid needs every quant on every target: drop one or sweep them separately."
            )
    for d in spec.devices:
        try:
            parse_device(d)
        except ProfileError as e:
            raise EdgeError(f"sweep spec: devices: {e}") from None
    models = []
    for m in spec.models:
        if m.name is not None and m.name not in list_models():
            raise EdgeError(
                f"sweep spec: unknown zoo model {m.name!r}.{suggest(m.name, list_models())} "
                "Run 'edge list' for the zoo, or give a factory 'pkg.module:function'."
            )
        m = dataclasses.replace(
            m, weights=_rel(base, m.weights), labels=_rel(base, m.labels), folder=_rel(base, m.folder)
        )
        for p, what in ((m.weights, "weights file"), (m.labels, "labels file")):
            if p is not None and not Path(p).is_file():
                raise EdgeError(f"sweep spec: {what} {p!r} does not exist.")
        models.extend(expand_folder(m, list_models()) if m.folder else [m])
    q = spec.quantization
    if q is not None:
        runner = q.tune_runner if q.tune_runner == "app" else _rel(base, q.tune_runner)
        q = dataclasses.replace(q, calib=_rel(base, q.calib), eval_data=_rel(base, q.eval_data), tune_runner=runner)
        if q.eval_data is not None:
            raise EdgeError("sweep spec: give the evaluation folder as the top-level 'eval_data', not in quantization.")
        if q.calib is not None and not Path(q.calib).exists():
            raise EdgeError(f"sweep spec: quantization.calib {q.calib!r} does not exist.")
    eval_data = _rel(base, spec.eval_data)
    if eval_data is not None and not Path(eval_data).is_dir():
        raise EdgeError(f"sweep spec: eval_data {eval_data!r} is not a folder (one sub-folder of images per class).")
    r = spec.runners
    if r is not None:
        r = Runners(adb=r.adb if r.adb in (None, "app") else _rel(base, r.adb), ios=_rel(base, r.ios))
    if any(d.startswith("adb") for d in spec.devices) and (r is None or r.adb is None):
        raise EdgeError(
            "sweep spec: an adb device needs runners.adb: the phone's edge_bench "
            "(runtimes/native/README.md) or 'app' for the android_demo app."
        )
    return dataclasses.replace(spec, models=models, quantization=q, eval_data=eval_data, runners=r)


def expand_folder(entry: ModelEntry, zoo: list[str]) -> list[ModelEntry]:
    folder = Path(entry.folder)
    if not folder.is_dir():
        raise EdgeError(f"sweep spec: model folder {entry.folder!r} is not a folder.")
    found = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.stem in zoo)
    if not found:
        raise EdgeError(
            f"sweep spec: model folder {entry.folder!r} holds no weights named by a zoo model "
            f"(e.g. mobilevit_xxs.safetensors); 'edge list' names the zoo."
        )
    return [ModelEntry(name=p.stem, weights=str(p), num_classes=entry.num_classes, labels=entry.labels) for p in found]
