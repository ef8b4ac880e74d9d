"""Top-1 of every int8 artifact that runs here against eager fp32, on the digits-trained models.

Exports each committed digits model (edge/data/digits) to each runnable target with --quant int8,
calibrated on the digits train split, evaluated on the 359-image test split, and prints a
markdown table. Usage:  PYTHONPATH=. .venv/bin/python scripts/int8_digits_table.py [-o out/int8-digits]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.errors import EdgeError
from edge.digits import DIGITS_DIR, DIGITS_INPUT_SIZE, DIGITS_MODELS, write_image_folder
from edge.export import export
from edge.targets import TARGETS
from quant.config import QuantConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="out/int8-digits")
    parser.add_argument("--models", default=",".join(DIGITS_MODELS))
    parser.add_argument("--targets", default="xnnpack,litert,onnx")
    parser.add_argument("--calib-samples", type=int, default=64)
    args = parser.parse_args(argv)
    out = Path(args.out)
    train, test = write_image_folder(out / "train", "train"), write_image_folder(out / "test", "test")
    rows = []
    for model in args.models.split(","):
        for target in args.targets.split(","):
            if "int8" not in TARGETS[target].quants or not TARGETS[target].availability().can_run:
                rows.append((model, target, None, None, "int8 not offered or cannot run here"))
                continue
            q = QuantConfig(scheme="int8", calib=str(train), calib_samples=args.calib_samples, eval_data=str(test))
            try:
                r = export(
                    model,
                    target=target,
                    quant=q,
                    num_classes=10,
                    input_size=DIGITS_INPUT_SIZE,
                    weights=DIGITS_DIR / f"{model}.safetensors",
                    out_dir=out / model,
                )
            except EdgeError as e:
                rows.append((model, target, None, None, f"failed: {e}"))
                continue
            acc = r.manifest["quant"]["accuracy"]
            rows.append(
                (
                    model,
                    target,
                    acc["eager_fp32_top1"],
                    acc["artifact_top1"],
                    f"cosine {r.manifest['parity']['cosine']:.5f}",
                )
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| model | backend | eager fp32 top-1 | int8 top-1 | drop (points) | note |")
    print("|---|---|---|---|---|---|")
    for model, target, fp32, int8, note in rows:
        drop = f"{fp32 - int8:.2f}" if fp32 is not None else "-"
        print(
            f"| {model} | {target} | {fp32 if fp32 is not None else '-'} | {int8 if int8 is not None else '-'} "
            f"| {drop} | {note} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
