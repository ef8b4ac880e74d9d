"""The export pipeline: model -> torch.export -> per target: convert, verify, manifest.

Every artifact is written under a temporary name, run in its runtime (or validated where it
cannot run) and only then renamed to `<model>-<target>-<quant>.<ext>` with its manifest beside
it. A failure or Ctrl-C leaves nothing under a final name.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edge.errors import EdgeError, ExportError
from edge.diagnose import never_raw
from edge.app_io import app_description, manifest_inputs, manifest_outputs
from edge.io_form import input_form as input_form_of
from edge.lowering import apply_lowerings
from edge.manifest import (SCHEMA_ID, preprocessing_of, sha256_of, size_of, tool_versions, validate_manifest,
                           value_range_of, write_json)
from edge.prepare import PreparedModel, prepare
from edge.quiet import captured_output
from edge.targets import TARGETS, Target, resolve_targets
from edge.targets.base import ExportJob, ExportOutcome
from edge.transaction import check_finals, commit, remove_stale_partials, writable_folder
from edge.verify import COSINE_BOUNDS, compare, summarize
from quant.config import OP_TYPES, SCHEMES, QuantConfig

QUANTS = SCHEMES
RUNTIME_OF = {"xnnpack": "executorch", "litert": "litert", "coreml": "coreml", "onnx": "onnxruntime"}
PACKAGES_OF = {"xnnpack": ("executorch",), "litert": ("litert-torch", "ai-edge-litert", "ai-edge-quantizer"),
               "coreml": ("coremltools",), "onnx": ("onnx", "onnxscript", "onnxslim", "onnxruntime")}

Progress = Callable[[str, str], None]  # (target name, step description)


@dataclass
class ExportResult:
    target: str
    path: Path                  # the artifact
    manifest_path: Path
    manifest: dict
    seconds: float


def export(model_or_name, example_inputs=None, target: str = "xnnpack", quant: str | QuantConfig = "fp32",
           out_dir=".", **options) -> ExportResult:
    """Export one model to one target. Options: name, num_classes, input_size, weights, labels, progress."""
    targets = resolve_targets(target)
    if len(targets) != 1:
        raise EdgeError(f"export() takes one target; {target!r} names {len(targets)}. Use export_targets().")
    return export_targets(model_or_name, example_inputs, targets=target, quant=quant, out_dir=out_dir,
                          **options)[0]


@never_raw  # every exception leaving the pipeline is one EdgeError line with its op, module and source
def export_targets(model_or_name, example_inputs=None, targets="all", quant: str | QuantConfig = "fp32", out_dir=".",
                   *, name: str | None = None, num_classes: int | None = None, input_size: int | None = None,
                   weights=None, labels: list[str] | None = None, progress: Progress | None = None,
                   keep_going: bool = False, prune=None, target_options: dict | None = None,
                   input_form: str | None = None, author: str | None = None,
                   license: str | None = None) -> list[ExportResult]:
    """Export to several targets from one torch.export; with keep_going, failed targets raise at the end.

    `quant` is a scheme name ("fp32", "fp16", "int8", ...) or a quant.config.QuantConfig with the
    calibration data, what stays float and the accuracy budget.
    prune: a quant.prune.PruneConfig (or a dict of its fields): the model is pruned after its weights
    load and before folding/torch.export; verification compares against the pruned eager model.
    target_options: per target name, options for its exporter, e.g. {"coreml": {"min_ios": 18}}.
    input_form: what the artifacts take (edge.io_form: nchw-float, the default; nhwc-float; nhwc-uint8);
    Core ML gets an image input and a classifier for any form but nchw-float. author, license: written
    into the artifacts' own metadata (TFLite metadata, ONNX metadata_props, Core ML, .pte constants)."""
    chosen = resolve_targets(targets)
    qconfig = quant if isinstance(quant, QuantConfig) else quant_config_of(quant)
    check_request(chosen, qconfig.scheme)
    form = input_form_of(input_form)
    if not form.is_default and (qconfig.max_drop is not None or qconfig.tune_latency):
        raise EdgeError(f"--max-drop and --tune-latency work on nchw-float exports only (got --input-form {form.name}); "
                        "plan with the default form, then export the chosen --keep-float with the app's form.")
    out = prepare_out_dir(out_dir)
    if qconfig.calib is not None:
        from quant.calibration import check_source
        check_source(qconfig.calib)
    if qconfig.eval_data is not None and not Path(qconfig.eval_data).is_dir():
        raise EdgeError(f"--eval-data {qconfig.eval_data!r} is not a folder; give a folder with one sub-folder of "
                        "images per class.")
    say = progress or (lambda target, step: None)
    say("model", "building and exporting with torch.export")
    prepared = prepare(model_or_name, example_inputs, name=name, num_classes=num_classes,
                       input_size=input_size, weights=weights, prune=prune, input_form=form)
    check_module_names(prepared.model, qconfig.keep_float_modules)
    if labels is not None and len(labels) != prepared.config.num_classes:
        raise EdgeError(f"{len(labels)} labels given for a model with {prepared.config.num_classes} classes.")
    calibration = None
    if qconfig.needs_calibration:
        from quant.calibration import load_calibration
        calibration = load_calibration(qconfig.calib, prepared.config, int(prepared.example_inputs[0].shape[1]),
                                       qconfig.calib_samples + (HELD_OUT if qconfig.calib else 0))
        if calibration.kind != "synthetic":
            prepared = verify_on_held_out(prepared, calibration, qconfig.calib_samples)
        elif len(prepared.verify_inputs) > 1:
            prepared = without_noise_input(prepared)
        say("model", f"calibration: {len(calibration.inputs)} {calibration.kind} inputs from {calibration.source}")
        if calibration.warning:
            say("model", f"WARNING: {calibration.warning}")
    labelled = None
    if qconfig.eval_data:
        from quant.plan import load_labelled
        labelled = load_labelled(qconfig.eval_data, prepared.config, labels)
        say("model", f"evaluation data: {len(labelled.inputs)} labelled images from {labelled.source}")
    results, failures = [], []
    existed = out.exists()
    try:
        for target in chosen:
            try:
                results.append(export_one(prepared, target, qconfig, out, labels, say, calibration=calibration,
                                          labelled=labelled, options=(target_options or {}).get(target.name, {}),
                                          credits={"author": author or "", "license": license or ""}))
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
    from edge.models.registry import suggest
    names = [n for n, _ in model.named_modules() if n]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            raise EdgeError(f"--keep-float names no module {prefix!r} of this model and no op type.{suggest(prefix, names)} "
                            "Op types: " + ", ".join(OP_TYPES) + "; module names as model.named_modules() gives them.")


