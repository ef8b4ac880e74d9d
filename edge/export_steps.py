"""One target's export as a list of steps over one run object.

Each step reads what the steps before it left on the ExportRun and adds its own part: lowering,
the two int8 planners (--max-drop, --tune-latency), conversion (or adoption of the conversion
--tune-latency already made), verification, top-1 on labelled data, the manifest and the
commit that renames every file into place. Every file a step makes is named after `run.tmp`,
so the clean-up after the last step (or a failure) finds them all.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.errors import EdgeError, ExportError
from common.quiet import captured_output
from edge.app_io import app_description
from edge.diagnose import first_line
from edge.export_manifest import build_manifest, quant_record
from edge.int8_speed import int8_speed
from edge.lowering import apply_lowerings
from edge.manifest import validate_manifest, write_json
from edge.prepare import PreparedModel
from edge.targets.base import ExportJob, ExportOutcome, Target
from edge.transaction import check_finals, commit
from edge.verification import BelowBound, measure_accuracy, verify_artifact
from quant.config import QuantConfig

Progress = Callable[[str, str], None]  # (target name, step description)


@dataclass
class ExportResult:
    target: str
    path: Path  # the artifact
    manifest_path: Path
    manifest: dict
    seconds: float


@dataclass
class ExportRun:
    """What one target's export was asked for, and what its steps have made so far."""

    prepared: PreparedModel
    target: Target
    qconfig: QuantConfig
    out: Path
    labels: list[str] | None
    say: Progress
    quiet: bool = True
    calibration: Any = None  # quant.calibration.Calibration (int8)
    labelled: Any = None  # quant.plan.LabelledSet (--eval-data)
    options: dict = field(default_factory=dict)
    credits: dict = field(default_factory=dict)
    verify_on: list[str] | None = None  # emulated ARM64 CPUs to verify on too (edge/arm_verify.py)
    # made by the steps
    program: Any = None  # the lowered torch.export program
    applied: list = field(default_factory=list)
    planned: dict = field(default_factory=dict)
    converted: tuple | None = None  # (path, ExportOutcome) made by --tune-latency with the final plan
    outcome: ExportOutcome | None = None
    parity: dict = field(default_factory=dict)
    accuracy: dict | None = None
    speed: dict | None = None  # int8 against fp32 on this host (edge/int8_speed.py)
    result: ExportResult | None = None

    def __post_init__(self):
        self.started = time.perf_counter()
        self.stem = f"{self.prepared.name}-{self.target.name}-{self.qconfig.scheme}"
        self.tmp = self.out / f".{self.stem}.partial-{os.getpid()}{self.target.suffix}"
        self.temporaries: list[Path] = [self.tmp]
        # Core ML takes app images through its own ImageType (an image program) unless the form is NCHW float
        self.image_input = self.target.image_input and not self.prepared.input_form.is_default

    def step(self, description: str) -> None:
        self.say(self.target.name, description)

    # The lowered program takes the app's input form (NHWC, uint8, Core ML's scaled image): every step
    # that runs or converts it feeds that form, and compares it with the eager model in that form.
    @property
    def form_inputs(self) -> tuple:
        return self.prepared.example_inputs if self.image_input else self.prepared.form_inputs

    def form_input(self, x):
        """A preprocessed NCHW float input (calibration, verification) as the lowered program takes it."""
        if not self.image_input:
            return self.prepared.feed(x)
        import torch

        from edge.io_form import image_type_params  # the image program sees ImageType's output: undo channel_scale

        scale = image_type_params(self.prepared.config.mean, self.prepared.config.std)["channel_scale"]
        return x / torch.tensor(scale).view(1, -1, 1, 1) if scale else x

    def form_model(self):
        """The eager model the lowered program was traced from (the model behind its input form)."""
        from edge.io_form import ImageClassifierInput

        p = self.prepared
        if self.image_input:
            return ImageClassifierInput(p.model, p.config.mean, p.config.std)
        return p.input_form.wrap(p.model, p.config.mean, p.config.std)

    @functools.cached_property
    def form_calibration(self) -> list | None:
        """The calibration inputs in the program's form (made once: four steps read them)."""
        return None if self.calibration is None else [self.form_input(x) for x in self.calibration.inputs]


