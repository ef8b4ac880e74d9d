"""Host profiling: the record's fields and statistics, per-op profiles, inputs from the manifest, bad input."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from runtimes import ProfileError
from runtimes.profile import profile_host
from runtimes.record import load_schema, summarize, validate_record
from tests.profiling_support import REPO, copy_with_manifest, run_cli, small_artifact

TARGETS = {"pte": "xnnpack", "tflite": "litert", "onnx": "onnx"}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return {fmt: small_artifact(target, tmp_path_factory) for fmt, target in TARGETS.items()}


def test_statistics_match_their_definitions():
    rng = np.random.default_rng(3)
    for n in (1, 2, 9, 10, 37, 50):
        samples = list(rng.gamma(4.0, 2.0, n))
        stats = summarize(samples)
        s = np.sort(samples)
        cut = int(n * 0.1)
        assert stats["p10"] == pytest.approx(np.percentile(s, 10), abs=1e-4)
        assert stats["p50"] == pytest.approx(np.median(s), abs=1e-4)
        assert stats["p90"] == pytest.approx(np.percentile(s, 90), abs=1e-4)
        assert stats["trimmed_mean"] == pytest.approx(s[cut : n - cut].mean(), abs=1e-4)
        assert stats["stdev"] == pytest.approx(np.std(s, ddof=1) if n > 1 else 0.0, abs=1e-4)
        assert stats["min"] <= stats["p10"] <= stats["p50"] <= stats["p90"] <= stats["max"]
    # 10% off each end: with 10 samples one outlier on each side is dropped
    assert summarize([1.0] * 8 + [100.0, 0.0])["trimmed_mean"] == pytest.approx(1.0)


@pytest.mark.parametrize("fmt", ["pte", "tflite", "onnx", "ort"])
def test_host_record_has_every_field(artifacts, fmt):
    path = artifacts["onnx"].with_suffix(".ort") if fmt == "ort" else artifacts[fmt]
    record = profile_host(path, runs=6, warmup=2, threads=2)
    validate_record(record)  # the schema requires every field; this also re-derives the statistics
    assert set(record) == set(load_schema()["required"])
    assert record["artifact"]["format"] == fmt and len(record["artifact"]["sha256"]) == 64
    assert record["artifact"]["manifest"]["parity"]["status"] == "passed"
    assert record["artifact"]["manifest"]["parity"]["cosine"] > 0.9999
    assert record["device"]["kind"] == "host" and record["device"]["cores"] == os.cpu_count()
    assert record["runtime"]["threads"] == 2 and all(record["runtime"]["versions"].values())
    assert record["load_ms"] > 0 and record["first_run_ms"] > 0
    assert len(record["samples_ms"]) == 6 and record["warmup"] == 2
    mem = record["memory"]
    assert mem["method"] == "vmhwm_reset" and mem["peak_rss_bytes"] >= mem["baseline_rss_bytes"] > 0
    assert mem["peak_delta_bytes"] > 0  # the weights alone are megabytes
    assert record["inputs"] == [{"name": "input", "shape": [1, 3, 64, 64], "dtype": "float32", "source": "manifest"}]
    partitions = record["runtime"]["delegates"]["partitions"]
    assert partitions > 0 if fmt in ("pte", "tflite") else partitions == 0


def test_per_op_profiles(artifacts):
    pte = profile_host(artifacts["pte"], runs=3, warmup=1, threads=2)["ops"]
    assert pte["available"] and pte["source"] == "etdump" and pte["runs"] >= 3
    assert pte["summary"]["delegate_calls"] > 0 and pte["summary"]["total_ms"] > 0
    kinds = {op["kind"] for op in pte["top"]}
    assert "delegated" in kinds and any("Convolution" in op["name"] for op in pte["top"])
    assert pte["top"] == sorted(pte["top"], key=lambda op: op["ms"], reverse=True)
    ort = profile_host(artifacts["onnx"], runs=3, warmup=1, threads=2)["ops"]
    assert ort["available"] and ort["source"] == "onnxruntime_profiler"
    assert {"Conv", "Gemm"} <= {op["name"] for op in ort["top"]}
    assert sum(op["percent"] for op in ort["top"]) <= 100 + 0.005 * len(ort["top"])  # each rounded to 0.01
    litert = profile_host(artifacts["tflite"], runs=3, warmup=1, threads=2)["ops"]
    assert not litert["available"] and "benchmark_model" in litert["reason"]


def test_without_manifest_inputs_come_from_the_runtime(artifacts, tmp_path):
    bare = tmp_path / "bare.pte"
    shutil.copyfile(artifacts["pte"], bare)
    record = profile_host(bare, runs=2, warmup=0, threads=1, op_profile=False)
    assert record["inputs"][0]["source"] == "runtime" and record["inputs"][0]["shape"] == [1, 3, 64, 64]
    assert record["artifact"]["manifest"] is None and any("no manifest" in n for n in record["notes"])
    assert record["first_run_ms"] == record["samples_ms"][0]  # no warm-up: the first run is timed


def test_manifest_that_disagrees_with_the_artifact_is_a_clear_error(artifacts, tmp_path):
    path = copy_with_manifest(artifacts["onnx"], tmp_path, "model")
    manifest = json.loads(path.with_suffix(".json").read_text())
    manifest["inputs"][0]["shape"] = [1, 3, 96, 96]
    path.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(ProfileError, match=r"manifest gives input 'input' shape \[1, 3, 96, 96\]"):
        profile_host(path, runs=1, warmup=0, threads=1, op_profile=False)


def test_schema_rejects_a_broken_record(artifacts):
    record = profile_host(artifacts["tflite"], runs=4, warmup=0, threads=1, op_profile=False)
    missing = {k: v for k, v in record.items() if k != "memory"}
    with pytest.raises(ProfileError, match="'memory' is a required property"):
        validate_record(missing)
    wrong_stats = json.loads(json.dumps(record))
    wrong_stats["latency_ms"]["p50"] *= 2
    with pytest.raises(ProfileError, match="latency_ms.p50"):
        validate_record(wrong_stats)
    short = json.loads(json.dumps(record))
    short["samples_ms"] = short["samples_ms"][:2]
    with pytest.raises(ProfileError, match="runs=4 but holds 2 samples"):
        validate_record(short)


def test_cli_prints_and_saves_the_same_record(artifacts, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sub" / "rec.json"
    code, stdout, _ = run_cli(
        capsys,
        monkeypatch,
        "profile",
        artifacts["onnx"],
        "--runs",
        3,
        "--warmup",
        1,
        "--threads",
        2,
        "--taskset",
        "1",
        "--json",
        "-o",
        out,
    )
    assert code == 0
    printed, saved = json.loads(stdout), json.loads(out.read_text())
    assert printed == saved and saved["runner"]["taskset"] == "1"
    assert os.sched_getaffinity(0) == set(range(os.cpu_count()))  # pinning is undone afterwards
    code, stdout, _ = run_cli(
        capsys, monkeypatch, "profile", artifacts["pte"], "--runs", 3, "--warmup", 1, "--threads", 2
    )
    assert code == 0 and "p50" in stdout and "delegate partitions" in stdout and "Convolution" in stdout


def _write(dst, data):
    dst.write_bytes(data)
    return dst


def _truncate(src, dst, keep):
    data = src.read_bytes()
    dst.write_bytes(data if keep is None else data[:keep] if keep >= 0 else data[: len(data) + keep])
    return dst


def _ort_cut_by_one_byte(artifacts, tmp_path):
    """onnxruntime still loads an .ort one byte short (padding); the manifest's size gives it away."""
    path = copy_with_manifest(artifacts["onnx"].with_suffix(".ort"), tmp_path, "m")
    return _truncate(path, path, -1)


