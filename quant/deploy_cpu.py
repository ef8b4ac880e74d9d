"""int8 formats chosen by the CPU the model will be deployed on, and how to verify them on this one.

onnxruntime's int8 kernels differ by CPU (quant/onnx.py has the ops): U8S8 (uint8 activations,
int8 weights) is the fast format everywhere, but x86 without VNNI sums pairs of uint8 x int8
products into a saturating int16, so full-range weights can overflow there. Per deployment CPU:

- arm64 (phones, the default) and x86-vnni: U8S8 with 8-bit weights; int32 accumulation, exact.
- x86-avx2: U8S8 with 7-bit weights (onnxruntime's reduce_range): 2 x 255 x 64 < 32767 cannot
  saturate, for half a bit of weight precision.

Verification runs the fused int8 kernels when this host computes the format exactly. When it does
not (an 8-bit-weight model verified on an AVX2-only x86), the .onnx runs with onnxruntime's QDQ
fusion disabled: every int8 op as DequantizeLinear -> float op -> QuantizeLinear, which is what
saturation-free integer kernels compute, up to float rounding. A .ort bakes the fused kernels in
at conversion, so it cannot be run that way: it is run, and its host cosine recorded, but it is not
judged here (the ARM64 emulator or a phone can).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtimes.cpu import cpu_class, describe_cpu

DEPLOY_CPUS = ("arm64", "x86-vnni", "x86-avx2", "host")
DEFAULT_DEPLOY_CPU = "arm64"
REFERENCE_QDQ = {"session.disable_quant_qdq": "1"}  # onnxruntime session config: no QDQ -> QLinear* fusion


@dataclass(frozen=True)
class Int8Format:
    deploy_cpu: str  # resolved: arm64 | x86-vnni | x86-avx2 | x86
    weight_bits: int  # 8, or 7 where the deployment CPU's kernels would saturate on 8
    ort_platform: str  # convert_onnx_models_to_ort target_platform: arm | amd64

    @property
    def name(self) -> str:
        return "U8S8" + (" (7-bit weights)" if self.weight_bits == 7 else "")

    def exact_on(self, host_class: str) -> bool:
        """Whether `host_class`'s fused kernels compute this format without saturating."""
        return self.weight_bits == 7 or host_class in ("arm64", "x86-vnni")


def resolve_deploy_cpu(deploy_cpu: str) -> str:
    if deploy_cpu not in DEPLOY_CPUS:
        raise ValueError(f"deploy_cpu must be one of {', '.join(DEPLOY_CPUS)}. Got {deploy_cpu!r}.")
    return cpu_class() if deploy_cpu == "host" else deploy_cpu


def onnx_int8_format(deploy_cpu: str) -> Int8Format:
    cpu = resolve_deploy_cpu(deploy_cpu)
    saturates = cpu in ("x86-avx2", "x86")
    return Int8Format(cpu, 7 if saturates else 8, "arm" if cpu == "arm64" else "amd64")


def verification_plan(fmt: Int8Format) -> dict:
    """How this host verifies `fmt`: session config for the .onnx, and whether the .ort can be judged."""
    host = describe_cpu()
    exact = fmt.exact_on(host["class"])
    kernels = (
        "onnxruntime's fused int8 kernels (exact on this CPU for this format)"
        if exact
        else f"onnxruntime's QDQ reference execution (fusion disabled): this {host['class']} host's fused "
        f"{fmt.name} kernels saturate where the {fmt.deploy_cpu} kernels do not"
    )
    return {
        "host_cpu": host,
        "exact_on_host": exact,
        "kernels": kernels,
        "session_config": {} if exact else dict(REFERENCE_QDQ),
    }