HELD_OUT = 8  # calibration-source inputs kept out of calibration to verify int8 artifacts on


def verify_on_held_out(prepared: PreparedModel, calibration, samples: int) -> PreparedModel:
    """Verify int8 on the user's own data: a model calibrated on, say, digits is not judged on photographs
    (out-of-distribution inputs saturate int8 ranges that are right for the data it will see)."""
    import torch
    held = calibration.inputs[samples:]
    calibration.inputs = calibration.inputs[:samples]
    inputs = held or calibration.inputs
    note = (f"{len(held)} held-out inputs from {calibration.source}" if held else
            f"the {len(inputs)} calibration inputs from {calibration.source} (none left to hold out)")
    with torch.no_grad():
        eager = [prepared.model(x) for x in inputs]
    return dataclasses.replace(prepared, verify_inputs=inputs, eager_outputs=eager, verify_note=note)


def without_noise_input(prepared: PreparedModel) -> PreparedModel:
    """int8 with the stand-in calibration: verify on the sample photographs only. The noise image
    (kept for float schemes, where it catches input-independent outputs) lies outside any range a
    trained model calibrated on photographs has, so it would fail good int8 models."""
    return dataclasses.replace(prepared, verify_inputs=prepared.verify_inputs[:-1],
                               eager_outputs=prepared.eager_outputs[:-1],
                               verify_note="edge's sample photographs (the stand-in calibration crops come from them, "
                                           "so this check is optimistic; pass --calib for a held-out check)")


def quant_config_of(scheme: str) -> QuantConfig:
    if scheme not in QUANTS:
        raise EdgeError(f"unknown --quant {scheme!r}; choose one of {', '.join(QUANTS)}.")
    return QuantConfig(scheme=scheme)


