"""The emulated ARM64 CPUs: qemu's CPU models, what their /proc/cpuinfo says, the features they turn on.

qemu-user 7.2 passes the host's /proc/cpuinfo through to the guest. cpuinfo (the library inside
XNNPACK, onnxruntime and LiteRT) reads it to learn the core's micro-architecture and, on x86 text,
finds no ARM core and crashes onnxruntime at load. Each model here therefore gets the text a Linux
kernel prints on that core (implementer, part, variant, revision: its MIDR_EL1), served from the
emulator's -L prefix (toolchain.py). The ISA features kernels dispatch on (dot product, fp16, i8mm)
come from the auxiliary vector, which qemu fills from the emulated CPU itself: `decode_hwcaps`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from runtimes.base import ProfileError


@dataclass(frozen=True)
class CpuModel:
    name: str  # qemu -cpu NAME
    implementer: int  # MIDR_EL1 fields, as the kernel prints them in /proc/cpuinfo
    variant: int
    part: int
    revision: int
    isa: str  # for people: the architecture level and what it adds for ML kernels


CPU_MODELS = {
    c.name: c
    for c in (
        CpuModel("cortex-a35", 0x41, 0x0, 0xD04, 2, "ARMv8.0 little core: NEON, no fp16 arithmetic, no dot product"),
        CpuModel("cortex-a53", 0x41, 0x0, 0xD03, 4, "ARMv8.0 little core: NEON, no fp16 arithmetic, no dot product"),
        CpuModel("cortex-a57", 0x41, 0x1, 0xD07, 1, "ARMv8.0 big core: NEON"),
        CpuModel("cortex-a72", 0x41, 0x0, 0xD08, 3, "ARMv8.0 big core: NEON"),
        CpuModel("cortex-a76", 0x41, 0x4, 0xD0B, 1, "ARMv8.2 big core: fp16 arithmetic, int8 dot product"),
        CpuModel("neoverse-n1", 0x41, 0x4, 0xD0C, 1, "ARMv8.2 server core (Cortex-A76 class)"),
        CpuModel("a64fx", 0x46, 0x1, 0x001, 0, "ARMv8.2 with 512-bit SVE"),
        CpuModel("max", 0x00, 0x0, 0x051, 0, "every feature qemu emulates (ARMv8.x/9: SVE2, i8mm, bf16, ...)"),
    )
}
DEFAULT_CPU = "cortex-a76"
FP16_CPUS = ("cortex-a76", "neoverse-n1", "a64fx", "max")  # ARMv8.2+: fp16 vector arithmetic (asimdhp)

# Linux arm64 AT_HWCAP / AT_HWCAP2 bits (arch/arm64/include/uapi/asm/hwcap.h), the ones ML kernels use
_HWCAP = {
    0: "fp",
    1: "asimd",
    3: "aes",
    4: "pmull",
    7: "crc32",
    8: "atomics",
    9: "fphp",
    10: "asimdhp",
    12: "asimdrdm",
    20: "asimddp",
    22: "sve",
    23: "asimdfhm",
}
_HWCAP2 = {1: "sve2", 13: "i8mm", 14: "bf16", 23: "sme"}


def parse_cpus(spec: str, many: bool = True) -> list[str]:
    """'arm64' | 'arm64:CPU' | 'arm64:CPU,CPU' -> qemu CPU model names, checked."""
    kind, sep, rest = spec.partition(":")
    if kind != "arm64":
        raise ProfileError(
            f"{spec!r} is not an ARM64 device; use arm64 or arm64:CPU[,CPU] with CPU one of {', '.join(CPU_MODELS)}."
        )
    names = [n.strip() for n in rest.split(",")] if sep else [DEFAULT_CPU]
    for name in names:
        if name not in CPU_MODELS:
            raise ProfileError(f"unknown emulated CPU {name!r} in {spec!r}; qemu offers {', '.join(CPU_MODELS)}.")
    if len(set(names)) != len(names):
        raise ProfileError(f"{spec!r} names a CPU twice.")
    if not many and len(names) != 1:
        raise ProfileError(f"{spec!r} names {len(names)} CPUs; a profile runs on one (arm64:CPU).")
    return names


def cpuinfo_text(name: str, cores: int | None = None) -> str:
    """/proc/cpuinfo as a Linux kernel prints it on `cores` cores of this model (the host's count by default)."""
    c = CPU_MODELS[name]
    block = (
        f"BogoMIPS\t: 50.00\nCPU implementer\t: 0x{c.implementer:02x}\nCPU architecture: 8\n"
        f"CPU variant\t: 0x{c.variant:x}\nCPU part\t: 0x{c.part:03x}\nCPU revision\t: {c.revision}\n\n"
    )
    return "".join(f"processor\t: {i}\n{block}" for i in range(cores or os.cpu_count() or 1))


def midr_of(name: str) -> int:
    c = CPU_MODELS[name]
    return c.implementer << 24 | c.variant << 20 | 0xF << 16 | c.part << 4 | c.revision


def decode_hwcaps(hwcap: int, hwcap2: int) -> list[str]:
    """The ML-relevant feature names (as /proc/cpuinfo spells them) that the auxiliary vector turns on."""
    on = [name for bit, name in _HWCAP.items() if hwcap >> bit & 1]
    return on + [name for bit, name in _HWCAP2.items() if hwcap2 >> bit & 1]
