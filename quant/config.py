"""What a quantized export asks for: the scheme, the calibration data and what stays float.

One frozen dataclass, validated on construction ("... Got X."), passed to every backend's
quantizer. Overrides go from general to specific: `keep_float_ops` (op types such as
"softmax", "layer_norm", "linear") then `keep_float_modules` (module-name prefixes such as
"stages.3" or "head").
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from quant.deploy_cpu import DEPLOY_CPUS

# Precisions an export can ask for. int8 is static W8A8 with per-channel weights on every backend;
# w8 is weight-only int8 and pal4/pal6 are 4/6-bit weight palettization (Core ML).
SCHEMES = ("fp32", "fp16", "int8", "w8", "pal4", "pal6")
FLOAT_SCHEMES = ("fp32", "fp16")
IO_CHOICES = ("float", "int8")

# Op-type names a user may keep in float, and the aten ops each one stands for.
OP_TYPES = {
    "conv": ("conv2d", "convolution"),
    "depthwise": ("conv2d", "convolution"),  # only convs with one input channel per group (pt2e backends)
    "linear": ("linear", "addmm", "mm"),
    "matmul": ("bmm", "matmul"),
    "softmax": ("softmax", "_softmax"),
    "layer_norm": ("layer_norm", "native_layer_norm"),
    "add": ("add",),
    "mul": ("mul",),
    "cat": ("cat", "concat"),
    "pool": ("avg_pool2d", "adaptive_avg_pool2d", "mean"),
    "activation": ("silu", "gelu", "hardswish", "relu", "sigmoid"),
}


# int8-only behaviours that are on by default; each is a --no-... switch on the command line
INT8_SWITCHES = ("float_back", "speed_check")


def option(
    default, flag: str | None = None, help: str = "", *, recipe: bool = True, manifest: bool = False, **argparse_options
):
    """A QuantConfig field and everything said about it once: its command-line flag and help (edge's CLI
    builds the option from them), whether a recipe's `quantization:` section may set it, and whether
    the manifest's quant section records it."""
    meta = {"flag": flag, "help": help, "recipe": recipe, "manifest": manifest, "argparse": argparse_options}
    if isinstance(default, (dict, list)):
        return field(default_factory=type(default), compare=False, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class QuantConfig:
    scheme: str = option(
        "fp32",
        "--quant",
        "precision (default fp32). int8: static W8A8 with per-channel weights, "
        "our best plan per backend; fp16: litert, coreml; w8, pal4, pal6: Core ML weight-only int8 "
        "and 4/6-bit palettization",
        recipe=False,
        manifest=True,
        choices=SCHEMES,
    )
    calib: str | None = option(
        None,
        "--calib",
        "int8 calibration data: a folder of images (the model's "
        "preprocessing is applied) or a .npy/.npz of preprocessed (N,C,H,W) tensors; without "
        "it, crops of edge's sample photographs are used, with a warning",
        metavar="DIR|FILE",
    )
    calib_samples: int = option(32, "--calib-samples", "calibration inputs to use (default 32)", metavar="N")
    io: str = option("float", "--int8-io", "litert int8: int8 input and output tensors (default float)", manifest=True)
    keep_float_ops: tuple[str, ...] = option(
        (),
        "--keep-float",
        "op types (" + ", ".join(OP_TYPES) + ") or module names (e.g. stages.3.blocks.0, head) to leave in float",
        manifest=True,
        metavar="NAME[,NAME]",
    )
    keep_float_modules: tuple[str, ...] = option((), manifest=True)  # set through --keep-float too
    max_drop: float | None = option(
        None,
        "--max-drop",
        "put the most sensitive parts back to float until the "
        "top-1 drop on --eval-data (or the top-1 disagreement with fp32 on the "
        "calibration inputs, without it) is within POINTS",
        manifest=True,
        type=float,
        metavar="POINTS",
    )
    eval_data: str | None = option(
        None,
        "--eval-data",
        "labelled image folder (one sub-folder per class): top-1 of artifact and eager fp32 go into the manifest",
        metavar="DIR",
    )
    float_back: bool = option(
        True,
        "--no-float-back",
        "int8: fail when the default plan misses the cosine bound, instead of putting the most sensitive "
        "parts back to float (found by the sensitivity analysis) and converting again",
        recipe=False,
    )
    speed_check: bool = option(
        True,
        "--no-speed-check",
        "int8: skip timing the int8 artifact against an fp32 conversion of the same backend on this host "
        "(by default the manifest records both times and the export warns when int8 is not faster)",
        recipe=False,
    )
    tune_latency: str | None = option(
        None,
        "--tune-latency",
        "int8: time the op types whose int8 kernels can be "
        "slower than float (depthwise convs) both ways, whole model, on this host (the "
        "default) or on a phone over adb, and keep float what runs faster there",
        manifest=True,
        nargs="?",
        const="host",
        metavar="host|adb[:SERIAL]",
    )
    tune_runner: str | None = option(
        None,
        "--tune-runner",
        "--tune-latency adb: edge_bench built for the phone, "
        "or `app` for the installed android_demo (which also runs .tflite and .onnx)",
        manifest=True,
        metavar="PATH|app",
    )
    deploy_cpu: str = option(
        "arm64",
        "--deploy-cpu",
        "int8: the CPU the model will run on, which picks the int8 "
        "format where kernels differ (ONNX: x86 without VNNI saturates on 8-bit weights, so "
        "x86-avx2 gets 7-bit ones); default arm64 (phones); host = this machine's CPU",
        manifest=True,
        choices=DEPLOY_CPUS,
    )
    extra: dict = option({}, recipe=False)

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"quant scheme must be one of {', '.join(SCHEMES)}. Got {self.scheme!r}.")
        if self.io not in IO_CHOICES:
            raise ValueError(f"quant io must be one of {', '.join(IO_CHOICES)}. Got {self.io!r}.")
        if not isinstance(self.calib_samples, int) or isinstance(self.calib_samples, bool) or self.calib_samples < 1:
            raise ValueError(f"calib_samples must be a positive integer. Got {self.calib_samples!r}.")
        unknown = [op for op in self.keep_float_ops if op not in OP_TYPES]
        if unknown:
            raise ValueError(
                f"unknown op type {unknown[0]!r} in keep_float_ops; choose from "
                f"{', '.join(OP_TYPES)}. Got {list(self.keep_float_ops)}."
            )
        if self.max_drop is not None and not (0 <= self.max_drop < 100):
            raise ValueError(f"max_drop is in top-1 points, between 0 and 100. Got {self.max_drop!r}.")
        if self.tune_latency is not None:
            check_tune_device(self.tune_latency, self.tune_runner)
        elif self.tune_runner is not None:
            raise ValueError("tune_runner only applies with tune_latency adb[:SERIAL].")
        if self.deploy_cpu not in DEPLOY_CPUS:
            raise ValueError(f"deploy_cpu must be one of {', '.join(DEPLOY_CPUS)}. Got {self.deploy_cpu!r}.")
        if self.io == "int8" and self.scheme != "int8":
            raise ValueError(f"int8 input/output needs the int8 scheme. Got scheme {self.scheme!r}.")

    @property
    def is_float(self) -> bool:
        return self.scheme in FLOAT_SCHEMES

    @property
    def needs_calibration(self) -> bool:
        return self.scheme == "int8"

    @property
    def is_int8(self) -> bool:
        return self.scheme == "int8"

    def int8_only_options(self) -> list[str]:
        """The int8-only options this config sets although its scheme is not int8 (their flags)."""
        if self.is_int8:
            return []
        return [
            f.metadata["flag"]
            for f in fields(self)
            if (f.name in ("calib", "max_drop", "tune_latency") and getattr(self, f.name) is not None)
            or (f.name in INT8_SWITCHES and not getattr(self, f.name))
        ]

    def to_dict(self) -> dict:
        """The manifest's record of the request."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
            if f.metadata["manifest"]
        }


def recipe_fields() -> list:
    """The fields a recipe's `quantization:` section may set (edge.recipe builds the section from them)."""
    return [f for f in fields(QuantConfig) if f.metadata["recipe"]]


def check_tune_device(device: str, runner: str | None) -> None:
    """host (the Python runtimes) or adb[:SERIAL] (a phone, through edge_bench or the demo app)."""
    kind, sep, ident = device.partition(":")
    if kind not in ("host", "adb") or (kind == "host" and sep) or (sep and not ident):
        raise ValueError(f"tune_latency takes host, adb or adb:SERIAL. Got {device!r}.")
    if kind == "adb" and not runner:
        raise ValueError(
            "tune_latency adb needs a runner: --tune-runner PATH (edge_bench built for the phone, "
            "runtimes/native/README.md) or --tune-runner app (the installed android_demo)."
        )
    if kind == "host" and runner:
        raise ValueError("tune_runner is for tune_latency adb; on the host the Python runtimes time the artifacts.")