def check_request(targets: list[Target], quant: str) -> None:
    if quant not in QUANTS:
        raise EdgeError(f"unknown --quant {quant!r}; choose one of {', '.join(QUANTS)}.")
    for t in targets:
        if quant not in t.quants:
            raise EdgeError(f"target {t.name} does not offer {quant} (it offers {', '.join(t.quants)}); "
                            f"drop it from --target or choose another --quant.")
        avail = t.availability()
        if not avail.can_export:
            raise EdgeError(f"target {t.name} cannot export on this machine: {avail.reason}.")


def prepare_out_dir(out_dir) -> Path:
    """The output folder, checked writable but not created (the first artifact creates it), cleared of
    partial files left by killed exports."""
    out = writable_folder(Path(out_dir))
    remove_stale_partials(out)
    return out


def export_one(prepared: PreparedModel, target: Target, qconfig: QuantConfig, out: Path, labels, say: Progress,
               quiet: bool = True, calibration=None, labelled=None, options: dict | None = None,
               credits: dict | None = None) -> ExportResult:
    start = time.perf_counter()
    quant = qconfig.scheme
    stem = f"{prepared.name}-{target.name}-{quant}"
    tmp = out / f".{stem}.partial-{os.getpid()}{target.suffix}"
    temporaries: list[Path] = [tmp]
    check_finals([out / f"{stem}{target.suffix}", out / f"{stem}.json"])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EdgeError(f"cannot create output folder {str(out)!r} ({e.strerror or e}); choose another with -o.") from None
    try:
        say(target.name, "lowering custom ops and backend fallbacks")
        image_input = target.image_input and not prepared.input_form.is_default
        program, applied = apply_lowerings(prepared.image_program() if image_input else prepared.program, target.name)
        planned = {}
        if quant == "int8" and qconfig.max_drop is not None:
            from quant.plan import plan_mixed_precision
            qconfig, planned = plan_mixed_precision(program, target.name, qconfig, calibration.inputs, prepared.model,
                                                    prepared.verify_inputs, labelled,
                                                    lambda msg: say(target.name, msg))
        converted = None
        if quant == "int8" and qconfig.tune_latency:
            from quant.latency import tune_latency
            workdir = out / f"{tmp.name}.tune"  # under the temporary's name: removed with it below
            workdir.mkdir()
            qconfig, tuned, converted = tune_latency(prepared, program, target.name, qconfig, calibration.inputs,
                                                     workdir, say=lambda msg: say(target.name, msg), options=options)
            planned = {**planned, "latency": tuned}
        say(target.name, "converting" if converted is None else "reusing the timed conversion of the chosen plan")
        _test_hold("conversion")
        try:
            with captured_output(quiet):
                outcome: ExportOutcome = (_adopt(converted, tmp) if converted is not None else target.load_exporter()(
                    ExportJob(stem, prepared.model, program,
                              prepared.example_inputs if image_input else prepared.form_inputs, quant, tmp,
                              options=dict(options or {}), quant_config=qconfig,
                              calibration=_calibration_for(prepared, calibration, image_input),
                              app=app_description(prepared, labels, image_input, credits or {}))))
        except (EdgeError, KeyboardInterrupt):
            raise
        except Exception as e:  # converters raise anything; name the target and the converter's reason
            raise ExportError(f"{target.name} conversion of {prepared.name} failed: "
                              f"{(str(e).strip().splitlines() or [type(e).__name__])[0][:300]}") from e
        outcome.fallbacks = applied + outcome.fallbacks
        temporaries += list(outcome.extra_files.values())
        say(target.name, "verifying against eager")
        _test_hold("verification")
        with captured_output(quiet):
            parity = verify_artifact(prepared, target, quant, tmp, outcome)
        outcome.quant_plan = {**planned, **outcome.quant_plan} if (planned or outcome.quant_plan) else {}
        accuracy = None
        if labelled is not None:
            say(target.name, f"top-1 on {len(labelled.inputs)} labelled images, artifact and eager fp32")
            with captured_output(quiet):
                accuracy = measure_accuracy(prepared, target, tmp, labelled, qconfig)
        finals = {target.suffix: out / f"{stem}{target.suffix}"}
        finals.update({suffix: out / f"{stem}{suffix}" for suffix in outcome.extra_files})
        manifest = build_manifest(prepared, target, quant, tmp, finals, outcome, parity, labels, image_input)
        manifest["quant"].update(quant_record(qconfig, calibration, outcome))
        if accuracy is not None:
            manifest["quant"]["accuracy"] = accuracy
        validate_manifest(manifest)
        manifest_path = out / f"{stem}.json"
        check_finals(list(finals.values()) + [manifest_path])
        manifest_tmp = tmp.with_name(tmp.name + ".json")  # removed with the other temporaries on failure
        write_json(manifest_tmp, manifest)
        say(target.name, "writing the manifest, then renaming the files into place")
        _test_hold("manifest")
        commit([(outcome.extra_files.get(suffix, tmp), final) for suffix, final in finals.items()]
               + [(manifest_tmp, manifest_path)])
        say(target.name, "done")
        return ExportResult(target.name, finals[target.suffix], manifest_path, manifest,
                            round(time.perf_counter() - start, 2))
    finally:  # exporters name every temporary they make after `tmp`
        for path in temporaries + list(out.glob(f"{glob.escape(tmp.name)}*")):
            _remove(path)


