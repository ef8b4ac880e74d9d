"""The latency half of the int8 plan (--tune-latency): an op type goes back to float when that runs faster.

An int8 kernel is not faster than its float one everywhere. On this x86 host (AVX-512),
XNNPACK's QC8 depthwise kernels run iFormer-T's 7x7 depthwise layers 1.5-1.8x slower than F32
(ETDump: 1.53 ms against 0.87 ms for all of them), while ARM phones with dot-product instructions
run int8 depthwise convs well. So the choice is measured, in context, on the machine the artifact
is tuned on: the whole model is converted with and without the op type in float, both artifacts
are timed interleaved in one process (runtimes.timing.measure, same input and threads), and the
float-back is kept only when it is faster by more than MARGIN. Numerics can only get closer to
fp32 by it; the parity check still runs on the final artifact.

Where it is timed matters: a host's timings say nothing about a phone whose int8 kernels differ. So
it is off by default, and `adb[:SERIAL]` times the candidates on the phone itself (edge_bench over
adb, or the android_demo app for .tflite/.onnx), alternating them for ROUNDS rounds against drift.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import statistics
from collections.abc import Callable
from pathlib import Path

import torch

from quant.config import QuantConfig
from quant.pt2e import op_types_of

MARGIN = 0.03  # a float-back must save more than 3% of the model's latency to be kept
RUNS = 40
ROUNDS = 2  # on a phone: int8, float, int8, float (each a runner launch)
HOST_ROUNDS = 5  # on the host: interleaved rounds of RUNS / 5 runs each


def candidates_for(
    candidates: tuple[str, ...], program: torch.export.ExportedProgram, qconfig: QuantConfig
) -> list[str]:
    """The backend's candidate op types (its Target's latency_candidates) that occur in the program
    and are not already float."""
    present = {t for node in program.graph.nodes for t in op_types_of(node)}
    return [op for op in candidates if op in present and op not in qconfig.keep_float_ops]


def tune_latency(
    program,
    candidates: tuple[str, ...],
    qconfig: QuantConfig,
    convert: Callable,
    suffix: str,
    workdir: Path,
    feed,
    threads: int | None = None,
    say=lambda msg: None,
) -> tuple[QuantConfig, dict, tuple | None]:
    """`convert(config, path)` writes the backend's artifact (`suffix`) with that config and returns its
    ExportOutcome; `feed` is the input it is timed on. Returns the config with the float-backs that
    measured faster, the record for the manifest, and (path, ExportOutcome) of the trial already
    converted with that config (under workdir), if any."""
    device = qconfig.tune_latency or "host"
    trials, converted = [], {}
    for op in candidates_for(candidates, program, qconfig):
        trial = dataclasses.replace(qconfig, keep_float_ops=qconfig.keep_float_ops + (op,))
        say(f"timing int8 against int8 with {op} in float on {device}")
        paths = {}
        for name, config in (("int8", qconfig), ("float", trial)):
            if config not in converted:
                path = workdir / f"trial{len(converted)}{suffix}"
                converted[config] = (path, convert(config, path))
            paths[name] = converted[config][0]
        rounds = time_artifacts(paths, device, qconfig.tune_runner, threads, feed)
        med = {name: round(statistics.median(r), 3) for name, r in rounds.items()}
        won = sum(f < i for f, i in zip(rounds["float"], rounds["int8"]))
        # faster by the margin overall and in every round: noise must not flip a decision
        kept = med["float"] < med["int8"] * (1 - MARGIN) and won == len(rounds["int8"])
        trials.append(
            {
                "float": op,
                "int8_ms": med["int8"],
                "with_float_ms": med["float"],
                "float_faster_in_rounds": f"{won}/{len(rounds['int8'])}",
                "kept": kept,
            }
        )
        say(f"int8 {med['int8']} ms, {op} in float {med['float']} ms: {op} stays {'float' if kept else 'int8'}")
        if kept:
            qconfig = trial
    how = (
        f"whole-model timing on this host, {HOST_ROUNDS} interleaved rounds, {RUNS} runs"
        if device == "host"
        else f"whole-model timing on {device} ({'android_demo' if qconfig.tune_runner == 'app' else 'edge_bench'}), "
        f"{ROUNDS} alternating rounds of {RUNS} runs, median of their p50s"
    )
    record = {
        "decided_by": f"--tune-latency {device}: {how}; float-back kept when over {MARGIN:.0%} faster "
        "(median of the round medians) and faster in every round",
        "device": device,
        "trials": trials,
        "keep_float_ops": [t["float"] for t in trials if t["kept"]],
    }
    return qconfig, record, converted.get(qconfig)


def time_artifacts(paths: dict, device: str, runner: str | None, threads: int | None, feed) -> dict:
    """name -> the artifact's median latency in ms in each round, on the device."""
    from common.errors import EdgeError
    from common.quiet import captured_output
    from runtimes import ArtifactError, ProfileError, RuntimeUnavailable

    try:
        with captured_output():  # the runtimes announce their thread pools on stderr
            times = (
                _time_on_host(paths, threads, feed)
                if device == "host"
                else _time_on_adb(paths, device, runner, threads)
            )
    except (ArtifactError, ProfileError, RuntimeUnavailable) as e:
        raise EdgeError(f"--tune-latency {device}: {e}") from None
    return times


def _per_round(samples: list[float], rounds: int) -> list[float]:
    """Median of each round's samples (runtimes.timing.measure appends them round after round)."""
    size = max(1, len(samples) // rounds)
    return [statistics.median(samples[i : i + size]) for i in range(0, size * (len(samples) // size), size)]


def _time_on_host(paths: dict, threads: int | None, feed) -> dict:
    from runtimes import open_session
    from runtimes.timing import measure

    sessions = {name: open_session(path, threads or os.cpu_count()) for name, path in paths.items()}
    times = measure(
        {name: functools.partial(s.run, [feed]) for name, s in sessions.items()},
        runs=RUNS,
        warmup=5,
        rounds=HOST_ROUNDS,
    )
    return {name: _per_round(t, HOST_ROUNDS) for name, t in times.items()}


def _time_on_adb(paths: dict, device: str, runner: str, threads: int | None) -> dict:
    serial = device.partition(":")[2] or None
    if runner == "app":
        from runtimes.adb_app import profile_adb_app as profile

        kwargs = {}
    else:
        from runtimes.adb import profile_adb as profile

        kwargs = {"runner": runner}
    times = {name: [] for name in paths}
    for _ in range(ROUNDS):
        for name, path in paths.items():
            record = profile(path, serial=serial, runs=RUNS, warmup=5, threads=threads, **kwargs)
            times[name].append(record["latency_ms"]["p50"])
    return times
