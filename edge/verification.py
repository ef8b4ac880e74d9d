"""Verification of a converted artifact: parity with eager on the verification inputs, and top-1 on
labelled data. An artifact below its precision's bound fails the export (nothing is written)."""

from __future__ import annotations

from pathlib import Path

from common.compare import COSINE_BOUNDS, compare, summarize
from common.errors import ExportError
from edge.prepare import PreparedModel
from edge.targets.base import ExportOutcome, Target
from quant.config import QuantConfig


class BelowBound(ExportError):
    """The artifact ran, and its cosine to eager is below its precision's bound."""

    def __init__(self, message: str, cosine: float, bound: float):
        super().__init__(message)
        self.cosine, self.bound = cosine, bound


def verify_artifact(prepared: PreparedModel, target: Target, quant: str, path: Path, outcome: ExportOutcome) -> dict:
    """Run the artifact (and runnable companions) on the verification inputs; fail below the bound."""
    avail = target.availability()
    if not avail.can_run:
        parity = {"status": "not_run", "reason": avail.reason}
        if outcome.validation:
            parity["validation"] = outcome.validation
        return parity
    parity = _run_and_compare(prepared, target, path, quant, outcome.verify_config)
    if outcome.verify_config.get("kernels"):
        parity["kernels"] = outcome.verify_config["kernels"]
    companions = {
        s.lstrip("."): _run_and_compare(prepared, target, p, quant)
        for s, p in outcome.extra_files.items()
        if s in (".ort",)
    }
    for suffix, reason in outcome.unjudged.items():
        if suffix.lstrip(".") in companions:
            host = companions[suffix.lstrip(".")]
            companions[suffix.lstrip(".")] = {
                "status": "not_run",
                "reason": reason,
                "host_kernels_cosine": host["cosine"],
            }
    if companions:
        parity["extra_files"] = companions
    judged = [parity] + [p for p in companions.values() if p["status"] != "not_run"]
    if any(p["status"] != "passed" for p in judged):
        worst = min(judged, key=lambda p: p["cosine"])
        raise BelowBound(
            f"{target.name} {quant} artifact of {prepared.name} failed verification: cosine "
            f"{worst['cosine']:.6f} to eager is below {COSINE_BOUNDS[quant]} "
            f"(max abs error {worst['max_abs_error']:.3g}); no artifact was written."
            + (
                " Keep the sensitive parts float: --max-drop POINTS, or --keep-float with op types or module names."
                if quant not in ("fp32", "fp16")
                else ""
            ),
            worst["cosine"],
            COSINE_BOUNDS[quant],
        )
    return parity


def measure_accuracy(prepared: PreparedModel, target: Target, path: Path, labelled, qconfig: QuantConfig) -> dict:
    """Top-1 of the artifact and of eager fp32 on labelled data; over --max-drop fails the export."""
    import torch

    if not target.availability().can_run:
        return {"status": "not_run", "reason": target.availability().reason, "data": labelled.source}
    session = target.open_session(path)
    with torch.no_grad():
        eager = torch.stack([prepared.model(x).reshape(-1).argmax() for x in labelled.inputs])
    art = torch.tensor([int(session.run([prepared.feed(x).numpy()])[0].reshape(-1).argmax()) for x in labelled.inputs])
    eager_top1 = float((eager == labelled.labels).float().mean() * 100)
    art_top1 = float((art == labelled.labels).float().mean() * 100)
    record = {
        "status": "measured",
        "data": labelled.source,
        "images": len(labelled.inputs),
        "eager_fp32_top1": round(eager_top1, 3),
        "artifact_top1": round(art_top1, 3),
        "drop_points": round(eager_top1 - art_top1, 3),
    }
    if qconfig.max_drop is not None and record["drop_points"] > qconfig.max_drop:
        raise ExportError(
            f"{target.name} {qconfig.scheme} artifact of {prepared.name} loses {record['drop_points']} "
            f"top-1 points on {labelled.source}, over --max-drop {qconfig.max_drop}; no artifact was "
            "written. Raise --max-drop or keep more in float with --keep-float."
        )
    return record


def _run_and_compare(
    prepared: PreparedModel, target: Target, path: Path, quant: str, verify_config: dict | None = None
) -> dict:
    try:
        session = target.open_session(path, config=(verify_config or {}).get("session_config"))
        outputs = [session.run([prepared.feed(x).numpy()])[0] for x in prepared.verify_inputs]
    except (RuntimeError, ValueError) as e:  # the runtime refused what the converter produced
        raise ExportError(
            f"the {path.suffix} artifact of {prepared.name} was written but its runtime cannot run it "
            f"({(str(e).strip().splitlines() or [type(e).__name__])[0][:200]}); no artifact was "
            "written. This is a converter bug worth reporting with the model."
        ) from e
    per_sample = [compare(ref.numpy(), out) for ref, out in zip(prepared.eager_outputs, outputs)]
    return {**summarize(per_sample, quant), "inputs": prepared.verify_note}
