"""--tune-latency: an op type goes back to float only when the whole model times faster that way."""

from types import SimpleNamespace

import pytest
import torch

from edge.export import export
from edge.targets import TARGETS
from quant.config import QuantConfig
from quant.latency import MARGIN, ROUNDS, candidates_for


class DepthwiseNet(torch.nn.Module):
    """A stem, a 7x7 depthwise conv (XNNPACK: split into strips) and a 1x1 conv, then a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.dw = torch.nn.Conv2d(16, 16, 7, padding=3, groups=16)
        self.pw = torch.nn.Conv2d(16, 16, 1)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = self.pw(torch.relu(self.dw(torch.relu(self.stem(x)))))
        return self.head(x.mean((2, 3)))


def _export(tmp_path, device="host", runner=None):
    torch.manual_seed(0)
    q = QuantConfig(scheme="int8", calib_samples=4, tune_latency=device, tune_runner=runner)
    return export(DepthwiseNet().eval(), torch.randn(1, 3, 32, 32), target="xnnpack", quant=q, out_dir=tmp_path)


def _check_trial(plan: dict) -> None:
    (trial,) = plan["latency"]["trials"]
    assert trial["float"] == "depthwise" and trial["int8_ms"] > 0 and trial["with_float_ms"] > 0
    won, rounds = map(int, trial["float_faster_in_rounds"].split("/"))
    assert trial["kept"] == (trial["with_float_ms"] < trial["int8_ms"] * (1 - MARGIN) and won == rounds)
    assert ("depthwise" in plan["keep_float_ops"]) == trial["kept"]


def test_both_plans_are_timed_on_the_host_and_the_rule_is_applied(tmp_path):
    result = _export(tmp_path)
    plan = result.manifest["quant"]["plan"]
    _check_trial(plan)
    assert plan["latency"]["device"] == "host"
    # the chosen trial became the artifact (verified like any other); no trial is left behind
    assert result.manifest["parity"]["status"] == "passed"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([result.path.name, result.manifest_path.name])


def test_both_plans_are_timed_on_a_phone_over_adb_in_alternating_rounds(tmp_path, monkeypatch):
    from tests.profiling_support import adb_calls, native_runner, use_fake_adb

    device = use_fake_adb(tmp_path, monkeypatch, ["emulator-5554"])
    runner = native_runner()
    plan = _export(tmp_path / "out", "adb:emulator-5554", str(runner)).manifest["quant"]["plan"]
    _check_trial(plan)
    assert plan["latency"]["device"] == "adb:emulator-5554" and "edge_bench" in plan["latency"]["decided_by"]
    calls = adb_calls(device)
    pushed = [c[-1].rsplit("/", 1)[-1] for c in calls if "push" in c and c[-1].endswith(".pte")]
    assert len(pushed) == 2 * ROUNDS and pushed[0] != pushed[1] and pushed[:2] == pushed[2:4], pushed  # A B A B
    assert sum(1 for c in calls if "shell" in c and f"./{runner.name}" in c[-1]) == 2 * ROUNDS


@pytest.mark.parametrize(
    "float_ms, kept", [([5.0] * 5, True), ([9.9] * 5, False), ([12.0] * 5, False), ([5.0, 5.0, 5.0, 5.0, 11.0], False)]
)  # the last: one round lost
def test_float_back_is_kept_only_when_faster_by_the_margin_in_every_round(tmp_path, monkeypatch, float_ms, kept):
    """The rule alone: conversion and timing stubbed, the times given (one sample per round)."""
    import runtimes
    import runtimes.timing
    from edge.prepare import export_program
    from quant.latency import tune_latency

    monkeypatch.setattr(runtimes, "open_session", lambda path, threads: SimpleNamespace(run=lambda feed: None))
    monkeypatch.setattr(
        runtimes.timing, "measure", lambda candidates, runs, warmup, rounds: {"int8": [10.0] * 5, "float": float_ms}
    )
    x = torch.randn(1, 3, 16, 16)
    config, record, converted = tune_latency(
        export_program(DepthwiseNet().eval(), (x,)),
        ("depthwise",),
        QuantConfig(scheme="int8", keep_float_ops=("softmax",)),
        lambda config, path: f"outcome of {config.keep_float_ops}",
        ".pte",
        tmp_path,
        x.numpy(),
    )
    assert record["trials"][0]["kept"] is kept
    assert config.keep_float_ops == (("softmax", "depthwise") if kept else ("softmax",))
    assert record["keep_float_ops"] == (["depthwise"] if kept else [])
    # the conversion already made with the chosen plan is handed back for the export to keep
    assert converted == (tmp_path / f"trial{int(kept)}.pte", f"outcome of {config.keep_float_ops}")


def test_nothing_is_tried_when_the_op_type_is_absent_or_already_float():
    from edge.prepare import export_program

    plain = export_program(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)).eval(), (torch.randn(1, 3, 16, 16),))
    depthwise = export_program(DepthwiseNet().eval(), (torch.randn(1, 3, 16, 16),))
    assert candidates_for(TARGETS["xnnpack"].latency_candidates, plain, QuantConfig(scheme="int8")) == []
    assert candidates_for(TARGETS["xnnpack"].latency_candidates, depthwise, QuantConfig(scheme="int8")) == ["depthwise"]
    assert (
        candidates_for(
            TARGETS["xnnpack"].latency_candidates, depthwise, QuantConfig(scheme="int8", keep_float_ops=("depthwise",))
        )
        == []
    )
    assert candidates_for(TARGETS["coreml"].latency_candidates, depthwise, QuantConfig(scheme="int8")) == []


@pytest.mark.parametrize(
    "device, runner, needle",
    [
        ("ios", None, "takes host, adb or adb:SERIAL"),
        ("host:x", None, "takes host, adb or adb:SERIAL"),
        ("adb", None, "needs a runner"),
        ("host", "app", "tune_runner is for tune_latency adb"),
        (None, "app", "tune_runner only applies"),
    ],
)
def test_bad_tuning_requests_are_named(device, runner, needle):
    with pytest.raises(ValueError, match=needle):
        QuantConfig(scheme="int8", tune_latency=device, tune_runner=runner)


def test_a_failed_phone_run_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    from common.errors import EdgeError
    from tests.profiling_support import native_runner, use_fake_adb

    use_fake_adb(tmp_path, monkeypatch, ["emulator-5554"])
    monkeypatch.setenv("FAKE_ADB_FAIL", "push")  # the phone's storage is full
    out = tmp_path / "out"
    with pytest.raises(EdgeError, match="^--tune-latency adb: ") as error:
        _export(out, "adb", str(native_runner()))
    assert len(str(error.value).splitlines()) == 1
    assert not out.exists()  # the export wrote nothing, so not even its output folder is left
