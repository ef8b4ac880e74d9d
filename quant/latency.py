"""The latency half of the int8 plan (--tune-latency): an op type goes back to float when that runs faster.

An int8 kernel is not faster than its float one everywhere. On this x86 host (AVX-512),
XNNPACK's QC8 depthwise kernels run iFormer-T's 7x7 depthwise layers 1.5-1.8x slower than F32
(ETDump: 1.53 ms against 0.87 ms for all of them), while ARM phones with dot-product instructions
run int8 depthwise convs well. So the choice is measured, in context, on the machine the artifact
is tuned on: the whole model is converted with and without the op type in float, both artifacts
are timed interleaved in one process (edge.bench.measure, same input and threads), and the
float-back is kept only when it is faster by more than MARGIN. Numerics can only get closer to
fp32 by it; the parity check still runs on the final artifact.

Measured on the host only: the timings say nothing about a phone whose int8 kernels differ, so it
is off by default; tune on a phone by profiling there (edge profile --device adb) and passing
--keep-float.
"""
from __future__ import annotations

import dataclasses
import statistics
import tempfile
from pathlib import Path

import torch

from quant.config import QuantConfig
from quant.pt2e import op_types_of

# Op types whose int8 kernels are slower than float on some CPUs, per backend, tried in this order.
CANDIDATES = {"xnnpack": ("depthwise",), "onnx": ("depthwise",), "litert": ("depthwise",)}
MARGIN = 0.03   # a float-back must save more than 3% of the model's latency to be kept
RUNS = 40


def candidates_for(target: str, program: torch.export.ExportedProgram, qconfig: QuantConfig) -> list[str]:
    """The backend's candidates that occur in the program and are not already float."""
    present = {t for node in program.graph.nodes for t in op_types_of(node)}
    return [op for op in CANDIDATES.get(target, ()) if op in present and op not in qconfig.keep_float_ops]


def tune_latency(prepared, program, target: str, qconfig: QuantConfig, calibration: list[torch.Tensor],
                 threads: int = 2, say=lambda msg: None) -> tuple[QuantConfig, dict]:
    """Returns the config with the float-backs that measured faster, and the record for the manifest."""
    from edge.bench import build_artifact, measure
    from edge.quiet import captured_output
    from runtimes import open_session
    trials = []
    feed = [prepared.verify_inputs[0].numpy()]
    with tempfile.TemporaryDirectory(prefix="edge-tune-") as tmp:
        folder = Path(tmp)
        for op in candidates_for(target, program, qconfig):
            trial = dataclasses.replace(qconfig, keep_float_ops=qconfig.keep_float_ops + (op,))
            say(f"timing int8 against int8 with {op} in float on this host")
            paths = {name: build_artifact(prepared, target, folder, f"tune{len(trials)}{name}", quant="int8",
                                          calibration=calibration, quant_config=config, program=program)
                     for name, config in (("int8", qconfig), ("float", trial))}
            with captured_output():  # the runtimes announce their thread pools on stderr
                sessions = {name: open_session(path, threads) for name, path in paths.items()}
                times = measure({name: (lambda s: lambda: s.run(feed))(s) for name, s in sessions.items()},
                                runs=RUNS, warmup=5)
            med = {name: round(statistics.median(t), 3) for name, t in times.items()}
            kept = med["float"] < med["int8"] * (1 - MARGIN)
            trials.append({"float": op, "int8_ms": med["int8"], "with_float_ms": med["float"], "kept": kept})
            say(f"{op}: int8 {med['int8']} ms, with {op} in float {med['float']} ms -> "
                + (f"{op} stays float" if kept else f"{op} stays int8"))
            if kept:
                qconfig = trial
    record = {"decided_by": f"--tune-latency: whole-model timing on this host, {threads} threads, median of {RUNS}, "
                            f"float-back kept when over {MARGIN:.0%} faster",
              "trials": trials, "keep_float_ops": [t["float"] for t in trials if t["kept"]]}
    return qconfig, record
