"""Shared by the corpus test files: which models each file takes, and the one export per model.

The suite runs with `--dist loadfile` (one file per worker), so the corpus is split over two files
to use both workers. Each model is exported once per file (xnnpack and its rotating second target
from one torch.export) and every test of that model reads the results.
"""

from __future__ import annotations

import os

import pytest

from edge.corpus import ENTRIES

OTHER_TARGETS = ("onnx", "litert", "coreml")  # rotated across models: each model gets xnnpack + one


def other_target(name: str) -> str:
    index = [e.name for e in ENTRIES].index(name)
    return OTHER_TARGETS[index % len(OTHER_TARGETS)]


# CI's subset, within the suite's time budget (one export each took 100-400 s on this shared host under
# load 8, a quarter of that quiet): MiT efficient attention + LiteRT, GRN + ONNX, SDPA with a mask + ONNX,
# GroupNorm/pooling mixer + ONNX. EDGE_CORPUS=full runs all 19 (benchmarks/foreign_models.py: the matrix).
CI_MODELS = ("segformer", "convnextv2", "vit", "poolformer")
FULL = os.environ.get("EDGE_CORPUS") == "full"


def half(which: int) -> list:
    """Alternate models between the two files so both get a mix of light and heavy ones."""
    skip = pytest.mark.skip(
        reason="outside CI's corpus subset (time budget): EDGE_CORPUS=full runs it, "
        "benchmarks/foreign_models.py covers the full matrix"
    )
    return [
        pytest.param(e.name, marks=[pytest.mark.corpus_full] + ([] if FULL else [skip]))
        if e.name not in CI_MODELS
        else e.name
        for i, e in enumerate(ENTRIES)
        if i % 2 == which
    ]


def export_model(name: str, out_dir) -> dict:
    from edge.export import export_targets

    results = export_targets(f"hf:{name}", targets=["xnnpack", other_target(name)], out_dir=out_dir)
    return {r.target: r for r in results}
