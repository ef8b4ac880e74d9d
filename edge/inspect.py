"""`edge inspect`: per backend, what it takes and what it leaves out and why, before and after fallbacks."""
from __future__ import annotations

import json
from pathlib import Path

from edge.coverage import target_coverage
from edge.errors import EdgeError
from edge.lowering import apply_lowerings
from edge.prepare import prepare
from edge.quiet import captured_output
from edge.targets import resolve_targets

ARTIFACT_SUFFIXES = (".pte", ".tflite", ".onnx", ".ort", ".mlpackage")


def inspect_model(spec, targets="xnnpack", num_classes=None, input_size=None, weights=None) -> list[dict]:
    chosen = resolve_targets(targets)
    prepared = prepare(spec, num_classes=num_classes, input_size=input_size, weights=weights)
    reports = []
    for target in chosen:
        with captured_output():
            naive, _ = apply_lowerings(prepared.program, target.name, enabled=False)
            lowered, applied = apply_lowerings(prepared.program, target.name)
            before, after = target_coverage(naive, target), target_coverage(lowered, target)
        reports.append({"model": prepared.name, "target": target.name, "before_fallbacks": before,
                        "after_fallbacks": after, "fallbacks": applied})
    return reports


def inspect_artifact(path: str | Path) -> list[dict]:
    """What the export recorded for an artifact (its manifest), or what the .pte itself says."""
    path = Path(path)
    manifest_path = path.with_name(path.name.rsplit(".", 1)[0] + ".json") if path.suffix != ".ort" else \
        path.with_suffix(".json")
    if manifest_path.is_file():
        m = json.loads(manifest_path.read_text())
        return [{"model": m["model"]["name"], "target": m["target"]["name"], "after_fallbacks": m["coverage"],
                 "fallbacks": m["fallbacks"], "source": str(manifest_path)}]
    if path.suffix == ".pte":
        from runtimes.executorch_rt import pte_instruction_counts
        from runtimes.formats import check_complete, detect_format
        check_complete(path, detect_format(path))
        return [{"model": path.stem, "target": "xnnpack", "after_fallbacks": pte_instruction_counts(path),
                 "fallbacks": None, "source": "the .pte's instructions (no manifest beside it)"}]
    raise EdgeError(f"no manifest beside {str(path)!r} ({manifest_path.name}); inspect the model instead, "
                    "e.g. 'edge inspect MODEL --target T'.")


def is_artifact(spec: str) -> bool:
    return spec.endswith(ARTIFACT_SUFFIXES) and Path(spec).exists()
