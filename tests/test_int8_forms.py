"""int8 steps on an app input form (NHWC, uint8): the lowered program takes that form, so every step that
converts or runs it beside the main conversion — the int8 speed check, --tune-latency's trials and
--max-drop's sensitivity search — traces, calibrates and times it with inputs in that form."""

import pytest
import torch

from edge.export import export
from quant.config import QuantConfig
from tests.test_quant_latency import DepthwiseNet


@pytest.fixture(autouse=True)
def _speed_check_on(monkeypatch):
    monkeypatch.setenv("EDGE_INT8_SPEED_CHECK", "1")


def _export(tmp_path, form, **quant):
    torch.manual_seed(0)
    config = QuantConfig(scheme="int8", calib_samples=4, **quant)
    return export(
        DepthwiseNet().eval(),
        torch.randn(1, 3, 32, 32),
        target="xnnpack",
        quant=config,
        out_dir=tmp_path,
        input_form=form,
    )


@pytest.mark.parametrize("form", ["nhwc-uint8", "nhwc-float"])
def test_speed_check_and_latency_trials_convert_the_form_program(tmp_path, form):
    result = _export(tmp_path, form, tune_latency="host")
    (given,) = result.manifest["inputs"]
    assert given["layout"] == "NHWC" and given["dtype"] == form.split("-")[1].replace("float", "float32")
    assert result.manifest["quant"]["speed"]["status"] == "measured"
    (trial,) = result.manifest["quant"]["plan"]["latency"]["trials"]
    assert trial["int8_ms"] > 0 and trial["with_float_ms"] > 0
    assert result.manifest["parity"]["status"] == "passed"


def test_max_drop_plans_on_the_form_program(tmp_path):
    result = _export(tmp_path, "nhwc-uint8", max_drop=50.0)
    plan = result.manifest["quant"]["plan"]
    assert plan["decided_by"].startswith("--max-drop") and plan["sensitivity"]
    assert result.manifest["parity"]["status"] == "passed"
