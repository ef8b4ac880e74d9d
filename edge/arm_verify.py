"""`--verify-on arm64:CPU[,CPU]`: judge each artifact again on emulated ARM64 kernels, as phones run it.

After the host's verification, the artifact (and its .ort) runs on the same verification inputs on
each named qemu CPU model (runtimes/arm64), and is compared with eager fp32 against the same bound.
`parity.arm64.<cpu>` records the result, the CPU features that were on and the runtime versions. An
artifact that misses the bound on any CPU fails the export (nothing is written). ONNX int8 made for
phones runs with onnxruntime's fused int8 kernels there, so its .ort, which this x86 host cannot
judge, is judged on ARM.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from common.compare import COSINE_BOUNDS, compare, summarize
from common.errors import EdgeError, ExportError


def parse_verify_on(spec: str | list[str] | None) -> list[str]:
    """'arm64[:CPU[,CPU...]]' (or a list of CPU names) -> CPU names; a mistake is one EdgeError line."""
    if not spec:
        return []
    from runtimes.arm64 import parse_cpus
    from runtimes.base import ProfileError

    if isinstance(spec, (list, tuple)):
        spec = "arm64:" + ",".join(spec)
    try:
        return parse_cpus(spec)
    except ProfileError as e:
        raise EdgeError(f"--verify-on: {e}") from None


def check_emulator(cpus: list[str], targets) -> None:
    """Before any conversion: the emulator and the runtimes these targets need are set up."""
    if not cpus:
        return
    from runtimes.arm64 import missing
    from runtimes.arm64.toolchain import SETUP_HINT

    need = {"xnnpack": "pte", "litert": "python", "onnx": "python"}
    gaps = sorted({g for t in targets if t.name in need for g in missing(need[t.name])})
    if gaps:
        raise EdgeError(
            f"--verify-on arm64 needs the ARM64 emulator, which is not set up here: missing "
            f"{'; '.join(gaps)}; {SETUP_HINT}."
        )


def verify_on_arm(
    prepared, target, quant: str, path: Path, outcome, parity: dict, cpus: list[str], say: Callable[[str], None]
) -> dict:
    """parity with an `arm64` entry per CPU; ExportError naming the CPU and the bound when one misses it."""
    if target.name == "coreml":
        parity["arm64"] = {
            cpu: {"status": "not_run", "reason": "Core ML runs only on Apple devices; not emulated"} for cpu in cpus
        }
        return parity
    from runtimes.arm64 import CPU_MODELS, ArmRunError, run_on_arm64
    from runtimes.base import RuntimeUnavailable

    inputs = prepared.verify_inputs[: inputs_limit()]
    samples = [[prepared.feed(x).numpy()] for x in inputs]
    files = {"": path, **{s.lstrip("."): p for s, p in outcome.extra_files.items() if s == ".ort"}}
    results = {}
    for cpu in cpus:
        say(f"verifying on the emulated ARM64 {cpu} ({len(samples)} inputs per file)")
        try:  # ARM's fused int8 kernels are exact: no QDQ reference session here
            runs = run_on_arm64([{"path": p, "samples": samples} for p in files.values()], cpu)
        except (ArmRunError, RuntimeUnavailable) as e:
            raise ExportError(
                f"{target.name} {quant} artifact of {prepared.name}: {e}; no artifact was written."
            ) from e
        entry = None
        for key, run in zip(files, runs):
            if len(run.outputs) != len(samples):
                raise ExportError(f"the emulated {cpu} returned {len(run.outputs)} results for {len(samples)} inputs.")
            judged = judge(prepared, run, quant)
            judged.update(
                {
                    "features": run.features,
                    "isa": CPU_MODELS[cpu].isa,
                    "versions": run.versions,
                    "runner": run.runner,
                    "emulator": run.emulator,
                    "emulated": True,
                }
            )
            if key == "":
                entry = judged
            else:
                entry.setdefault("extra_files", {})[key] = judged
        results[cpu] = entry
    parity["arm64"] = results
    for cpu, entry in results.items():
        for name, p in [(path.suffix, entry)] + [(f".{k}", v) for k, v in entry.get("extra_files", {}).items()]:
            if p["status"] != "passed":
                raise ExportError(
                    f"{target.name} {quant} {name} artifact of {prepared.name} failed verification on "
                    f"arm64:{cpu} (emulated): cosine {p['cosine']:.6f} to eager is below "
                    f"{COSINE_BOUNDS[quant]} (max abs error {p['max_abs_error']:.3g}); no artifact was "
                    "written."
                )
    ort = parity.get("extra_files", {}).get("ort")
    if ort and ort["status"] == "not_run":  # the host could not judge it; ARM's kernels just did
        ort["host_reason"] = ort.pop("reason", "")
        ort.update(
            {
                "status": "passed",
                "judged_on": ", ".join(f"arm64:{c} (emulated)" for c in cpus),
                "cosine": min(results[c]["extra_files"]["ort"]["cosine"] for c in cpus),
            }
        )
    return parity


def inputs_limit() -> int | None:
    """$EDGE_ARM64_VERIFY_INPUTS=N: only the first N verification inputs run on the emulator (default all;
    each emulated inference costs seconds, so CI runs one)."""
    value = os.environ.get("EDGE_ARM64_VERIFY_INPUTS", "")
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise EdgeError(f"EDGE_ARM64_VERIFY_INPUTS must be a positive integer; got {value!r}.")
    return int(value)


def judge(prepared, run, quant: str) -> dict:
    per_sample = [compare(ref.numpy(), outs[0]) for ref, outs in zip(prepared.eager_outputs, run.outputs)]
    return {**summarize(per_sample, quant), "inputs": prepared.verify_note}
