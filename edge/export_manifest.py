"""The manifest written beside each artifact: what it is, what it takes and gives, how it was checked."""

from __future__ import annotations

from pathlib import Path

from edge.app_io import manifest_inputs, manifest_outputs
from edge.manifest import SCHEMA_ID, preprocessing_of, sha256_of, size_of, tool_versions
from edge.prepare import PreparedModel
from edge.targets.base import ExportOutcome, Target
from quant.config import QuantConfig


def build_manifest(
    prepared: PreparedModel,
    target: Target,
    quant: str,
    tmp: Path,
    finals: dict,
    outcome: ExportOutcome,
    parity: dict,
    labels,
    image_input: bool = False,
) -> dict:
    cfg = prepared.config
    out_shape = list(prepared.eager_outputs[0].shape)
    extras = {
        suffix.strip(".").split(".")[0]: {"file": finals[suffix].name, "sha256": sha256_of(p), "size_bytes": size_of(p)}
        for suffix, p in outcome.extra_files.items()
    }
    return {
        "schema": SCHEMA_ID,
        "artifact": {
            "file": finals[target.suffix].name,
            "format": target.suffix.lstrip("."),
            "sha256": sha256_of(tmp),
            "size_bytes": size_of(tmp),
            "extra_files": extras,
        },
        "model": {
            "name": prepared.name,
            "family": cfg.family,
            "params": prepared.params,
            "gmacs": prepared.gmacs,
            "config": cfg.to_dict(),
        },
        "target": {"name": target.name, "runtime": target.runtime, "description": target.description},
        "quant": {"scheme": quant},
        "inputs": manifest_inputs(prepared, image_input),
        "outputs": [
            {**o, "source": prepared.output_source} if i == 0 else o
            for i, o in enumerate(manifest_outputs(out_shape, image_input))
        ],
        "preprocessing": preprocessing_of(cfg),
        "labels": list(labels) if labels is not None else None,
        "parity": parity,
        "coverage": outcome.coverage or {"backend": target.name},
        "fallbacks": outcome.fallbacks,
        "versions": tool_versions(target.packages),
        "notes": outcome.notes,
        **({"app": {"input_form": prepared.input_form.name, **outcome.app}} if outcome.app else {}),
        **({"pruning": prepared.pruning} if prepared.pruning else {}),
    }


def quant_record(qconfig: QuantConfig, calibration, outcome: ExportOutcome) -> dict:
    """The manifest's quant section beyond the scheme: I/O dtype, calibration, the mixed-precision plan."""
    record = {"io": qconfig.io}
    if calibration is not None:
        record["calibration"] = calibration.describe()
    if outcome.deployment:
        record["deployment"] = outcome.deployment
    plan = dict(outcome.quant_plan)
    ratio = plan.pop("size_ratio_to_fp32", None)  # a compressed artifact's size relative to fp32 (Core ML)
    if plan:
        record["plan"] = plan
    if ratio is not None:
        record["size_ratio_to_fp32"] = ratio
    return record