def verify_artifact(prepared: PreparedModel, target: Target, quant: str, path: Path, outcome: ExportOutcome) -> dict:
    """Run the artifact (and runnable companions) on the verification inputs; fail below the bound."""
    avail = target.availability()
    if not avail.can_run:
        parity = {"status": "not_run", "reason": avail.reason}
        if outcome.validation:
            parity["validation"] = outcome.validation
        return parity
    parity = _run_and_compare(prepared, path, quant, outcome.verify_config)
    if outcome.verify_config.get("kernels"):
        parity["kernels"] = outcome.verify_config["kernels"]
    companions = {s.lstrip("."): _run_and_compare(prepared, p, quant)
                  for s, p in outcome.extra_files.items() if s in (".ort",)}
    for suffix, reason in outcome.unjudged.items():
        if suffix.lstrip(".") in companions:
            host = companions[suffix.lstrip(".")]
            companions[suffix.lstrip(".")] = {"status": "not_run", "reason": reason, "host_kernels_cosine": host["cosine"]}
    if companions:
        parity["extra_files"] = companions
    judged = [parity] + [p for p in companions.values() if p["status"] != "not_run"]
    if any(p["status"] != "passed" for p in judged):
        worst = min(judged, key=lambda p: p["cosine"])
        raise ExportError(f"{target.name} {quant} artifact of {prepared.name} failed verification: cosine "
                          f"{worst['cosine']:.6f} to eager is below {COSINE_BOUNDS[quant]} "
                          f"(max abs error {worst['max_abs_error']:.3g}); no artifact was written."
                          + (" Keep the sensitive parts float: --max-drop POINTS, or --keep-float with op types or "
                             "module names." if quant not in ("fp32", "fp16") else ""))
    return parity


def measure_accuracy(prepared: PreparedModel, target: Target, path: Path, labelled, qconfig: QuantConfig) -> dict:
    """Top-1 of the artifact and of eager fp32 on labelled data; over --max-drop fails the export."""
    import torch
    if not target.availability().can_run:
        return {"status": "not_run", "reason": target.availability().reason, "data": labelled.source}
    from runtimes import open_session
    session = open_session(path)
    with torch.no_grad():
        eager = torch.stack([prepared.model(x).reshape(-1).argmax() for x in labelled.inputs])
    art = torch.tensor([int(session.run([prepared.feed(x).numpy()])[0].reshape(-1).argmax()) for x in labelled.inputs])
    eager_top1 = float((eager == labelled.labels).float().mean() * 100)
    art_top1 = float((art == labelled.labels).float().mean() * 100)
    record = {"status": "measured", "data": labelled.source, "images": len(labelled.inputs),
              "eager_fp32_top1": round(eager_top1, 3), "artifact_top1": round(art_top1, 3),
              "drop_points": round(eager_top1 - art_top1, 3)}
    if qconfig.max_drop is not None and record["drop_points"] > qconfig.max_drop:
        raise ExportError(f"{target.name} {qconfig.scheme} artifact of {prepared.name} loses {record['drop_points']} "
                          f"top-1 points on {labelled.source}, over --max-drop {qconfig.max_drop}; no artifact was "
                          "written. Raise --max-drop or keep more in float with --keep-float.")
    return record


