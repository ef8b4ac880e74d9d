"""Shared by the corpus test files: which models each file takes, and the one export per model.

The suite runs with `--dist loadfile` (one file per worker), so the corpus is split over two files
to use both workers. Each model is exported once per file (xnnpack and its rotating second target
from one torch.export) and every test of that model reads the results.
"""
from __future__ import annotations

from edge.corpus import ENTRIES

OTHER_TARGETS = ("onnx", "litert", "coreml")  # rotated across models: each model gets xnnpack + one


def other_target(name: str) -> str:
    index = [e.name for e in ENTRIES].index(name)
    return OTHER_TARGETS[index % len(OTHER_TARGETS)]


def half(which: int) -> list[str]:
    """Alternate models between the two files so both get a mix of light and heavy ones."""
    return [e.name for i, e in enumerate(ENTRIES) if i % 2 == which]


def export_model(name: str, out_dir) -> dict:
    from edge.export import export_targets
    results = export_targets(f"hf:{name}", targets=["xnnpack", other_target(name)], out_dir=out_dir)
    return {r.target: r for r in results}
