"""Command-line options for quantized exports, and the QuantConfig they (and a recipe) make."""
from __future__ import annotations

import argparse

from edge import limits
from edge.errors import EdgeError
from quant.config import OP_TYPES, SCHEMES, QuantConfig
from quant.deploy_cpu import DEPLOY_CPUS


def add_quant_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quant", choices=SCHEMES, help="precision (default fp32). int8: static W8A8 with per-channel "
                   "weights, our best plan per backend; fp16: litert, coreml; w8, pal4, pal6: Core ML weight-only "
                   "int8 and 4/6-bit palettization")
    p.add_argument("--calib", metavar="DIR|FILE", help="int8 calibration data: a folder of images (the model's "
                   "preprocessing is applied) or a .npy/.npz of preprocessed (N,C,H,W) tensors; without it, "
                   "crops of edge's sample photographs are used, with a warning")
    p.add_argument("--calib-samples", type=limits.CALIB_SAMPLES.parse, metavar="N", help="calibration inputs to use (default 32)")
    p.add_argument("--keep-float", metavar="NAME[,NAME]", help="op types (" + ", ".join(OP_TYPES) + ") or module "
                   "names (e.g. stages.3.blocks.0, head) to leave in float")
    p.add_argument("--max-drop", type=float, metavar="POINTS", help="put the most sensitive parts back to float "
                   "until the top-1 drop on --eval-data (or the top-1 disagreement with fp32 on the calibration "
                   "inputs, without it) is within POINTS")
    p.add_argument("--tune-latency", nargs="?", const="host", metavar="host|adb[:SERIAL]", help="int8: time the "
                   "op types whose int8 kernels can be slower than float (depthwise convs) both ways, whole model, on "
                   "this host (the default) or on a phone over adb, and keep float what runs faster there")
    p.add_argument("--tune-runner", metavar="PATH|app", help="--tune-latency adb: edge_bench built for the phone, "
                   "or `app` for the installed android_demo (which also runs .tflite and .onnx)")
    p.add_argument("--eval-data", metavar="DIR", help="labelled image folder (one sub-folder per class): top-1 of "
                   "artifact and eager fp32 go into the manifest")
    p.add_argument("--deploy-cpu", choices=DEPLOY_CPUS, help="int8: the CPU the model will run on, which picks "
                   "the int8 format where kernels differ (ONNX: x86 without VNNI saturates on 8-bit weights, so "
                   "x86-avx2 gets 7-bit ones); default arm64 (phones); host = this machine's CPU")
    p.add_argument("--int8-io", action="store_true", help="litert int8: int8 input and output tensors (default float)")


def quant_config_from(args, scheme: str | None = None, section=None) -> QuantConfig:
    """The recipe's scheme and quantization section, overridden by whatever the command line gives."""
    values = dict(section.to_kwargs()) if section is not None else {}
    if scheme:
        values["scheme"] = scheme
    if getattr(args, "quant", None):
        values["scheme"] = args.quant
    if getattr(args, "calib", None):
        values["calib"] = args.calib
    if getattr(args, "calib_samples", None) is not None:
        values["calib_samples"] = args.calib_samples
    if getattr(args, "keep_float", None):
        names = [n.strip() for n in args.keep_float.split(",") if n.strip()]
        values["keep_float_ops"] = tuple(n for n in names if n in OP_TYPES)
        values["keep_float_modules"] = tuple(n for n in names if n not in OP_TYPES)
    if getattr(args, "max_drop", None) is not None:
        values["max_drop"] = args.max_drop
    if getattr(args, "eval_data", None):
        values["eval_data"] = args.eval_data
    if getattr(args, "tune_latency", None):
        values["tune_latency"] = args.tune_latency
    if getattr(args, "tune_runner", None):
        values["tune_runner"] = args.tune_runner
    if getattr(args, "deploy_cpu", None):
        values["deploy_cpu"] = args.deploy_cpu
    if getattr(args, "int8_io", False):
        values["io"] = "int8"
    values.setdefault("scheme", "fp32")
    if values["scheme"] != "int8":
        given = [f"--{k.replace('_', '-')}" for k in ("calib", "max_drop") if values.get(k) is not None]
        given += ["--tune-latency"] if values.get("tune_latency") else []
        if given:
            raise EdgeError(f"{' and '.join(given)} only apply to --quant int8 (got --quant {values['scheme']}).")
    try:
        return QuantConfig(**values)
    except ValueError as e:
        raise EdgeError(str(e)) from None