def _run_and_compare(prepared: PreparedModel, path: Path, quant: str, verify_config: dict | None = None) -> dict:
    from runtimes import open_session
    try:
        session = open_session(path, config=(verify_config or {}).get("session_config"))
        outputs = [session.run([prepared.feed(x).numpy()])[0] for x in prepared.verify_inputs]
    except (RuntimeError, ValueError) as e:  # the runtime refused what the converter produced
        raise ExportError(f"the {path.suffix} artifact of {prepared.name} was written but its runtime cannot run it "
                          f"({(str(e).strip().splitlines() or [type(e).__name__])[0][:200]}); no artifact was "
                          "written. This is a converter bug worth reporting with the model.") from e
    per_sample = [compare(ref.numpy(), out) for ref, out in zip(prepared.eager_outputs, outputs)]
    return {**summarize(per_sample, quant), "inputs": prepared.verify_note}


def build_manifest(prepared: PreparedModel, target: Target, quant: str, tmp: Path, finals: dict,
                   outcome: ExportOutcome, parity: dict, labels, image_input: bool = False) -> dict:
    cfg = prepared.config
    out_shape = list(prepared.eager_outputs[0].shape)
    extras = {suffix.strip(".").split(".")[0]: {"file": finals[suffix].name, "sha256": sha256_of(p),
                                                "size_bytes": size_of(p)}
              for suffix, p in outcome.extra_files.items()}
    return {
        "schema": SCHEMA_ID,
        "artifact": {"file": finals[target.suffix].name, "format": target.suffix.lstrip("."),
                     "sha256": sha256_of(tmp), "size_bytes": size_of(tmp), "extra_files": extras},
        "model": {"name": prepared.name, "family": cfg.family, "params": prepared.params, "gmacs": prepared.gmacs,
                  "config": cfg.to_dict()},
        "target": {"name": target.name, "runtime": RUNTIME_OF[target.name], "description": target.description},
        "quant": {"scheme": quant},
        "inputs": manifest_inputs(prepared, image_input),
        "outputs": [{**o, "source": prepared.output_source} if i == 0 else o
                    for i, o in enumerate(manifest_outputs(out_shape, image_input))],
        "preprocessing": preprocessing_of(cfg),
        "labels": list(labels) if labels is not None else None,
        "parity": parity,
        "coverage": outcome.coverage or {"backend": target.name},
        "fallbacks": outcome.fallbacks,
        "versions": tool_versions(PACKAGES_OF[target.name]),
        "notes": outcome.notes,
        **({"app": {"input_form": prepared.input_form.name, **outcome.app}} if outcome.app else {}),
        **({"pruning": prepared.pruning} if prepared.pruning else {}),
    }


def _calibration_for(prepared: PreparedModel, calibration, image_input: bool):
    if calibration is None:
        return None
    if not image_input:
        return [prepared.feed(x) for x in calibration.inputs]
    from edge.io_form import image_type_params  # the image program sees ImageType's output: undo channel_scale
    import torch
    scale = image_type_params(prepared.config.mean, prepared.config.std)["channel_scale"]
    return [x / torch.tensor(scale).view(1, -1, 1, 1) if scale else x for x in calibration.inputs]


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


def _adopt(converted: tuple, tmp: Path) -> ExportOutcome:
    """A conversion made earlier with the same plan (by --tune-latency) becomes this export's temporary."""
    path, outcome = converted
    os.replace(path, tmp)
    return outcome


def _test_hold(step: str) -> None:
    """Tests only: EDGE_TEST_HOLD=<step> parks the export at that step so a test can signal it there."""
    if os.environ.get("EDGE_TEST_HOLD") == step:
        time.sleep(60)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["ExportResult", "export", "export_targets", "TARGETS"]
