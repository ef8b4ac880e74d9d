"""The grid's cells and their keys.

A conversion (model x size x target x quant x prune) makes one artifact; a timing (conversion x device)
makes one profile record. Each has a key hashed from everything that decides its result: the model
spec, the weights' and data's content hashes, the settings, and the versions of the tools involved.
A rerun skips a cell whose stored result carries the same key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from edge.sweep.spec import ModelEntry, SweepSpec

KEY_CHARS = 16


@dataclass(frozen=True)
class Conversion:
    model: ModelEntry
    label: str  # the model's name in the table
    input_size: int | None  # None: the model's own
    target: str
    quant: str
    prune: float  # 0 = unpruned
    key: str

    @property
    def title(self) -> str:
        size = f"{self.input_size}px" if self.input_size else "native"
        prune = f" pruned{round(self.prune * 100)}" if self.prune else ""
        return f"{self.label} {size} {self.target} {self.quant}{prune}"


@dataclass(frozen=True)
class Timing:
    conversion: Conversion
    device: str
    key: str

    @property
    def title(self) -> str:
        return f"{self.conversion.title} on {self.device}"


def content_hash(path: str | Path | None) -> str | None:
    """sha256 of a file, or of a folder's relative paths and file contents (sorted), or None."""
    if path is None:
        return None
    return _content_hash(str(Path(path).resolve()))


@cache
def _content_hash(path: str) -> str:
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def factory_source_hash(factory: str | None) -> str | None:
    """A factory's module file: editing the model's code must rerun its cells."""
    if factory is None:
        return None
    module = factory.partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return content_hash(found.origin) if found and found.origin and Path(found.origin).is_file() else None


def model_label(m: ModelEntry) -> str:
    if m.name:
        return m.name
    return m.factory.rpartition(":")[2]


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:KEY_CHARS]


def conversion_inputs(spec: SweepSpec, m: ModelEntry, size: int | None, target: str, quant: str, prune: float) -> dict:
    """Everything a conversion's result depends on (hashed into its key, stored beside its artifact)."""
    from edge.manifest import tool_versions
    from edge.targets import TARGETS

    q = spec.quantization
    quantization = None
    if quant == "int8" and q is not None:  # the section applies to int8 only
        quantization = {
            **dataclasses.asdict(q),
            "calib": content_hash(q.calib),
            "tune_runner": content_hash(q.tune_runner) if q.tune_runner not in (None, "app") else q.tune_runner,
        }
    return {
        "model": {
            "name": m.name,
            "factory": m.factory,
            "factory_source": factory_source_hash(m.factory),
            "weights": content_hash(m.weights),
            "num_classes": m.num_classes,
            "labels": content_hash(m.labels),
        },
        "input_size": size,
        "target": target,
        "quant": quant,
        "quantization": quantization,
        "prune": {"ratio": prune, **dataclasses.asdict(spec.pruning)}
        if prune and spec.pruning
        else ({"ratio": prune} if prune else None),
        "eval_data": content_hash(spec.eval_data),
        "versions": tool_versions(TARGETS[target].packages),
    }


def timing_inputs(spec: SweepSpec, conversion: Conversion, device: str) -> dict:
    runner = None
    if spec.runners is not None:
        kind = device.partition(":")[0]
        runner = getattr(spec.runners, kind, None) if kind in ("adb", "ios") else None
        runner = content_hash(runner) if runner not in (None, "app") and Path(runner).exists() else runner
    return {
        "conversion": conversion.key,
        "device": device,
        "runner": runner,
        "runs": spec.runs,
        "warmup": spec.warmup,
        "threads": spec.threads,
    }


def expand(spec: SweepSpec) -> tuple[list[Conversion], list[Timing]]:
    """Every cell of the grid, in a stable order: model, size, target, quant, prune, then device."""
    conversions, timings = [], []
    labels = [model_label(m) for m in spec.models]
    for m, label in zip(spec.models, labels):
        if labels.count(label) > 1:  # the same zoo model twice, with other weights: tell them apart
            label = f"{label}@{(content_hash(m.weights) or 'random')[:6]}"
        for size in spec.input_sizes or [None]:
            for target in spec.targets:
                for quant in spec.quants:
                    for prune in spec.prune:
                        key = _digest(conversion_inputs(spec, m, size, target, quant, prune))
                        conv = Conversion(m, label, size, target, quant, prune, key)
                        conversions.append(conv)
                        for device in spec.devices:
                            timings.append(Timing(conv, device, _digest(timing_inputs(spec, conv, device))))
    return conversions, timings
