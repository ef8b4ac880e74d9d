"""Per-op profiles: ETDump (read with ExecuTorch's Inspector) and onnxruntime's profiler JSON.

Both become the record's `ops` block: a summary plus the top op types by time per inference, where
an op type's time is the median over the profiled runs of each occurrence, summed over occurrences.
Profiles are taken in runs apart from the timed ones, because tracing costs time itself.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from runtimes.base import ProfileError

TOP_N = 15
_INSTANCE = re.compile(r"\s*#\d+$")  # XNNPACK names each operator instance "Convolution (NHWC, F32) #3"

NO_PROFILER_LITERT = (
    "ai-edge-litert's Python Interpreter exposes no op profiler; LiteRT's benchmark_model "
    "--enable_op_profiling=true gives one"
)


def unavailable(reason: str) -> dict:
    return {"available": False, "source": None, "reason": reason, "top": []}


def _top(per_type: dict[tuple[str, str], list], total_ms: float) -> list[dict]:
    rows = [
        {
            "name": name,
            "kind": kind,
            "count": len(times),
            "ms": round(sum(times), 4),
            "percent": round(100 * sum(times) / total_ms, 2) if total_ms > 0 else None,
        }
        for (name, kind), times in per_type.items()
    ]
    rows.sort(key=lambda r: r["ms"], reverse=True)
    return rows[:TOP_N]


def summarize_etdump(etdump_path: str | Path) -> dict:
    """Delegate calls, operators run outside a delegate, and the operators inside the delegate (XNNPACK)."""
    from executorch.devtools import Inspector

    try:
        inspector = Inspector(etdump_path=str(etdump_path))
    except Exception as e:  # the Inspector raises bare Exceptions and flatbuffer errors for a bad file
        raise ProfileError(f"ETDump {str(etdump_path)!r} cannot be read ({str(e).splitlines()[0][:160]}).") from None
    delegate_calls, operator_calls = [], []
    leaves: dict[tuple[str, str], list] = defaultdict(list)
    runs = 0
    for block in inspector.event_blocks:
        if block.name != "Execute":
            continue
        for event in block.events:
            raw = event.perf_data.raw if event.perf_data is not None else None
            if not raw:
                continue
            runs = max(runs, len(raw))
            ms = statistics.median(raw)  # the Inspector reports milliseconds
            if event.name == "DELEGATE_CALL":
                delegate_calls.append(ms)
            elif event.name == "OPERATOR_CALL":
                operator_calls.append(ms)
            elif event.is_delegated_op:
                leaves[(_INSTANCE.sub("", event.name), "delegated")].append(ms)
            elif event.name.startswith("native_call_"):
                leaves[(event.name.removeprefix("native_call_"), "operator")].append(ms)
    if not runs:
        return unavailable("the ETDump holds no timed events (was the program run after loading?)")
    total = sum(delegate_calls) + sum(operator_calls)
    return {
        "available": True,
        "source": "etdump",
        "runs": runs,
        "file": None,
        "summary": {
            "delegate_calls": len(delegate_calls),
            "delegate_ms": round(sum(delegate_calls), 4),
            "slowest_delegate_call_ms": round(max(delegate_calls, default=0.0), 4),
            "operator_calls": len(operator_calls),
            "operator_ms": round(sum(operator_calls), 4),
            "total_ms": round(total, 4),
        },
        "top": _top(leaves, total),
    }


def summarize_ort_profile(trace_path: str | Path) -> dict:
    """onnxruntime's Chrome-trace JSON: one `<node>_kernel_time` event per node per run, in µs."""
    try:
        events = json.loads(Path(trace_path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ProfileError(f"onnxruntime profile {str(trace_path)!r} cannot be read ({e}).") from None
    per_node: dict[str, list[float]] = defaultdict(list)
    op_of: dict[str, str] = {}
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_node[event["name"]].append(event["dur"] / 1e3)
            op_of[event["name"]] = event.get("args", {}).get("op_name", "?")
    if not per_node:
        return unavailable("the onnxruntime profile holds no node events")
    runs = max(len(v) for v in per_node.values())
    leaves: dict[tuple[str, str], list] = defaultdict(list)
    for name, durations in per_node.items():
        leaves[(op_of[name], "node")].append(statistics.median(durations))
    total = sum(sum(v) for v in leaves.values())
    return {
        "available": True,
        "source": "onnxruntime_profiler",
        "runs": runs,
        "file": None,
        "summary": {"nodes": len(per_node), "total_ms": round(total, 4)},
        "top": _top(leaves, total),
    }


def profile_pte(path: Path, inputs: list, runs: int) -> dict:
    """Load the program again with ETDump on, run it, and read the dump (Python bindings)."""
    import torch
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(str(path), enable_etdump=True, debug_buffer_size=0)
    method = program.load_method("forward")
    tensors = [torch.from_numpy(x) for x in inputs]
    method.execute(tensors)  # first run allocates; not part of the profile's median anyway
    for _ in range(runs):
        method.execute(tensors)
    with tempfile.TemporaryDirectory(prefix="edge-etdump-") as tmp:
        dump = Path(tmp) / "profile.etdp"
        program.write_etdump_result_to_file(str(dump), str(Path(tmp) / "debug.bin"))
        return summarize_etdump(dump)


def profile_onnx(path: Path, inputs: list, runs: int, threads: int | None) -> dict:
    from runtimes.onnxruntime_rt import OnnxRuntimeSession

    with tempfile.TemporaryDirectory(prefix="edge-ortprof-") as tmp:
        session = OnnxRuntimeSession(path, threads, profile_prefix=str(Path(tmp) / "ort"))
        for _ in range(runs + 1):
            session.run(inputs)
        return summarize_ort_profile(session.end_profiling())


def profile_ops(fmt: str, path: Path, inputs: list, runs: int, threads: int | None) -> dict:
    if fmt == "pte":
        return profile_pte(path, inputs, runs)
    if fmt in ("onnx", "ort"):
        return profile_onnx(path, inputs, runs, threads)
    if fmt == "tflite":
        return unavailable(NO_PROFILER_LITERT)
    return unavailable(f"no per-op profiler for .{fmt} here")