@pytest.mark.parametrize(
    "case",
    [
        "pte_cut",
        "pte_header_only",
        "tflite_cut",
        "onnx_cut",
        "ort_cut_one_byte",
        "tflite_named_pte",
        "text_named_onnx",
        "missing",
        "folder",
    ],
)
def test_bad_artifacts_are_one_line_and_exit_2(artifacts, tmp_path, capsys, monkeypatch, case):
    path = {
        "pte_cut": lambda: _truncate(artifacts["pte"], tmp_path / "m.pte", -1000),
        "pte_header_only": lambda: _truncate(artifacts["pte"], tmp_path / "m.pte", 64),
        "tflite_cut": lambda: _truncate(artifacts["tflite"], tmp_path / "m.tflite", 100_000),
        "onnx_cut": lambda: _truncate(artifacts["onnx"], tmp_path / "m.onnx", 5000),
        "tflite_named_pte": lambda: _truncate(artifacts["tflite"], tmp_path / "m.pte", None),
        "text_named_onnx": lambda: _write(tmp_path / "m.onnx", b"\x08not a model at all\n"),
        "ort_cut_one_byte": lambda: _ort_cut_by_one_byte(artifacts, tmp_path),
        "missing": lambda: tmp_path / "nope.pte",
        "folder": lambda: tmp_path,
    }[case]()
    code, out, err = run_cli(capsys, monkeypatch, "profile", path, "--runs", 1, "--warmup", 0)
    assert code == 2 and out == ""
    assert {
        "tflite_named_pte": "holds a tflite model but is named .pte",
        "pte_cut": "truncated",
        "missing": "does not exist",
        "tflite_cut": "not a loadable .tflite",
        "ort_cut_one_byte": "its manifest says",
    }.get(case, "") in err
    assert err.startswith("edge: error: ") and len(err.strip().splitlines()) == 1, err


