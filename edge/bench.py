"""`edge bench`: one model, one run, same weights and threads: eager torch, our XNNPACK export,
naive ExecuTorch (the model as plain PyTorch, no fallbacks), LiteRT and ONNX Runtime.

Absolute times on a shared machine drift by 10-20% between runs, so the candidates are timed
in interleaved rounds inside one process and compared by ratio.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from edge.lowering import apply_lowerings
from edge.models.layers import plain_pytorch_ops
from edge.prepare import PreparedModel, prepare
from edge.quiet import captured_output
from edge.targets import TARGETS
from edge.targets.base import ExportJob

PEERS = ("litert fp32", "onnxruntime fp32")
PRUNED = "edge xnnpack fp32 pruned"


def _artifact(prepared: PreparedModel, target: str, folder: Path, tag: str, fallbacks: bool) -> Path:
    program, _ = apply_lowerings(prepared.program, target, enabled=fallbacks)
    path = folder / f"{prepared.name}-{tag}{TARGETS[target].suffix}"
    job = ExportJob(path.stem, prepared.model, program, prepared.example_inputs, "fp32", path)
    with captured_output():
        TARGETS[target].load_exporter()(job)
    return path


def build_candidates(spec, folder: Path, threads: int, input_size=None, weights=None, progress=print,
                     prune=None, info: dict | None = None) -> dict:
    """name -> a zero-argument callable running one inference on the same input.

    prune (a quant.prune.PruneConfig): also time our XNNPACK export of the pruned model (same seed,
    so the same weights before pruning); its pruning report goes to info["pruning"]."""
    from runtimes import open_session
    torch.manual_seed(0)
    progress("exporting ours (custom ops + fallbacks)")
    ours = prepare(spec, input_size=input_size, weights=weights)
    with plain_pytorch_ops():
        progress("exporting the plain-PyTorch model for the naive baselines")
        torch.manual_seed(0)  # same seed, same factory: the same random weights as ours
        plain = prepare(spec, input_size=input_size, weights=weights, reparameterize=False)
    x = ours.example_inputs[0].normal_(generator=torch.Generator().manual_seed(1))
    feed = [x.numpy()]
    torch.set_num_threads(threads)
    eager = ours.model
    candidates = {"eager torch": lambda: eager(x)}
    plan = [("edge xnnpack fp32", ours, "xnnpack", True), ("naive executorch fp32", plain, "xnnpack", False),
            ("litert fp32", plain, "litert", False), ("onnxruntime fp32", plain, "onnx", False)]
    if prune is not None:
        progress("pruning, then exporting the pruned model")
        torch.manual_seed(0)
        pruned = prepare(spec, input_size=input_size, weights=weights, prune=prune)
        plan.insert(1, (PRUNED, pruned, "xnnpack", True))
        if info is not None:
            info["pruning"] = pruned.pruning
    for name, prepared, target, fallbacks in plan:
        progress(f"converting {name}")
        session = open_session(_artifact(prepared, target, folder, name.split()[0], fallbacks), threads)
        candidates[name] = (lambda s: lambda: s.run(feed))(session)
    return candidates


def measure(candidates: dict, runs: int, warmup: int, rounds: int = 5) -> dict:
    times = {name: [] for name in candidates}
    with torch.no_grad():
        for fn in candidates.values():
            for _ in range(warmup):
                fn()
        per_round = max(1, runs // rounds)
        for _ in range(rounds):
            for name, fn in candidates.items():
                for _ in range(per_round):
                    start = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - start) * 1e3)
    return times


def bench(spec, threads: int = 2, runs: int = 30, warmup: int = 5, input_size=None, weights=None,
          progress=print, prune=None) -> dict:
    info: dict = {}
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        candidates = build_candidates(spec, Path(tmp), threads, input_size, weights, progress, prune, info)
        progress(f"timing {len(candidates)} candidates: {warmup} warm-ups, {runs} runs each, interleaved")
        times = measure(candidates, runs, warmup)
    medians = {name: statistics.median(t) for name, t in times.items()}
    best_peer = min(medians[p] for p in PEERS)
    rows = [{"name": name, "median_ms": round(medians[name], 3), "p90_ms": round(float(np.percentile(t, 90)), 3),
             "runs": len(t), "ratio_to_best_peer": round(medians[name] / best_peer, 3)} for name, t in times.items()]
    result = {"model": spec if isinstance(spec, str) else type(spec).__name__, "threads": threads,
              "best_peer_ms": round(best_peer, 3), "rows": rows}
    if prune is not None:
        result.update(pruned_vs_unpruned=round(medians[PRUNED] / medians["edge xnnpack fp32"], 3), **info)
    return result
