"""The export pipeline: model -> torch.export -> per target: convert, verify, manifest.

Every artifact is written under a temporary name, run in its runtime (or validated where it
cannot run) and only then renamed to `<model>-<target>-<quant>.<ext>` with its manifest beside
it. A failure or Ctrl-C leaves nothing under a final name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from common.errors import EdgeError, ExportError
from edge.diagnose import never_raw
from edge.export_steps import ExportResult, ExportRun, Progress, export_one
from edge.io_form import input_form as input_form_of
from edge.prepare import PreparedModel, prepare
from edge.targets import TARGETS, Target, resolve_targets
from edge.transaction import remove_stale_partials, writable_folder
from quant.config import OP_TYPES, SCHEMES, QuantConfig

QUANTS = SCHEMES


def export(
    model_or_name,
    example_inputs=None,
    target: str = "xnnpack",
    quant: str | QuantConfig = "fp32",
    out_dir=".",
    **options,
) -> ExportResult:
    """Export one model to one target. Options: name, num_classes, input_size, weights, labels, progress."""
    targets = resolve_targets(target)
    if len(targets) != 1:
        raise EdgeError(f"export() takes one target; {target!r} names {len(targets)}. Use export_targets().")
    return export_targets(model_or_name, example_inputs, targets=target, quant=quant, out_dir=out_dir, **options)[0]


@never_raw  # every exception leaving the pipeline is one EdgeError line with its op, module and source
def export_targets(
    model_or_name,
    example_inputs=None,
    targets="all",
    quant: str | QuantConfig = "fp32",
    out_dir=".",
    *,
    name: str | None = None,
    num_classes: int | None = None,
    input_size: int | None = None,
    weights=None,
    labels: list[str] | None = None,
    progress: Progress | None = None,
    keep_going: bool = False,
    prune=None,
    target_options: dict | None = None,
    input_form: str | None = None,
    author: str | None = None,
    license: str | None = None,
    verify_on=None,
) -> list[ExportResult]:
    """Export to several targets from one torch.export; with keep_going, failed targets raise at the end.

    `quant` is a scheme name ("fp32", "fp16", "int8", ...) or a quant.config.QuantConfig with the
    calibration data, what stays float and the accuracy budget.
    prune: a quant.prune.PruneConfig (or a dict of its fields): the model is pruned after its weights
    load and before folding/torch.export; verification compares against the pruned eager model.
    target_options: per target name, options for its exporter, e.g. {"coreml": {"min_ios": 18}}.
    input_form: what the artifacts take (edge.io_form: nchw-float, the default; nhwc-float; nhwc-uint8);
    Core ML gets an image input and a classifier for any form but nchw-float. author, license: written
    into the artifacts' own metadata (TFLite metadata, ONNX metadata_props, Core ML, .pte constants).
    verify_on: "arm64:CPU[,CPU]" -- also verify every artifact on these emulated ARM64 CPUs (edge/arm_verify.py)."""
    chosen = resolve_targets(targets)
    from edge.arm_verify import check_emulator, parse_verify_on

    verify_on = parse_verify_on(verify_on)
    check_emulator(verify_on, chosen)
    qconfig = quant if isinstance(quant, QuantConfig) else quant_config_of(quant)
    check_request(chosen, qconfig.scheme)
    form = input_form_of(input_form)
    out = prepare_out_dir(out_dir)
    if qconfig.calib is not None:
        from quant.calibration import check_source

        check_source(qconfig.calib)
    if qconfig.eval_data is not None and not Path(qconfig.eval_data).is_dir():
        raise EdgeError(
            f"--eval-data {qconfig.eval_data!r} is not a folder; give a folder with one sub-folder of images per class."
        )
    say = progress or (lambda target, step: None)
    say("model", "building and exporting with torch.export")
    prepared = prepare(
        model_or_name,
        example_inputs,
        name=name,
        num_classes=num_classes,
        input_size=input_size,
        weights=weights,
        prune=prune,
        input_form=form,
    )
    check_module_names(prepared.model, qconfig.keep_float_modules)
    if labels is not None and len(labels) != prepared.config.num_classes:
        raise EdgeError(f"{len(labels)} labels given for a model with {prepared.config.num_classes} classes.")
    calibration = None
    if qconfig.needs_calibration:
        from quant.calibration import load_calibration

        calibration = load_calibration(
            qconfig.calib,
            prepared.config,
            int(prepared.example_inputs[0].shape[1]),
            qconfig.calib_samples + (HELD_OUT if qconfig.calib else 0),
        )
        if calibration.kind != "synthetic":
            prepared = verify_on_held_out(prepared, calibration, qconfig.calib_samples)
        elif len(prepared.verify_inputs) > 1:
            prepared = without_noise_input(prepared)
        say("model", f"calibration: {len(calibration.inputs)} {calibration.kind} inputs from {calibration.source}")
        if calibration.warning:
            say("model", f"WARNING: {calibration.warning}")
    labelled = None
    if qconfig.eval_data:
        from edge.evaluate import load_labelled

        labelled = load_labelled(qconfig.eval_data, prepared.config, labels)
        say("model", f"evaluation data: {len(labelled.inputs)} labelled images from {labelled.source}")
    results, failures = [], []
    existed = out.exists()
    try:
        for target in chosen:
            try:
                results.append(
                    export_one(
                        ExportRun(
                            prepared,
                            target,
                            qconfig,
                            out,
                            labels,
                            say,
                            calibration=calibration,
                            labelled=labelled,
                            options=(target_options or {}).get(target.name, {}),
                            credits={"author": author or "", "license": license or ""},
                            verify_on=verify_on,
                        )
                    )
                )
            except ExportError as e:
                if not keep_going:
                    raise
                failures.append(f"{target.name}: {e}")
                say(target.name, f"FAILED: {e}")
    finally:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # made for this request, which wrote nothing
    if failures:
        raise ExportError(f"{len(failures)} of {len(chosen)} targets failed: " + " | ".join(failures))
    return results


def check_module_names(model, prefixes) -> None:
    """--keep-float module names must name a module (or a prefix of module paths) of this model."""
    from common.errors import suggest

    names = [n for n, _ in model.named_modules() if n]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            raise EdgeError(
                f"--keep-float names no module {prefix!r} of this model and no op type.{suggest(prefix, names)} "
                "Op types: " + ", ".join(OP_TYPES) + "; module names as model.named_modules() gives them."
            )


HELD_OUT = 8  # calibration-source inputs kept out of calibration to verify int8 artifacts on


def verify_on_held_out(prepared: PreparedModel, calibration, samples: int) -> PreparedModel:
    """Verify int8 on the user's own data: a model calibrated on, say, digits is not judged on photographs
    (out-of-distribution inputs saturate int8 ranges that are right for the data it will see)."""
    import torch

    held = calibration.inputs[samples:]
    calibration.inputs = calibration.inputs[:samples]
    inputs = held or calibration.inputs
    note = (
        f"{len(held)} held-out inputs from {calibration.source}"
        if held
        else f"the {len(inputs)} calibration inputs from {calibration.source} (none left to hold out)"
    )
    with torch.no_grad():
        eager = [prepared.model(x) for x in inputs]
    return dataclasses.replace(prepared, verify_inputs=inputs, eager_outputs=eager, verify_note=note)


def without_noise_input(prepared: PreparedModel) -> PreparedModel:
    """int8 with the stand-in calibration: verify on the sample photographs only. The noise image
    (kept for float schemes, where it catches input-independent outputs) lies outside any range a
    trained model calibrated on photographs has, so it would fail good int8 models."""
    return dataclasses.replace(
        prepared,
        verify_inputs=prepared.verify_inputs[:-1],
        eager_outputs=prepared.eager_outputs[:-1],
        verify_note="edge's sample photographs (the stand-in calibration crops come from them, "
        "so this check is optimistic; pass --calib for a held-out check)",
    )


def quant_config_of(scheme: str) -> QuantConfig:
    if scheme not in QUANTS:
        raise EdgeError(f"unknown --quant {scheme!r}; choose one of {', '.join(QUANTS)}.")
    return QuantConfig(scheme=scheme)


def check_request(targets: list[Target], quant: str) -> None:
    if quant not in QUANTS:
        raise EdgeError(f"unknown --quant {quant!r}; choose one of {', '.join(QUANTS)}.")
    for t in targets:
        if quant not in t.quants:
            raise EdgeError(
                f"target {t.name} does not offer {quant} (it offers {', '.join(t.quants)}); "
                f"drop it from --target or choose another --quant."
            )
        avail = t.availability()
        if not avail.can_export:
            raise EdgeError(f"target {t.name} cannot export on this machine: {avail.reason}.")


def prepare_out_dir(out_dir) -> Path:
    """The output folder, checked writable but not created (the first artifact creates it), cleared of
    partial files left by killed exports."""
    out = writable_folder(Path(out_dir))
    remove_stale_partials(out)
    return out


__all__ = ["ExportResult", "Progress", "export", "export_targets", "TARGETS"]