def test_truncated_tflite_in_a_fresh_process_does_not_crash(artifacts, tmp_path):
    """The case most likely to reach native code: a .tflite cut mid-weights, through the console entry."""
    path = _truncate(artifacts["tflite"], tmp_path / "cut.tflite", -4096)
    script = (
        "import sys, argparse; from edge import cli; from edge.cli_profile import register\n"
        "p = cli.build_parser(); s = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))\n"
        "'profile' in s.choices or register(s); cli.build_parser = lambda: p; sys.exit(cli.main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "profile", str(path), "--runs", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("edge: error: ") and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--runs", "0"], "--runs: must be between 1"),
        (["--warmup", "-1"], "--warmup: must be between 0"),
        (["--threads", "0"], "--threads: must be between 1"),
        (["--device", "phone"], "unknown --device 'phone'"),
        (["--device", "adb:"], "empty id"),
        (["--taskset", "zz"], "hexadecimal CPU mask"),
        (["--taskset", "ff00"], "does not offer"),
        (["--runner", "x"], "--runner is for --device adb or ios"),
        (["--cooldown", "-3"], "expected a number of seconds >= 0"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(artifacts, capsys, monkeypatch, argv, needle):
    code, _, err = run_cli(capsys, monkeypatch, "profile", artifacts["tflite"], *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_help_lists_every_option(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "profile", "--help")
    assert code == 0
    for option in (
        "--device",
        "--runs",
        "--warmup",
        "--threads",
        "--json",
        "-o",
        "--runner",
        "--taskset",
        "--cooldown",
        "adb[:SERIAL]",
        "ios[:UDID]",
        "examples:",
    ):
        assert option in out


def test_cpu_contention_is_noted(artifacts, monkeypatch):
    import runtimes.profile as profile

    monkeypatch.setattr(profile, "cpu_pressure", lambda: 12.5)
    record = profile_host(artifacts["tflite"], runs=2, warmup=0, threads=1, op_profile=False)
    assert any("PSI some avg10 12.5%" in note for note in record["notes"])
    monkeypatch.setattr(profile, "cpu_pressure", lambda: 0.1)
    record = profile_host(artifacts["tflite"], runs=2, warmup=0, threads=1, op_profile=False)
    assert not any("PSI" in note for note in record["notes"])
