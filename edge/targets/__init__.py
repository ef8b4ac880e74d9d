"""Phone backends, one folder each; `resolve_targets` turns names and presets into Targets."""

from __future__ import annotations

from common.errors import EdgeError, suggest
from edge.targets import coreml, litert, onnx, xnnpack
from edge.targets.base import Availability, Target

TARGETS: dict[str, Target] = {}


def register_target(target: Target) -> None:
    """Make a backend selectable by name (--target, presets aside): its Target carries the rest."""
    if target.name in TARGETS or target.name in PRESETS:
        raise ValueError(f"a target or preset named {target.name!r} already exists")
    TARGETS[target.name] = target


PRESETS: dict[str, tuple[str, ...]] = {
    "android": ("xnnpack", "litert", "onnx"),
    "ios": ("coreml", "xnnpack"),
    "all": ("xnnpack", "litert", "coreml", "onnx"),
}

for _target in (xnnpack.TARGET, litert.TARGET, coreml.TARGET, onnx.TARGET):
    register_target(_target)


def resolve_targets(spec: str | list[str] | tuple[str, ...]) -> list[Target]:
    """'xnnpack,onnx' | 'android' | ['xnnpack', 'ios'] -> ordered, de-duplicated Targets."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[Target] = []
    for raw in names:
        name = raw.strip().lower()
        expanded = PRESETS.get(name, (name,))
        for n in expanded:
            if n not in TARGETS:
                choices = list(TARGETS) + list(PRESETS)
                raise EdgeError(
                    f"unknown target {raw.strip()!r}.{suggest(name, choices)} "
                    f"Targets: {', '.join(TARGETS)}; presets: {', '.join(PRESETS)}."
                )
            if TARGETS[n] not in out:
                out.append(TARGETS[n])
    if not out:
        raise EdgeError("no target given; use --target with one of " + ", ".join(list(TARGETS) + list(PRESETS)))
    return out


__all__ = ["Availability", "Target", "TARGETS", "PRESETS", "register_target", "resolve_targets"]
