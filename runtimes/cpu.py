"""The CPU this machine has, reduced to the classes that decide how int8 kernels compute.

x86 without VNNI multiplies uint8 by int8 with `vpmaddubsw`, which sums two products into a
saturating int16: full-range int8 weights can overflow it (onnxruntime's "U8S8 saturation").
VNNI (`vpdpbusd`) and ARM64's dot products accumulate in int32 and cannot.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

CPU_CLASSES = ("arm64", "x86-vnni", "x86-avx2", "x86")
_REPORTED = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_int8",  # x86
    "asimd",
    "asimddp",
    "fphp",
    "asimdhp",
    "i8mm",
    "sve",
    "bf16",
)  # arm64 (/proc/cpuinfo names)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The feature flags /proc/cpuinfo lists for the first CPU (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def cpu_class(flags: frozenset[str] | None = None, machine: str | None = None) -> str:
    """One of CPU_CLASSES for this machine (or for the given flags and `platform.machine()`)."""
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return "arm64"
    flags = cpu_flags() if flags is None else flags
    if flags & {"avx512_vnni", "avx_vnni"}:
        return "x86-vnni"
    return "x86-avx2" if "avx2" in flags else "x86"


def describe_cpu() -> dict:
    """For manifests and records: the class, the model name and the int8-relevant features that are on."""
    model = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu part")):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "class": cpu_class(),
        "model": model,
        "machine": platform.machine(),
        "features": sorted(f for f in cpu_flags() if f in _REPORTED),
    }
