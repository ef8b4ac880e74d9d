"""`edge bundle`: copy an exported artifact and its manifest into the Android or iOS demo app.

Wire into edge/cli.py with `register(sub)` in build_parser. Mistakes (missing file, manifest of
another export, a format the app does not run, a folder that is not the app) surface as EdgeError:
one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json

_EPILOG = """examples:
  edge bundle out/mobilevit_xxs-xnnpack-fp32.pte --app android
  edge bundle out/mobilevit_xxs-onnx-fp32.ort --app android
  edge bundle out/mobilevit_xxs-coreml-fp32.mlpackage --app ios
  edge bundle out/mobilevit_xxs-xnnpack-fp32.json --app ios --demo-dir ~/src/edge/ios_demo

The manifest (<stem>.json) is copied beside the model, and the labels as <stem>.labels.txt. A .tflite
exported with --input-form nhwc-float/nhwc-uint8 carries its labels and normalization itself (MediaPipe
reads them), a Core ML package exported so is a classifier with its labels (Vision reads them). android_demo/README.md and ios_demo/README.md go on from here."""


def cmd_bundle(args) -> int:
    from edge.demo_assets import bundle

    result = bundle(args.artifact, args.app, args.demo_dir)
    if args.json:
        print(
            json.dumps(
                {
                    "app": result.app,
                    "model": str(result.model),
                    "manifest": str(result.manifest),
                    "replaced": result.replaced,
                    "labels": str(result.labels) if result.labels else None,
                    "next_steps": result.next_steps,
                },
                indent=2,
            )
        )
        return 0
    verb = "replaced" if result.replaced else "copied"
    print(f"{verb} {result.model}")
    print(f"copied {result.manifest}")
    if result.labels:
        print(f"wrote {result.labels}")
    print("next:")
    for step in result.next_steps:
        print(f"  {step}")
    return 0


def register(subparsers) -> None:
    """Add the `bundle` subcommand to edge's argparse subparsers."""
    p = subparsers.add_parser(
        "bundle",
        help="copy an exported artifact and its manifest into the Android or iOS demo app",
        description="Check that ARTIFACT and the manifest beside it belong together (valid manifest, same sha256) "
        "and that the app runs its format, then copy both into the app's bundled-model folder "
        "(android_demo/app/src/main/assets/models or ios_demo/Models).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "artifact",
        help=".pte, .tflite, .ort or .onnx (android); .mlpackage or .pte (ios); or the artifact's .json manifest",
    )
    p.add_argument("--app", required=True, choices=["android", "ios"], help="which demo app to put it in")
    p.add_argument(
        "--demo-dir", metavar="DIR", help="the app folder (default: android_demo/ or ios_demo/ of this checkout)"
    )
    p.add_argument("--json", action="store_true", help="print what was copied as JSON")
    p.set_defaults(func=cmd_bundle)
