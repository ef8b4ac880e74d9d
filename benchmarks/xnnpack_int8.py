"""Our XNNPACK int8 export against our XNNPACK fp32 export: speed-up in one process, and where the time goes.

    PYTHONPATH=. python benchmarks/xnnpack_int8.py [--models mobilevit_xxs ...] [--keep-float depthwise] [--top 8]

Exports each zoo model at its native size, fp32 and int8 (calibrated on the stand-in crops), times
both interleaved with runtimes.timing.measure (2 threads), prints the int8 cosine to eager, the speed-up,
and each artifact's top ops by time from ETDump (runtimes.opprofile).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
from pathlib import Path

import torch

from common.compare import compare
from edge.bench import build_artifact
from edge.prepare import prepare
from edge.targets import TARGETS
from quant.calibration import load_calibration
from quant.config import QuantConfig
from runtimes import open_session
from runtimes.opprofile import profile_pte
from runtimes.timing import measure

MODELS = ("mobilevit_xxs", "fasternet_t0", "iformer_t")


def run(name: str, folder: Path, keep_float: tuple[str, ...], top: int, threads: int = 2) -> None:
    torch.manual_seed(0)
    prepared = prepare(name)
    x = prepared.example_inputs[0].normal_(generator=torch.Generator().manual_seed(1))
    reference = prepared.model(x).detach().numpy()
    calibration = load_calibration(None, prepared.config, int(x.shape[1]), samples=16).inputs
    paths = {"fp32": build_artifact(prepared, TARGETS["xnnpack"], folder, "bench", True)}
    paths["int8"] = build_artifact(
        prepared,
        TARGETS["xnnpack"],
        folder,
        "bench",
        True,
        "int8",
        calibration,
        QuantConfig(scheme="int8", keep_float_ops=keep_float),
    )
    feed = [x.numpy()]
    sessions = {q: open_session(p, threads) for q, p in paths.items()}
    cosine = compare(reference, sessions["int8"].run(feed)[0])["cosine"]
    times = measure({q: functools.partial(s.run, feed) for q, s in sessions.items()}, runs=60, warmup=10)
    med = {q: statistics.median(t) for q, t in times.items()}
    print(
        f"{name}: fp32 {med['fp32']:.2f} ms, int8 {med['int8']:.2f} ms, speed-up {med['fp32'] / med['int8']:.2f}x, "
        f"int8 cosine to eager {cosine:.6f}" + (f" (keep float: {', '.join(keep_float)})" if keep_float else "")
    )
    for q, path in paths.items():
        ops = profile_pte(path, feed, 10)["top"][:top]
        print(f"  {q} top ops: " + "; ".join(f"{o['name']} x{o['count']} {o['ms']:.3f} ms" for o in ops), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--keep-float", nargs="*", default=[], help="op types to keep float (quant/config.py)")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-int8-") as tmp:
        for name in args.models:
            run(name, Path(tmp), tuple(args.keep_float), args.top)


if __name__ == "__main__":
    main()
