"""The same XNNPACK op under ExecuTorch and under LiteRT on this host, timed side by side.

    PYTHONPATH=. python benchmarks/xnnpack_builds.py [--threads 1] [--runs 300]

ExecuTorch and LiteRT both run convolutions on XNNPACK, and edge bench finds ExecuTorch slower on x86
even on FasterNet, which has no attention. This converts single-op graphs (the convolutions FasterNet
and MobileViT are made of) with each SDK's plain converter, checks both against eager, times them
interleaved, and prints which compiler built each runtime's XNNPACK (the ELF .comment section):
the gap is in the host wheels' builds of the same microkernels, not in the graphs.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from common.quiet import captured_output
from runtimes import open_session
from runtimes.timing import measure

# (name, module, input shape): k x k convolutions run as XNNPACK IGEMM, 1x1 ones as GEMM
CASES = [
    ("conv 1x1 40->80 @56 (GEMM)", lambda: torch.nn.Conv2d(40, 80, 1), (1, 40, 56, 56)),
    ("conv 1x1 160->320 @14 (GEMM)", lambda: torch.nn.Conv2d(160, 320, 1), (1, 160, 14, 14)),
    ("conv 3x3 10->10 @56 (IGEMM)", lambda: torch.nn.Conv2d(10, 10, 3, padding=1), (1, 10, 56, 56)),
    ("conv 3x3 40->40 @14 (IGEMM)", lambda: torch.nn.Conv2d(40, 40, 3, padding=1), (1, 40, 14, 14)),
    ("conv 3x3 64->64 @32 (IGEMM)", lambda: torch.nn.Conv2d(64, 64, 3, padding=1), (1, 64, 32, 32)),
    ("conv 2x2/2 40->80 @56 (IGEMM)", lambda: torch.nn.Conv2d(40, 80, 2, 2), (1, 40, 56, 56)),
    ("conv 4x4/4 3->40 @224 (IGEMM)", lambda: torch.nn.Conv2d(3, 40, 4, 4), (1, 3, 224, 224)),
    ("dwconv 3x3 96 @32", lambda: torch.nn.Conv2d(96, 96, 3, padding=1, groups=96), (1, 96, 32, 32)),
]


def to_pte(model, x, path: Path) -> None:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(model, (x,), strict=False)
    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)


def to_tflite(model, x, path: Path) -> None:
    import litert_torch

    litert_torch.convert(model, (x,)).export(str(path))


def compiler_of(library: str) -> str:
    """The compiler named in a shared library's .comment section (empty when readelf is missing)."""
    try:
        out = subprocess.run(["readelf", "-p", ".comment", library], capture_output=True, text=True).stdout
    except OSError:
        return ""
    lines = [line.split("]", 1)[1].strip() for line in out.splitlines() if "]" in line]
    return lines[0] if lines else ""


def xnnpack_libraries() -> dict[str, str]:
    import importlib.util

    def package_dir(name: str) -> Path:  # executorch is a namespace package: no __file__
        return Path(list(importlib.util.find_spec(name).submodule_search_locations)[0])

    return {
        "executorch": str(package_dir("executorch") / "lib" / "libexecutorch_backend_xnnpack.so"),
        "litert": str(package_dir("ai_edge_litert") / "libpywrap_litert_common.so"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    for runtime, lib in xnnpack_libraries().items():
        print(f"{runtime:10s} XNNPACK in {Path(lib).name}, built by {compiler_of(lib) or '?'}")
    print(f"{'op':32s} {'executorch':>11s} {'litert':>9s} {'et/litert':>10s}   (median ms, {args.threads} thread(s))")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, shape in CASES:
            torch.manual_seed(0)
            model, x = make().eval(), torch.randn(shape)
            pte, tfl = Path(tmp) / "op.pte", Path(tmp) / "op.tflite"
            with captured_output():
                to_pte(model, x, pte)
                to_tflite(model, x, tfl)
            with torch.no_grad():
                expected = model(x).numpy()
            sessions = {"et": open_session(pte, args.threads), "lt": open_session(tfl, args.threads)}
            feed = [x.numpy()]
            for label, session in sessions.items():  # same op, same numbers, before timing it
                np.testing.assert_allclose(session.run(feed)[0], expected, rtol=1e-3, atol=1e-3, err_msg=label)
            times = measure({k: functools.partial(s.run, feed) for k, s in sessions.items()}, args.runs, 20, rounds=6)
            et, lt = (statistics.median(times[k]) for k in ("et", "lt"))
            print(f"{name:32s} {et:11.3f} {lt:9.3f} {et / lt:10.2f}", flush=True)


if __name__ == "__main__":
    main()