def lower(run: ExportRun) -> None:
    run.step("lowering custom ops and backend fallbacks")
    program = run.prepared.image_program() if run.image_input else run.prepared.program
    run.program, run.applied = apply_lowerings(program, run.target)


def plan_precision(run: ExportRun) -> None:
    """--max-drop: the sensitivity analysis puts the most sensitive parts back to float."""
    if not (run.qconfig.needs_calibration and run.qconfig.max_drop is not None):
        return
    from quant.plan import LabelledSet, plan_mixed_precision

    labelled = run.labelled and LabelledSet(
        [run.form_input(x) for x in run.labelled.inputs], run.labelled.labels, run.labelled.source
    )
    run.qconfig, run.planned = plan_mixed_precision(
        run.program,
        run.target.quantizer,
        run.qconfig,
        run.form_calibration,
        run.form_model(),
        [run.form_input(x) for x in run.prepared.verify_inputs],
        labelled,
        lambda msg: run.step(msg),
    )


def tune_latency(run: ExportRun) -> None:
    """--tune-latency: op types whose int8 kernels time slower go back to float."""
    if not (run.qconfig.needs_calibration and run.qconfig.tune_latency):
        return
    from quant.latency import tune_latency as tune

    workdir = run.out / f"{run.tmp.name}.tune"  # under the temporary's name: removed with it
    workdir.mkdir()

    def convert_trial(config, path):
        return run.target.convert_program(
            run.prepared, run.program, path, config, run.form_calibration, run.options, run.form_inputs
        )

    run.qconfig, tuned, run.converted = tune(
        run.program,
        run.target.latency_candidates,
        run.qconfig,
        convert_trial,
        run.target.suffix,
        workdir,
        run.form_input(run.prepared.verify_inputs[0]).numpy(),
        say=lambda msg: run.step(msg),
    )
    run.planned = {**run.planned, "latency": tuned}


def convert(run: ExportRun) -> None:
    run.step("converting" if run.converted is None else "reusing the timed conversion of the chosen plan")
    _test_hold("conversion")
    prepared = run.prepared
    try:
        with captured_output(run.quiet):
            if run.converted is not None:
                run.outcome = _adopt(run.converted, run.tmp)
            else:
                run.outcome = run.target.convert(
                    ExportJob(
                        run.stem,
                        prepared.model,
                        run.program,
                        run.form_inputs,
                        run.qconfig.scheme,
                        run.tmp,
                        options=dict(run.options),
                        quant_config=run.qconfig,
                        calibration=run.form_calibration,
                        app=app_description(prepared, run.labels, run.image_input, run.credits),
                    )
                )
    except (EdgeError, KeyboardInterrupt):
        raise
    except Exception as e:  # converters raise anything; name the target and the converter's reason
        raise ExportError(f"{run.target.name} conversion of {prepared.name} failed: {first_line(e)}") from e
    run.outcome.fallbacks = run.applied + run.outcome.fallbacks
    run.temporaries += list(run.outcome.extra_files.values())


def verify(run: ExportRun) -> None:
    """Verification; an int8 artifact below its bound gets one more try with its most sensitive parts float."""
    try:
        _verify(run)
    except BelowBound as failure:
        _float_back(run, failure)


