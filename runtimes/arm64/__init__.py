"""An emulated ARM64 device: artifacts run on aarch64 builds of their runtimes under qemu-user.

The numbers that come out are ARM64's (NEON, dot-product, fp16 kernels as the emulated CPU model
selects them); the times are the emulator's, not a phone's. Imports nothing of edge or quant.
"""

from runtimes.arm64.cpus import CPU_MODELS, DEFAULT_CPU, FP16_CPUS, parse_cpus
from runtimes.arm64.session import ArmRun, ArmRunError, run_on_arm64
from runtimes.arm64.toolchain import check_ready, missing

__all__ = [
    "ArmRun",
    "ArmRunError",
    "CPU_MODELS",
    "DEFAULT_CPU",
    "FP16_CPUS",
    "check_ready",
    "missing",
    "parse_cpus",
    "run_on_arm64",
]
