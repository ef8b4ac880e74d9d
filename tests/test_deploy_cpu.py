"""CPU classes from /proc/cpuinfo flags, and the int8 format and verification each deployment CPU gets."""

import pytest

from quant.deploy_cpu import onnx_int8_format, resolve_deploy_cpu
from runtimes.cpu import cpu_class

AVX2 = frozenset({"sse4_2", "avx2", "fma"})
VNNI = AVX2 | {"avx512f", "avx512_vnni"}


@pytest.mark.parametrize(
    "flags, machine, expected",
    [
        (AVX2, "x86_64", "x86-avx2"),
        (VNNI, "x86_64", "x86-vnni"),
        (AVX2 | {"avx_vnni"}, "x86_64", "x86-vnni"),
        (frozenset({"sse4_2"}), "x86_64", "x86"),
        (frozenset({"asimd", "asimddp"}), "aarch64", "arm64"),
    ],
)
def test_cpu_class_from_flags(flags, machine, expected):
    assert cpu_class(flags, machine) == expected


@pytest.mark.parametrize(
    "deploy, bits, platform", [("arm64", 8, "arm"), ("x86-vnni", 8, "amd64"), ("x86-avx2", 7, "amd64")]
)
def test_onnx_int8_format_per_deployment_cpu(deploy, bits, platform):
    fmt = onnx_int8_format(deploy)
    assert (fmt.weight_bits, fmt.ort_platform) == (bits, platform)


@pytest.mark.parametrize(
    "deploy, host, exact",
    [
        ("arm64", "x86-avx2", False),
        ("arm64", "x86-vnni", True),
        ("arm64", "arm64", True),
        ("x86-vnni", "x86-avx2", False),
        ("x86-avx2", "x86-avx2", True),
        ("x86-avx2", "arm64", True),
    ],
)
def test_fused_kernels_are_exact_only_where_they_cannot_saturate(deploy, host, exact):
    assert onnx_int8_format(deploy).exact_on(host) is exact


def test_host_resolves_to_this_machine_and_unknown_cpus_are_refused():
    assert resolve_deploy_cpu("host") == cpu_class()
    with pytest.raises(ValueError, match="deploy_cpu must be one of"):
        resolve_deploy_cpu("riscv")
