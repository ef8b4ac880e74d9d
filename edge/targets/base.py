"""The Target: one object per phone backend that tells the whole story of that backend."""

from __future__ import annotations

import importlib
import importlib.util
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def load(spec: str) -> Callable:
    """'package.module:function' -> the function, imported on first use."""
    module, _, fn = spec.partition(":")
    return getattr(importlib.import_module(module), fn)


@dataclass(frozen=True)
class Availability:
    can_export: bool
    can_run: bool
    reason: str  # why not, or "" when both hold

    def to_dict(self) -> dict:
        return {"can_export": self.can_export, "can_run": self.can_run, "reason": self.reason}


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str  # artifact file suffix, with the dot
    description: str
    extra: str  # the pip extra that installs its SDK
    export_modules: tuple[str, ...]  # Python modules the converter needs
    run_modules: tuple[str, ...]  # Python modules the verifying runtime needs
    exporter: str = ""  # "module:function" taking an ExportJob, returning an ExportOutcome
    quants: tuple[str, ...] = ("fp32",)
    run_platforms: tuple[str, ...] = ("Linux", "Darwin", "Windows")
    max_rank: int | None = None  # highest tensor rank its accelerators accept
    unsupported_ops: tuple[str, ...] = ()  # aten op names it has no conversion for
    image_input: bool = False  # takes app images through its own image type (Core ML ImageType)
    runtime: str = ""  # the runtime an app loads the artifact with (manifest target.runtime)
    packages: tuple[str, ...] = ()  # distributions whose versions the manifest records
    lowering_modules: tuple[str, ...] = ()  # modules registering its lowerings and finisher (edge.lowering)
    quantizer: str = ""  # "module:function" -> its pt2e quantizer; "" when it quantizes
    #                                           outside PyTorch (the sensitivity analysis then uses a reference)
    latency_candidates: tuple[str, ...] = ()  # op types --tune-latency tries in float (int8 kernels slow somewhere)
    coverage: str = ""  # "module:function" (program, target) -> coverage; "" = a graph walk
    session: str = ""  # "module:function" (path, config) -> a runtimes Session; "" = by format

    def load_exporter(self) -> Callable[[ExportJob], ExportOutcome]:
        """Import the converter only when it is used, so `import edge` never loads an SDK."""
        return load(self.exporter)

    def convert(self, job: ExportJob) -> ExportOutcome:
        return self.load_exporter()(job)

    def convert_program(
        self, prepared, program, path: Path, config, calibration=None, options=None, inputs=None
    ) -> ExportOutcome:
        """Convert an already lowered `program` of `prepared` (edge.prepare.PreparedModel) to `path` under
        `config` (quant.config.QuantConfig), the converters' chatter captured: the export pipeline's extra
        conversions (latency trials, the int8 speed check) and edge bench's candidates. `inputs` (and
        `calibration`) are in the program's input form: by default the prepared model's form."""
        from common.quiet import captured_output

        job = ExportJob(
            path.stem,
            prepared.model,
            program,
            inputs or prepared.form_inputs or prepared.example_inputs,
            config.scheme,
            path,
            options=dict(options or {}),
            quant_config=config,
            calibration=calibration,
        )
        with captured_output():
            return self.convert(job)

    def open_session(self, path: Path, config: dict | None = None, threads: int | None = None):
        """The artifact loaded in the runtime this host verifies it with (threads: the runtime's default)."""
        if self.session:
            return load(self.session)(path, config)
        from runtimes import open_session

        return open_session(path, threads, config=config)

    def availability(self) -> Availability:
        """Lazy check (no SDK import): what this machine can do with the target, and why not."""
        missing = [m for m in self.export_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, False, f"{', '.join(missing)} not installed: pip install 'edge[{self.extra}]'")
        if platform.system() not in self.run_platforms:
            where = " or ".join("macOS" if p == "Darwin" else p for p in self.run_platforms)
            return Availability(True, False, f"export only: its runtime needs {where}")
        missing = [m for m in self.run_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(
                True, False, f"export only: {', '.join(missing)} not installed (pip install 'edge[{self.extra}]')"
            )
        return Availability(True, True, "")


@dataclass
class ExportJob:
    """Everything a target's exporter needs. It writes `out_path` (a temporary name); any other
    file or folder it makes is named `out_path.name + something` beside it, so it is cleaned up."""

    name: str  # artifact stem: <model>-<target>-<quant>
    model: Any  # nn.Module, eval mode, reparameterized, fp32
    program: Any  # torch.export.ExportedProgram of `model` on `example_inputs`
    example_inputs: tuple
    quant: str
    out_path: Path
    options: dict = field(default_factory=dict)
    quant_config: Any = None  # quant.config.QuantConfig: scheme, io, what stays float
    calibration: Any = None  # list of input tensors in the program's input form (int8 schemes)
    app: dict = field(default_factory=dict)  # what goes into the artifact's own metadata (export.app_description)


@dataclass
class ExportOutcome:
    """What an exporter reports besides the artifact file."""

    coverage: dict = field(default_factory=dict)  # what the backend takes / leaves out, and why
    fallbacks: list = field(default_factory=list)  # rewrites applied (filled by the fallbacks issue)
    extra_files: dict = field(default_factory=dict)  # final suffix -> temporary path (e.g. ".ort")
    validation: dict = field(default_factory=dict)  # checks done without a runtime (Core ML)
    notes: list = field(default_factory=list)
    quant_plan: dict = field(default_factory=dict)  # what was quantized, what stayed float and why
    # how this host must run the artifact to judge it: runtime config for the main file, and companion
    # suffixes whose numerics here are not the deployment CPU's (run and recorded, not judged) with why
    verify_config: dict = field(default_factory=dict)
    unjudged: dict = field(default_factory=dict)
    deployment: dict = field(default_factory=dict)  # the deployment CPU and the int8 format chosen for it
    app: dict = field(default_factory=dict)  # the manifest's `app` section: what the artifact embeds
