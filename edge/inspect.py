"""`edge inspect`: per backend, what it takes and what it leaves out and why, before and after fallbacks."""

from __future__ import annotations

from pathlib import Path

from common.errors import EdgeError
from common.quiet import captured_output
from edge.coverage import target_coverage
from edge.lowering import apply_lowerings
from edge.prepare import prepare
from edge.targets import resolve_targets

ARTIFACT_SUFFIXES = (".pte", ".tflite", ".onnx", ".ort", ".mlpackage")


def inspect_model(spec, targets="xnnpack", num_classes=None, input_size=None, weights=None) -> list[dict]:
    chosen = resolve_targets(targets)
    prepared = prepare(spec, num_classes=num_classes, input_size=input_size, weights=weights)
    reports = []
    for target in chosen:
        with captured_output():
            naive, _ = apply_lowerings(prepared.program, target, enabled=False)
            lowered, applied = apply_lowerings(prepared.program, target)
            before, after = target_coverage(naive, target), target_coverage(lowered, target)
        reports.append(
            {
                "model": prepared.name,
                "target": target.name,
                "before_fallbacks": before,
                "after_fallbacks": after,
                "fallbacks": applied,
            }
        )
    return reports


def inspect_artifact(path: str | Path, allow_modified: bool = False) -> list[dict]:
    """What the export recorded for an artifact (its manifest), or what the .pte itself says."""
    from edge.integrity import check_artifact, manifest_path_of

    path = Path(path)
    m = check_artifact(path, allow_modified)
    if m is not None:
        return [
            {
                "model": m["model"]["name"],
                "target": m["target"]["name"],
                "after_fallbacks": m["coverage"],
                "fallbacks": m["fallbacks"],
                "source": str(manifest_path_of(path)),
            }
        ]
    if path.suffix == ".pte":
        from runtimes.executorch_rt import pte_instruction_counts

        try:
            counts = pte_instruction_counts(path)
        except Exception as e:  # executorch's flatbuffer reader raises many types on a damaged program
            raise EdgeError(
                f"{str(path)!r} is not a readable .pte program ({type(e).__name__}); re-export it."
            ) from None
        return [
            {
                "model": path.stem,
                "target": "xnnpack",
                "after_fallbacks": counts,
                "fallbacks": None,
                "source": "the .pte's instructions (no manifest beside it)",
            }
        ]
    raise EdgeError(
        f"no manifest beside {str(path)!r} ({path.with_suffix('.json').name}); inspect the model instead, "
        "e.g. 'edge inspect MODEL --target T'."
    )


def is_artifact(spec: str) -> bool:
    return spec.endswith(ARTIFACT_SUFFIXES) and Path(spec).exists()
