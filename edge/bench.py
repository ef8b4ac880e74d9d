"""`edge bench`: one model, one run, same weights and threads: eager torch, our XNNPACK export,
naive ExecuTorch (the model as plain PyTorch, no fallbacks), LiteRT and ONNX Runtime.

Absolute times on a shared machine drift by 10-20% between runs, so the candidates are timed
in interleaved rounds inside one process and compared by ratio.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from common.compare import compare
from common.quiet import captured_output
from edge.lowering import apply_lowerings
from edge.models.layers import plain_pytorch_ops
from edge.prepare import PreparedModel, prepare
from edge.targets import TARGETS
from edge.targets.base import Target
from quant.calibration import load_calibration
from quant.config import QuantConfig
from runtimes.timing import measure

PEERS = ("litert fp32", "onnxruntime fp32")
PRUNED = "edge xnnpack fp32 pruned"


def _speedup(name: str, medians: dict) -> float | None:
    """An int8 row's speed-up over our fp32 export for the same backend."""
    if not name.endswith(" int8"):
        return None
    base = name[: -len(" int8")] + " fp32"
    return round(medians[base] / medians[name], 3) if base in medians else None


def build_artifact(
    prepared: PreparedModel,
    target: Target,
    folder: Path,
    tag: str,
    fallbacks: bool = True,
    quant: str = "fp32",
    calibration=None,
    quant_config: QuantConfig | None = None,
    program=None,
) -> Path:
    """One export of `prepared` to `target` under `folder`, no verification or manifest (for timing).
    `program`: an already lowered program to convert instead of lowering prepared.program here."""
    if program is None:
        program, _ = apply_lowerings(prepared.program, target, enabled=fallbacks)
    config = quant_config or QuantConfig(scheme=quant, deploy_cpu="host")  # timed here: made for this CPU
    path = folder / f"{prepared.name}-{tag}-{target.name}-{config.scheme}{target.suffix}"
    # a baseline (no fallbacks) is the converter's own output: no delegate rewrites either
    options = None if fallbacks else {"as_converted": True}
    target.convert_program(prepared, program, path, config, calibration, options)
    return path


def int8_plan(prepared: PreparedModel) -> list[tuple]:
    """Our fp32 and int8 exports per backend that offers int8, for the int8 speed-ups side by side."""
    plan = [("edge xnnpack int8", prepared, TARGETS["xnnpack"], True, "int8")]
    for target in (TARGETS["litert"], TARGETS["onnx"]):
        if "int8" in target.quants:
            plan += [
                (f"edge {target.name} fp32", prepared, target, True, "fp32"),
                (f"edge {target.name} int8", prepared, target, True, "int8"),
            ]
    return plan


def build_candidates(
    spec,
    folder: Path,
    threads: int,
    input_size=None,
    weights=None,
    progress=print,
    quant: str = "fp32",
    prune=None,
    info: dict | None = None,
) -> tuple[dict, dict]:
    """name -> a zero-argument callable running one inference on the same input; and name -> its output.

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
    xnnpack, litert, onnx = TARGETS["xnnpack"], TARGETS["litert"], TARGETS["onnx"]
    plan = [
        ("edge xnnpack fp32", ours, xnnpack, True, "fp32"),
        ("naive executorch fp32", plain, xnnpack, False, "fp32"),
        ("litert fp32", plain, litert, False, "fp32"),
        ("onnxruntime fp32", plain, onnx, False, "fp32"),
    ]
    if prune is not None:
        progress("pruning, then exporting the pruned model")
        torch.manual_seed(0)
        pruned = prepare(spec, input_size=input_size, weights=weights, prune=prune)
        plan.insert(1, (PRUNED, pruned, xnnpack, True, "fp32"))
        if info is not None:
            info["pruning"] = pruned.pruning
    calibration = None
    if quant == "int8":
        plan += int8_plan(ours)
        calibration = load_calibration(None, ours.config, int(x.shape[1]), samples=16).inputs
    outputs = {"eager torch": eager(x).detach().numpy()}
    paths = {}
    for name, prepared, target, fallbacks, scheme in plan:
        progress(f"converting {name}")
        paths[name] = build_artifact(prepared, target, folder, name.split()[0], fallbacks, scheme, calibration)
    if quant == "int8":
        from edge.bench_peers import peer_int8_artifacts

        progress("converting each peer's own int8 flow (litert-torch, onnxruntime, ExecuTorch)")
        with captured_output():
            peers = peer_int8_artifacts(plain, folder, calibration, paths["onnxruntime fp32"])
        for name, made in peers.items():
            if isinstance(made, Path):
                paths[name] = made
            elif info is not None:
                info.setdefault("peer_failures", {})[name] = made
    for name, path in paths.items():
        session = open_session(path, threads)
        candidates[name] = (lambda s: lambda: s.run(feed))(session)
        outputs[name] = session.run(feed)[0]
    return candidates, outputs


def bench(
    spec,
    threads: int = 2,
    runs: int = 30,
    warmup: int = 5,
    input_size=None,
    weights=None,
    progress=print,
    quant: str = "fp32",
    prune=None,
) -> dict:
    """With quant="int8", our int8 exports join, each with its speed-up over our fp32 export for the same backend."""
    info: dict = {}
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        candidates, outputs = build_candidates(
            spec, Path(tmp), threads, input_size, weights, progress, quant, prune, info
        )
        progress(f"timing {len(candidates)} candidates: {warmup} warm-ups, {runs} runs each, interleaved")
        times = measure(candidates, runs, warmup)
    medians = {name: statistics.median(t) for name, t in times.items()}
    best_peer = min(medians[p] for p in PEERS)
    rows = [
        {
            "name": name,
            "median_ms": round(medians[name], 3),
            "p90_ms": round(float(np.percentile(t, 90)), 3),
            "runs": len(t),
            "ratio_to_best_peer": round(medians[name] / best_peer, 3),
            "cosine_to_eager": round(compare(outputs["eager torch"], outputs[name])["cosine"], 6),
            "speedup_vs_fp32": _speedup(name, medians),
        }
        for name, t in times.items()
    ]
    result = {
        "model": spec if isinstance(spec, str) else type(spec).__name__,
        "threads": threads,
        "best_peer_ms": round(best_peer, 3),
        "rows": rows,
    }
    if prune is not None:
        result.update(pruned_vs_unpruned=round(medians[PRUNED] / medians["edge xnnpack fp32"], 3))
    return {**result, **info}