def _float_back(run: ExportRun, failure: BelowBound) -> None:
    """Verified with the plan the sensitivity analysis found, or one error naming what made int8 fail."""
    q = run.qconfig
    # the user's own plan (--max-drop) is kept as asked; Core ML's image program is fed other tensors
    if not (q.is_int8 and q.float_back and q.max_drop is None and not run.image_input):
        raise failure
    from quant.plan import plan_for_bound

    run.step(f"int8 missed its bound (cosine {failure.cosine:.4f} < {failure.bound}): finding what to keep float")
    prepared = run.prepared
    with captured_output(run.quiet):
        found = plan_for_bound(
            run.program,
            run.target.quantizer,
            q,
            run.form_calibration,
            [run.form_input(x) for x in prepared.verify_inputs],
            prepared.eager_outputs,
            failure.bound,
            run.step,
        )
    if found.qconfig is None:
        raise BelowBound(
            f"{failure} Float-back found no plan that reaches the bound ({found.sensitive}).",
            failure.cosine,
            failure.bound,
        ) from None
    run.qconfig, record = found.qconfig, found.record
    run.planned = {**run.planned, "float_back": record}
    kept = ", ".join(record["keep_float_ops"] + record["keep_float_modules"])
    run.step(f"WARNING: int8 kept {kept} in float to reach its bound (the manifest's quant.plan.float_back)")
    run.converted = None
    convert(run)
    try:
        _verify(run)
    except BelowBound as again:
        raise BelowBound(
            f"{again} Float-back kept {kept} in float and still missed ({found.sensitive}).", again.cosine, again.bound
        ) from None


def _verify(run: ExportRun) -> None:
    run.step("verifying against eager")
    _test_hold("verification")
    with captured_output(run.quiet):
        run.parity = verify_artifact(run.prepared, run.target, run.qconfig.scheme, run.tmp, run.outcome)
    if run.verify_on:  # the same check on emulated ARM64 kernels
        from edge.arm_verify import verify_on_arm

        run.parity = verify_on_arm(
            run.prepared,
            run.target,
            run.qconfig.scheme,
            run.tmp,
            run.outcome,
            run.parity,
            run.verify_on,
            lambda msg: run.step(msg),
        )
    plan = run.outcome.quant_plan
    run.outcome.quant_plan = {**run.planned, **plan} if (run.planned or plan) else {}


def measure_top1(run: ExportRun) -> None:
    if run.labelled is None:
        return
    run.step(f"top-1 on {len(run.labelled.inputs)} labelled images, artifact and eager fp32")
    with captured_output(run.quiet):
        run.accuracy = measure_accuracy(run.prepared, run.target, run.tmp, run.labelled, run.qconfig)


def write_files(run: ExportRun) -> None:
    """The manifest under a temporary name, then every file renamed into place together."""
    out, stem, target, outcome = run.out, run.stem, run.target, run.outcome
    finals = {target.suffix: out / f"{stem}{target.suffix}"}
    finals.update({suffix: out / f"{stem}{suffix}" for suffix in outcome.extra_files})
    manifest = build_manifest(
        run.prepared, target, run.qconfig.scheme, run.tmp, finals, outcome, run.parity, run.labels, run.image_input
    )
    manifest["quant"].update(quant_record(run.qconfig, run.calibration, outcome))
    if run.accuracy is not None:
        manifest["quant"]["accuracy"] = run.accuracy
    if run.speed is not None:
        manifest["quant"]["speed"] = run.speed
    validate_manifest(manifest, target)
    manifest_path = out / f"{stem}.json"
    check_finals(list(finals.values()) + [manifest_path])
    manifest_tmp = run.tmp.with_name(run.tmp.name + ".json")  # removed with the other temporaries on failure
    write_json(manifest_tmp, manifest)
    run.step("writing the manifest, then renaming the files into place")
    _test_hold("manifest")
    commit(
        [(outcome.extra_files.get(suffix, run.tmp), final) for suffix, final in finals.items()]
        + [(manifest_tmp, manifest_path)]
    )
    run.step("done")
    run.result = ExportResult(
        target.name, finals[target.suffix], manifest_path, manifest, round(time.perf_counter() - run.started, 2)
    )


STEPS = (lower, plan_precision, tune_latency, convert, verify, int8_speed, measure_top1, write_files)


def export_one(run: ExportRun) -> ExportResult:
    check_finals([run.out / f"{run.stem}{run.target.suffix}", run.out / f"{run.stem}.json"])
    try:
        run.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EdgeError(
            f"cannot create output folder {str(run.out)!r} ({e.strerror or e}); choose another with -o."
        ) from None
    try:
        for step in STEPS:
            step(run)
        return run.result
    finally:  # every temporary is named after run.tmp
        for path in run.temporaries + list(run.out.glob(f"{glob.escape(run.tmp.name)}*")):
            _remove(path)


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
