"""Checks of a measurement request (run counts, threads, CPU masks) shared by every device's profiler."""

from __future__ import annotations

import re

from runtimes.base import ProfileError


def check_counts(runs: int, warmup: int, threads: int | None) -> None:
    if runs < 1:
        raise ProfileError(f"--runs must be at least 1 (50 or more for a number worth quoting); got {runs}.")
    if warmup < 0:
        raise ProfileError(f"--warmup cannot be negative; got {warmup}.")
    if threads is not None and threads < 1:
        raise ProfileError(f"--threads must be at least 1; got {threads}.")


def check_taskset(mask: str | None) -> str | None:
    if mask is None:
        return None
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{1,16}", mask) or int(mask, 16) == 0:
        raise ProfileError(
            f"--taskset takes a hexadecimal CPU mask such as f0 (the big cores of many phones); got {mask!r}."
        )
    return mask
