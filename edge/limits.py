"""One validation of the numbers every command takes: sizes, counts, threads, ratios.

Zero is a value, never "not given": each limit says what it accepts and why, and the same check
serves the CLI (as argparse types, so a bad value is that option's one-line error) and the Python
API (`check`, raising EdgeError).
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass

from common.errors import EdgeError

# A phone SoC has at most 12 cores today; more threads than that only oversubscribes it.
DEVICE_THREADS_MAX = 16


@dataclass(frozen=True)
class Limit:
    name: str  # as the user writes it, e.g. "--input-size"
    low: float
    high: float
    why: str = ""  # why the bound is where it is
    integer: bool = True

    def problem(self, value) -> str | None:
        """What is wrong with `value` ("must be ...; got X"), or None."""
        kind = "an integer" if self.integer else "a number"
        if (
            isinstance(value, bool)
            or (self.integer and not isinstance(value, int))
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            return f"must be {kind} between {self._fmt(self.low)} and {self._fmt(self.high)}; got {value!r}"
        if not self.low <= value <= self.high:
            why = f" ({self.why})" if self.why else ""
            return f"must be between {self._fmt(self.low)} and {self._fmt(self.high)}{why}; got {value!r}"
        return None

    def check(self, value):
        """The value, or EdgeError naming the option, the range and the reason."""
        problem = self.problem(value)
        if problem:
            raise EdgeError(f"{self.name} {problem}.")
        return value

    def parse(self, text: str):
        """argparse `type=`: a malformed or out-of-range value becomes that option's one-line error."""
        try:
            value = int(text) if self.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"needs {'an integer' if self.integer else 'a number'}; got {text!r}"
            ) from None
        problem = self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    @staticmethod
    def _fmt(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else str(v)


INPUT_SIZE = Limit("--input-size", 16, 1024, "a square image side in pixels; 1024 px already needs GBs to export")
NUM_CLASSES = Limit("--num-classes", 1, 100_000)
RUNS = Limit("--runs", 1, 100_000)
WARMUP = Limit("--warmup", 0, 100_000)
CALIB_SAMPLES = Limit("--calib-samples", 1, 10_000)
LIMIT_IMAGES = Limit("--limit", 1, 10_000_000)


def host_threads() -> Limit:
    cores = os.cpu_count() or 1
    return Limit("--threads", 1, cores, f"this host has {cores} cores; more threads only oversubscribe them")


def device_threads() -> Limit:
    return Limit("--threads", 1, DEVICE_THREADS_MAX, "no phone has more cores")


def threads_for(device: str, threads: int | None) -> int | None:
    """--threads checked against the device that will run: this host's cores, or a phone's."""
    if threads is None:
        return None
    return (host_threads() if device in ("host", "") else device_threads()).check(threads)


def any_threads(text: str) -> int:
    """argparse type for --threads before the device is known: a positive integer; the cap comes later."""
    return Limit("--threads", 1, DEVICE_THREADS_MAX, "no phone has more cores").parse(text)


def optional(limit: Limit, value):
    return None if value is None else limit.check(value)
