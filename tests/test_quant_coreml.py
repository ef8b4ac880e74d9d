"""Core ML compression: int8 (W8A8), w8, pal4, pal6 pass spec validation and shrink the package.

Core ML cannot run on Linux, so numerics are checked on the PyTorch side only (the W8A8 reference
module that the converter turns into Core ML quantize/dequantize ops)."""

import pytest
import torch

from common.compare import compare
from edge.export import export
from edge.lowering import apply_lowerings
from edge.prepare import prepare
from edge.targets import TARGETS
from quant.calibration import load_calibration
from quant.config import QuantConfig
from quant.coreml import w8a8_quantizer
from quant.pt2e import simulate
from tests.quant_support import held_out_photos, input_dependent

SIZE = 64
SCHEMES = ["int8", "w8", "pal4", "pal6"]
EXPECTED_OPS = {
    "int8": "constexpr_affine_dequantize",
    "w8": "constexpr_affine_dequantize",
    "pal4": "constexpr_lut_to_dense",
    "pal6": "constexpr_lut_to_dense",
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_compressed_package_is_valid_and_under_0_3_of_fp32(tmp_path, scheme):
    torch.manual_seed(0)
    config = QuantConfig(scheme, calib_samples=4) if scheme == "int8" else scheme
    r = export("fasternet_t0", target="coreml", quant=config, input_size=SIZE, num_classes=10, out_dir=tmp_path)
    parity = r.manifest["parity"]
    assert parity["status"] == "not_run" and parity["validation"]["status"] == "passed"
    assert r.manifest["coverage"]["ops"][EXPECTED_OPS[scheme]] > 0
    assert 0 < r.manifest["quant"]["size_ratio_to_fp32"] <= 0.3
    assert "size_ratio_to_fp32" not in r.manifest["quant"]["plan"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"fasternet_t0-coreml-{scheme}.json",
        f"fasternet_t0-coreml-{scheme}.mlpackage",
    ]


def test_w8a8_quantizes_activations_and_honours_keep_float(tmp_path):
    """MobileViT (attention, LayerNorm) with its linear layers kept float: only the convs go int8."""
    torch.manual_seed(0)
    config = QuantConfig("int8", calib_samples=4, keep_float_ops=("linear",))
    r = export("mobilevit_xxs", target="coreml", quant=config, input_size=SIZE, num_classes=10, out_dir=tmp_path)
    ops = r.manifest["coverage"]["ops"]
    assert r.manifest["parity"]["validation"]["status"] == "passed"
    assert ops["constexpr_affine_dequantize"] == ops["conv"] and ops["linear"] > 0  # int8 weights: convs only
    assert 0 < ops["quantize"] < ops["conv"]  # int8 activations into every conv but the first (the image)
    assert r.manifest["quant"]["plan"]["keep_float_ops"] == ["linear"]


def test_w8a8_reference_numerics_track_an_input_dependent_output():
    """On an input-dependent FasterNet (see tests.quant_support)."""
    model = input_dependent("fasternet_t0", 32)
    photos, eager = held_out_photos(model, 2)
    p = prepare(model, name="fasternet_t0")
    program, _ = apply_lowerings(p.program, TARGETS["coreml"])
    reference = simulate(program, w8a8_quantizer(), load_calibration(None, p.config, 3, 4).inputs)
    with torch.no_grad():
        for x, ref in zip(photos, eager):
            assert compare(ref.numpy(), reference(x).numpy())["cosine"] >= 0.99
