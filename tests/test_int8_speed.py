"""Every int8 export times itself against an fp32 conversion of the same backend on this host.

No bound on the times themselves (this machine is shared and noisy): the tests check that both were
measured side by side, recorded with the CPU, and that the warning follows the measured ratio.
"""

import pytest

from edge.export import export
from quant.config import QuantConfig


@pytest.fixture(autouse=True)
def _speed_check_on(monkeypatch):
    monkeypatch.setenv("EDGE_INT8_SPEED_CHECK", "1")


@pytest.mark.parametrize("target", ["xnnpack", "litert", "onnx"])
def test_int8_export_records_its_speed_against_fp32(tmp_path, target, capsys):
    said = []
    result = export(
        "fasternet_t0",
        target=target,
        quant=QuantConfig(scheme="int8", calib_samples=4),
        input_size=32,
        num_classes=10,
        out_dir=tmp_path,
        progress=lambda who, msg: said.append(msg),
    )
    speed = result.manifest["quant"]["speed"]
    assert speed["status"] == "measured" and speed["int8_ms"] > 0 and speed["fp32_ms"] > 0
    assert speed["speedup"] == pytest.approx(speed["fp32_ms"] / speed["int8_ms"], rel=1e-2)
    assert speed["host"]["class"] and speed["runs"] > 0
    warned = any(m.startswith("WARNING: int8 is not faster") for m in said)
    assert warned == (speed["speedup"] < 1.0) == ("warning" in speed)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [result.path.name, result.manifest_path.name]
        + [result.manifest["artifact"]["extra_files"][k]["file"] for k in result.manifest["artifact"]["extra_files"]]
    )  # the fp32 conversion it was timed against is not left behind


def test_onnx_int8_is_timed_on_the_default_kernels_even_when_verified_on_the_reference_path(tmp_path):
    """The default (phone-format) ONNX int8 is verified on an AVX2-only host with QDQ fusion off (the
    fused kernels saturate there); its speed is still the fused kernels', which an app on this CPU runs,
    and the record says how verification ran it instead. Where the format is exact, both agree."""
    from quant.deploy_cpu import onnx_int8_format, verification_plan
    from runtimes.cpu import cpu_class

    result = export(
        "fasternet_t0",
        target="onnx",
        quant=QuantConfig(scheme="int8", calib_samples=4),
        input_size=32,
        num_classes=10,
        out_dir=tmp_path,
    )
    speed = result.manifest["quant"]["speed"]
    reference = verification_plan(onnx_int8_format("arm64"))["session_config"]
    assert speed["status"] == "measured"
    assert speed["kernels"].startswith("the runtime's default kernels on this host")
    if reference:  # this host cannot compute the format exactly: verification took the reference path
        assert str(reference) in speed["kernels"], (cpu_class(), speed["kernels"])
    else:
        assert "verification ran it" not in speed["kernels"]
