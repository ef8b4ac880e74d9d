"""`edge eval`: top-1 of an artifact and of its eager fp32 model on an image folder, side by side.

Wire into edge/cli.py with `register(sub)` in build_parser. Mistakes (missing folder, no manifest,
class mismatch, unreadable image) surface as EdgeError: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from edge import limits

_EVAL_EPILOG = """examples:
  edge eval out/fasternet_t0-onnx-fp32.onnx --data digits-test --weights edge/data/digits/fasternet_t0.safetensors
  edge eval out/mobilevit_xxs-xnnpack-fp32.pte --data val --weights w.safetensors --limit 500 --json

DIR holds one sub-folder of images per class: DIR/<class>/*.png (.jpg, .jpeg, .bmp, .webp).
Class folders map to class indices
  1. by the manifest's labels when it has them (export with --labels): folder 'cat' is label 'cat';
  2. else as numbers when every folder name is one: folder '3' is class 3;
  3. else in sorted order: the first folder is class 0 (then every class needs its folder).
Every image is prepared with the preprocessing in the artifact's manifest (<artifact stem>.json
beside it). The eager model is the manifest's zoo model rebuilt with --weights: give the file the
artifact was exported from. Core ML artifacts run only on macOS.

The digits test images, for the committed digits models (edge/data/digits/):
  python -c "from edge.digits import write_image_folder; write_image_folder('digits-test')"
"""


def cmd_eval(args) -> int:
    from edge.evaluate import evaluate

    show = not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\r{done}/{total} images", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = evaluate(
        args.artifact,
        args.data,
        weights=args.weights,
        limit=args.limit,
        progress=progress,
        allow_modified=args.allow_modified,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    weights = result["weights"] or "random init: no --weights"
    print(
        f"{result['model']} {result['target']} {result['quant']} on {result['images']} images of "
        f"{result['classes']} classes in {result['data']} ({result['class_rule']})"
    )
    print(f"  top-1 artifact    {result['artifact_top1']:6.2f}%  {result['artifact']}")
    print(f"  top-1 eager fp32  {result['eager_top1']:6.2f}%  {weights}")
    print(
        f"  drop {result['drop_points']:+.2f} points; predictions agree on {result['agreement']:.2f}% of images "
        f"(mean logit cosine {result['mean_cosine']:.6f})"
    )
    for note in result["notes"]:
        print(f"  note: {note}")
    return 0


def register(subparsers) -> None:
    """Add the `eval` subcommand to edge's argparse subparsers."""
    p = subparsers.add_parser(
        "eval",
        help="top-1 of an artifact and of its eager fp32 model on an image folder, side by side",
        description="Run ARTIFACT (in its runtime) and the eager fp32 model it was exported from on every\n"
        "image in DIR/<class>/, prepared as the manifest says, and print both top-1s, the drop in\n"
        "points and how often their predictions agree.",
        epilog=_EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("artifact", help=".pte, .tflite, .onnx or .ort written by `edge export` (or its .json manifest)")
    p.add_argument("--data", required=True, metavar="DIR", help="image folder with one sub-folder per class")
    p.add_argument(
        "--weights",
        help="weights of the eager model: the file the artifact was exported from "
        "(without it the eager model has random weights)",
    )
    p.add_argument(
        "--limit",
        type=limits.LIMIT_IMAGES.parse,
        metavar="N",
        help="evaluate at most N images, taken from the classes in turn",
    )
    p.add_argument(
        "--allow-modified", action="store_true", help="evaluate a file whose sha256 differs from its manifest"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_eval)
