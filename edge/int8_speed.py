"""Does the int8 artifact pay? Timed against an fp32 conversion of the same lowered program and backend,
side by side in one process on this host; the manifest records both, and a slower int8 is a warning.

An int8 artifact slower than fp32 is a defect worth knowing about before an app ships it: int8 kernels
are not faster everywhere (x86 without VNNI, ops a delegate leaves out). This host is not the phone:
the record names the CPU it was measured on, and --tune-latency adb times on the phone itself.
"""

from __future__ import annotations

import functools
import os
import statistics

from common.quiet import captured_output
from quant.config import QuantConfig
from runtimes.cpu import describe_cpu

RUNS, WARMUP, ROUNDS = 20, 3, 4  # interleaved rounds of RUNS / ROUNDS runs each
MIN_SPEEDUP = 1.0  # below it, the export warns


def int8_speed(run) -> None:
    """The export step (edge.export_steps.STEPS) after verification: sets run.speed.
    $EDGE_INT8_SPEED_CHECK=0 skips it like --no-speed-check (the test suite sets it: one more conversion
    per int8 export; tests/test_int8_speed.py turns it back on)."""
    if not (run.qconfig.is_int8 and run.qconfig.speed_check) or run.image_input:
        return
    if os.environ.get("EDGE_INT8_SPEED_CHECK", "1") == "0":
        return
    if not run.target.availability().can_run:
        run.speed = {"status": "not_run", "reason": run.target.availability().reason}
        return
    from runtimes.timing import measure

    run.step("timing int8 against an fp32 conversion on this host")
    fp32_path = run.tmp.with_name(f"{run.tmp.name}.fp32{run.target.suffix}")  # removed with the temporaries
    threads = min(4, os.cpu_count() or 1)
    with captured_output(run.quiet):
        fp32_outcome = run.target.convert_program(
            run.prepared, run.program, fp32_path, QuantConfig(), options=run.options, inputs=run.form_inputs
        )
        run.temporaries += [fp32_path, *fp32_outcome.extra_files.values()]
        feed = [run.form_input(run.prepared.verify_inputs[0]).numpy()]
        # timed as an app on this CPU runs them: the runtime's default kernels, never the reference path
        # verification may have used for numerics (ONNX QDQ unfused: every int8 op emulated in float)
        sessions = {
            "int8": run.target.open_session(run.tmp, None, threads),
            "fp32": run.target.open_session(fp32_path, None, threads),
        }
        times = measure({k: functools.partial(s.run, feed) for k, s in sessions.items()}, RUNS, WARMUP, ROUNDS)
    int8_ms, fp32_ms = (statistics.median(times[k]) for k in ("int8", "fp32"))
    speedup = fp32_ms / int8_ms
    run.speed = {
        "status": "measured",
        "int8_ms": round(int8_ms, 3),
        "fp32_ms": round(fp32_ms, 3),
        "speedup": round(speedup, 3),
        "threads": threads,
        "runs": RUNS,
        "host": describe_cpu(),
        "kernels": "the runtime's default kernels on this host" + _unlike_verification(run.outcome),
        "note": "median of interleaved runs on the exporting host; a phone's int8 kernels differ",
    }
    if speedup < MIN_SPEEDUP:
        run.speed["warning"] = (
            f"int8 is not faster than fp32 here ({speedup:.2f}x); --tune-latency puts the op types "
            "whose int8 kernels are slower back to float"
        )
        run.step(f"WARNING: {run.speed['warning']} (measured on {run.speed['host']['model']})")


def _unlike_verification(outcome) -> str:
    """Where verification ran the int8 artifact another way (for numerics this host's kernels do not
    compute exactly), say so: the time is the default kernels', the parity the reference path's."""
    config = (outcome.verify_config or {}).get("session_config") if outcome is not None else None
    return f" (verification ran it with {config} instead)" if config else ""
