"""Parity on emulated ARM64 kernels: every zoo family x backend x precision, verified on qemu CPU models.

  .venv/bin/python benchmarks/arm64_parity.py [-o out/arm64] [--size 64] [--cpus cortex-a53,cortex-a76]
      [--models mobilevit_xxs,fasternet_t0,iformer_t] [--quants fp32,fp16,int8]

Exports each model at --size px (random weights, the sample photographs as verification inputs) to
xnnpack fp32/fp16/int8, litert fp32/fp16/int8 and onnx fp32/int8 with --verify-on, all verification
inputs on every CPU, and prints one markdown row per artifact: host cosine, each CPU's cosine and
SQNR, and the failure line of artifacts that were not written. Numerics only: no time is measured
(emulated time is not a phone's). Takes tens of minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PLAN = {"fp32": ("xnnpack", "litert", "onnx"), "fp16": ("xnnpack", "litert"), "int8": ("xnnpack", "litert", "onnx")}
SUFFIX = {"xnnpack": ".pte", "litert": ".tflite", "onnx": ".onnx"}


def cell(entry: dict | None) -> str:
    if not entry:
        return "–"
    text = f"{entry['cosine']:.6f} / {entry['sqnr_db'] if entry['sqnr_db'] is not None else 'inf'} dB"
    ort = entry.get("extra_files", {}).get("ort")
    if ort and "cosine" in ort:
        text += f" (.ort {ort['cosine']:.6f})"
    return text if entry["status"] == "passed" else f"**{entry['status']}** {text}"


def export_group(model: str, quant: str, targets, size: int, out: Path, cpus: list[str]) -> dict:
    """Export one model at one precision to its targets, verified on the CPUs; {(model, target, quant): why}
    for the artifacts that were not written (the others stay written with their manifests)."""
    from common.errors import EdgeError
    from edge.export import export_targets

    try:
        export_targets(
            model,
            targets=",".join(targets),
            quant=quant,
            input_size=size,
            out_dir=out,
            keep_going=True,
            verify_on="arm64:" + ",".join(cpus),
        )
    except EdgeError as e:
        failed = {}
        for part in str(e).split("targets failed: ", 1)[-1].split(" | "):
            name, _, why = part.partition(": ")
            failed[(model, name.strip(), quant)] = why
        return failed
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", default="out/arm64")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--cpus", default="cortex-a53,cortex-a76")
    parser.add_argument("--models", default="mobilevit_xxs,fasternet_t0,iformer_t")
    parser.add_argument("--quants", default="fp32,fp16,int8")
    parser.add_argument("--table-only", action="store_true", help="no exports: the table of what -o holds")
    args = parser.parse_args()
    cpus = args.cpus.split(",")
    rows, failures = [], {}
    for model in args.models.split(","):
        for quant in args.quants.split(","):
            targets = PLAN[quant]
            out = Path(args.out) / f"{model}-{quant}"
            start = time.perf_counter()
            if not args.table_only:
                failures.update(export_group(model, quant, targets, args.size, out, cpus))
            print(f"{model} {quant}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
            for target in targets:
                manifest = out / f"{model}-{target}-{quant}.json"
                if manifest.exists():
                    parity = json.loads(manifest.read_text())["parity"]
                    rows.append(
                        (
                            model,
                            target,
                            quant,
                            f"{parity['cosine']:.6f}",
                            *[cell(parity.get("arm64", {}).get(c)) for c in cpus],
                            "written",
                        )
                    )
                else:
                    why = failures.get((model, target, quant), "not written")
                    rows.append((model, target, quant, "–", *["–" for _ in cpus], why[:160]))
    print(f"| model | backend | quant | host cosine | {' | '.join(cpus)} | result |")
    print("|---|---|---|---:|" + "---:|" * len(cpus) + "---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
