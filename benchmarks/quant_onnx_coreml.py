"""ONNX int8 vs fp32 speed (same process, interleaved) and Core ML compressed package sizes.

    PYTHONPATH=. python benchmarks/quant_onnx_coreml.py -o out/quant [--threads 2 1] [--rounds 3] [--no-coreml]

Exports each zoo model at its native size through the pipeline (verified artifacts and manifests),
then times fp32 and int8 .onnx/.ort side by side with runtimes.timing.measure, once per round.
"""

from __future__ import annotations

import argparse
import functools
import statistics
from pathlib import Path

import torch

from edge.export import export
from runtimes import open_session
from runtimes.timing import measure

MODELS = ("mobilevit_xxs", "fasternet_t0", "iformer_t")


def onnx_ratios(name: str, out: Path, threads: list[int], rounds: int) -> None:
    manifests = {}
    for quant in ("fp32", "int8"):
        torch.manual_seed(0)
        manifests[quant] = export(name, target="onnx", quant=quant, out_dir=out).manifest
    parity = manifests["int8"]["parity"]
    print(f"{name} int8 cosine .onnx {parity['cosine']:.6f} .ort {parity['extra_files']['ort']['cosine']:.6f}")
    size = manifests["fp32"]["inputs"][0]["shape"][-1]
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1)).numpy()
    for n in threads:
        sessions = {
            f"{q}{ext}": open_session(out / f"{name}-onnx-{q}{ext}", n)
            for q in ("fp32", "int8")
            for ext in (".onnx", ".ort")
        }
        for r in range(rounds):
            times = measure({k: functools.partial(s.run, [x]) for k, s in sessions.items()}, runs=60, warmup=10)
            med = {k: statistics.median(v) for k, v in times.items()}
            print(
                f"{name} threads={n} round {r}: "
                + " ".join(f"{k} {v:.2f} ms" for k, v in med.items())
                + f" | int8 speed-up .onnx {med['fp32.onnx'] / med['int8.onnx']:.2f}x"
                f" .ort {med['fp32.ort'] / med['int8.ort']:.2f}x",
                flush=True,
            )


def coreml_sizes(name: str, out: Path) -> None:
    for quant in ("fp32", "int8", "w8", "pal4", "pal6"):
        torch.manual_seed(0)
        m = export(name, target="coreml", quant=quant, out_dir=out).manifest
        print(
            f"{name} coreml {quant}: {m['artifact']['size_bytes']} bytes, size ratio to fp32 "
            f"{m['quant'].get('size_ratio_to_fp32', 1.0)}, spec {m['parity']['validation']['status']}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("out/quant"))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-coreml", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        onnx_ratios(name, args.out, args.threads, args.rounds)
        if not args.no_coreml:
            coreml_sizes(name, args.out)


if __name__ == "__main__":
    main()
