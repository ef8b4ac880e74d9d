"""What a quantized export asks for: the scheme, the calibration data and what stays float.

One frozen dataclass, validated on construction ("... Got X."), passed to every backend's
quantizer. Overrides go from general to specific: `keep_float_ops` (op types such as
"softmax", "layer_norm", "linear") then `keep_float_modules` (module-name prefixes such as
"stages.3" or "head").
"""
from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class QuantConfig:
    scheme: str = "fp32"
    calib: str | None = None            # image folder, .npy/.npz, or None for synthetic inputs (warned)
    calib_samples: int = 32
    io: str = "float"                   # litert: "int8" gives a full-integer model with int8 input/output
    keep_float_ops: tuple[str, ...] = ()
    keep_float_modules: tuple[str, ...] = ()
    max_drop: float | None = None       # top-1 points (with eval data) or cosine budget (without)
    eval_data: str | None = None        # labelled image folder for the top-1 drop
    auto_mixed: bool = True             # let the sensitivity analysis put parts back to float
    tune_latency: str | None = None     # time op types float vs int8 on "host" or "adb[:SERIAL]" (quant/latency.py)
    tune_runner: str | None = None      # adb: edge_bench built for the phone, or "app" (android_demo)
    deploy_cpu: str = "arm64"           # the CPU the int8 kernels will run on (quant/deploy_cpu.py)
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"quant scheme must be one of {', '.join(SCHEMES)}. Got {self.scheme!r}.")
        if self.io not in IO_CHOICES:
            raise ValueError(f"quant io must be one of {', '.join(IO_CHOICES)}. Got {self.io!r}.")
        if not isinstance(self.calib_samples, int) or isinstance(self.calib_samples, bool) or self.calib_samples < 1:
            raise ValueError(f"calib_samples must be a positive integer. Got {self.calib_samples!r}.")
        unknown = [op for op in self.keep_float_ops if op not in OP_TYPES]
        if unknown:
            raise ValueError(f"unknown op type {unknown[0]!r} in keep_float_ops; choose from "
                             f"{', '.join(OP_TYPES)}. Got {list(self.keep_float_ops)}.")
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

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "io": self.io, "keep_float_ops": list(self.keep_float_ops),
                "keep_float_modules": list(self.keep_float_modules), "max_drop": self.max_drop,
                "tune_latency": self.tune_latency, "tune_runner": self.tune_runner, "deploy_cpu": self.deploy_cpu}


def check_tune_device(device: str, runner: str | None) -> None:
    """host (the Python runtimes) or adb[:SERIAL] (a phone, through edge_bench or the demo app)."""
    kind, sep, ident = device.partition(":")
    if kind not in ("host", "adb") or (kind == "host" and sep) or (sep and not ident):
        raise ValueError(f"tune_latency takes host, adb or adb:SERIAL. Got {device!r}.")
    if kind == "adb" and not runner:
        raise ValueError("tune_latency adb needs a runner: --tune-runner PATH (edge_bench built for the phone, "
                         "runtimes/native/README.md) or --tune-runner app (the installed android_demo).")
    if kind == "host" and runner:
        raise ValueError("tune_runner is for tune_latency adb; on the host the Python runtimes time the artifacts.")
