"""Decide an int8 export's plan before converting: what stays float, from measurement when asked.

Without --max-drop the plan is the backend's default (plus the user's keep-float overrides): the
artifact is then verified and a cosine below the bound fails the export. With --max-drop the
sensitivity analysis of quant.mixed runs on the backend's own pt2e quantizer (a reference one for
backends quantized outside PyTorch: the XNNPACK quantizer stands in for ONNX Runtime's QDQ) and the
most sensitive parts go back to float until the drop is within budget.
"""

from __future__ import annotations

import dataclasses
import importlib

import torch

from common.errors import EdgeError
from quant.config import QuantConfig

REFERENCE_QUANTIZER = "quant.xnnpack:xnnpack_quantizer"
SEARCH_IMAGES = 256  # labelled images used while searching (the final artifact is measured on all)
PROBES = 8  # inputs (each from verification and calibration) the per-part SQNR is measured on
COSINE_MARGIN = 0.3  # float-back aims this share of the way from the bound to 1: the backend rounds unlike pt2e


@dataclasses.dataclass
class LabelledSet:
    inputs: list[torch.Tensor]
    labels: torch.Tensor
    source: str


def quantizer_for(quantizer: str, qconfig: QuantConfig):
    """`quantizer`: "module:function" building the backend's pt2e quantizer ("" for the reference one)."""
    module, _, fn = (quantizer or REFERENCE_QUANTIZER).partition(":")
    return getattr(importlib.import_module(module), fn)(qconfig.keep_float_ops, qconfig.keep_float_modules)


def _reference_int8(program, quantizer: str, qconfig: QuantConfig, calibration, say):
    """The backend's pt2e quantizer (or the reference one) calibrated on `calibration`, q/dq unfolded."""
    from common.quiet import captured_output
    from quant.pt2e import simulate

    say("calibrating the reference int8 model for the sensitivity analysis")
    with captured_output():
        return simulate(program, quantizer_for(quantizer, qconfig), calibration, fold_quantize=False)


def _with_floats(qconfig: QuantConfig, plan: dict) -> QuantConfig:
    """The config with the plan's float-back decisions added to the user's own."""
    return dataclasses.replace(
        qconfig,
        keep_float_ops=tuple(dict.fromkeys(qconfig.keep_float_ops + tuple(plan["keep_float_ops"]))),
        keep_float_modules=tuple(dict.fromkeys(qconfig.keep_float_modules + tuple(plan["keep_float_modules"]))),
    )


def _quantizer_note(quantizer: str) -> str:
    return quantizer or REFERENCE_QUANTIZER + " (reference: the backend quantizes outside PyTorch)"


def plan_mixed_precision(
    program,
    quantizer: str,
    qconfig: QuantConfig,
    calibration: list[torch.Tensor],
    fp32_model: torch.nn.Module,
    check_inputs: list[torch.Tensor],
    labelled: LabelledSet | None,
    say=lambda msg: None,
) -> tuple[QuantConfig, dict]:
    """Returns the config with the float-back decisions added, and the plan record for the manifest."""
    from quant.mixed import Reference, plan_within, sensitivity, summary

    reference = _reference_int8(program, quantizer, qconfig, calibration, say)
    inputs = labelled.inputs[:SEARCH_IMAGES] if labelled else list(check_inputs) + list(calibration)
    labels = labelled.labels[:SEARCH_IMAGES] if labelled else None
    probes = list(check_inputs)[:PROBES] + list(calibration)[:PROBES]
    with torch.no_grad():
        fp32 = torch.cat([fp32_model(x).reshape(1, -1) for x in inputs])
        fp32_probes = torch.cat([fp32_model(x).reshape(1, -1) for x in probes])
    ref = Reference.build(reference, inputs, fp32, labels, probes, fp32_probes)
    say(f"sensitivity of {len(ref.candidates)} blocks and op types (output SQNR with only that part in int8)")
    rows = sensitivity(ref)
    say(summary(rows))
    plan = plan_within(ref, qconfig.max_drop, rows)
    measured_on = (
        f"top-1 drop on {len(inputs)} labelled images of {labelled.source}"
        if labelled
        else f"top-1 disagreement with fp32 on {len(inputs)} calibration/verification inputs (no --eval-data)"
    )
    if not plan["within_budget"]:
        raise EdgeError(
            f"even with every quantized part but the least sensitive back in float, the {measured_on} is "
            f"{plan['drop_points']} points, over --max-drop {qconfig.max_drop}; raise --max-drop or "
            "export fp32/fp16."
        )
    say(
        f"plan: float {plan['keep_float_ops'] + plan['keep_float_modules'] or 'nothing'}; "
        f"estimated drop {plan['drop_points']} points"
    )
    new = _with_floats(qconfig, plan)
    record = {
        "decided_by": f"--max-drop {qconfig.max_drop}: sensitivity analysis, greedy float-back",
        "measured_on": measured_on,
        "sensitivity_quantizer": _quantizer_note(quantizer),
        **{k: plan[k] for k in ("drop_points", "steps", "sensitivity", "block_depth")},
    }
    return new, record


@dataclasses.dataclass(frozen=True)
class FloatBack:
    """What the float-back search found: the most sensitive parts (quant.mixed.summary's line), and the
    config and manifest record of the plan that reaches the bound, when there is one."""

    sensitive: str
    qconfig: QuantConfig | None = None
    record: dict = dataclasses.field(default_factory=dict)


def plan_for_bound(
    program,
    quantizer: str,
    qconfig: QuantConfig,
    calibration: list[torch.Tensor],
    probes: list[torch.Tensor],
    fp32_probes: list[torch.Tensor],
    bound: float,
    say=lambda msg: None,
) -> FloatBack:
    """The int8 artifact missed its cosine bound: the most sensitive parts back to float until the
    reference int8 model reaches `bound` (plus a margin for the backend's own rounding) on the inputs
    verification judges. Without a plan (even that does not get there) its qconfig is None."""
    from quant.mixed import Reference, plan_for_cosine, sensitivity, summary

    target = bound + (1 - bound) * COSINE_MARGIN
    reference = _reference_int8(program, quantizer, qconfig, calibration, say)
    fp32 = torch.cat([y.reshape(1, -1) for y in fp32_probes])
    ref = Reference.build(reference, list(probes), fp32, None, list(probes), fp32)
    rows = sensitivity(ref)
    sensitive = summary(rows)
    say(sensitive)
    plan = plan_for_cosine(ref, target, rows)
    if not plan["within_budget"] or not (plan["keep_float_ops"] or plan["keep_float_modules"]):
        return FloatBack(sensitive)
    record = {
        "decided_by": f"the default plan missed the int8 bound {bound}: sensitivity analysis, greedy "
        f"float-back until the reference int8 model reaches cosine {target:.4f} on the verification inputs",
        "sensitivity_quantizer": _quantizer_note(quantizer),
        **{k: plan[k] for k in ("keep_float_ops", "keep_float_modules", "worst_cosine", "steps", "block_depth")},
    }
    return FloatBack(sensitive, _with_floats(qconfig, plan), record)
