"""The runtime adapter interface: load an artifact, run it on numpy arrays, say what ran it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class RuntimeUnavailable(RuntimeError):
    """The runtime for this artifact cannot run on this machine; the message says why."""


class ProfileError(RuntimeError):
    """A measurement could not be made (device missing, runner crashed, bad record); the message says why."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass
class SessionInfo:
    runtime: str  # e.g. "executorch", "litert", "onnxruntime"
    versions: dict[str, str]
    threads: int | None
    delegates: dict = field(default_factory=dict)  # e.g. {"xnnpack_calls": 1, "kernel_calls": 0}
    load_ms: float | None = None  # the runtime's own load, without our header checks


class Session(Protocol):
    info: SessionInfo
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]: ...
