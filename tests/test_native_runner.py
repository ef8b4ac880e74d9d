"""The native runner (runtimes/native): builds here, prints a valid record, agrees with the Python adapter."""

import json
import subprocess
import sys

import pytest

from runtimes.opprofile import summarize_etdump
from runtimes.record import parse_record
from tests.profiling_support import REPO, native_runner, small_artifact


@pytest.fixture(scope="module")
def runner():
    return native_runner()


@pytest.fixture(scope="module")
def pte(tmp_path_factory):
    return small_artifact("xnnpack", tmp_path_factory)


def bench(runner, *args, timeout=120):
    return subprocess.run([str(runner), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_record_is_valid_and_its_statistics_are_python_s(runner, pte, tmp_path):
    out = tmp_path / "record.json"
    result = bench(runner, "--model", pte, "--runs", 12, "--warmup", 2, "--threads", 2, "--output", out)
    assert result.returncode == 0, result.stderr[-2000:]
    record = parse_record(result.stdout, "stdout")  # schema, runs == samples, and stats re-derived in Python
    assert json.loads(out.read_text()) == json.loads(result.stdout)
    assert record["runner"]["kind"] == "native" and record["runtime"]["threads"] == 2
    assert record["runtime"]["versions"]["executorch"].startswith("1.5.1")
    assert record["artifact"]["size_bytes"] == pte.stat().st_size and record["inputs"][0]["shape"] == [1, 3, 64, 64]
    assert record["memory"]["method"] == "vmhwm_reset" and record["memory"]["peak_delta_bytes"] > pte.stat().st_size
    assert record["load_ms"] > 0 and record["first_run_ms"] > 0


def test_threads_are_honoured(runner, pte):
    result = bench(runner, "--model", pte, "--runs", 2, "--warmup", 0, "--threads", 1)
    assert json.loads(result.stdout)["runtime"]["threads"] == 1


def test_etdump_is_read_by_the_inspector(runner, pte, tmp_path):
    dump = tmp_path / "p.etdp"
    result = bench(
        runner, "--model", pte, "--runs", 2, "--warmup", 1, "--threads", 2, "--etdump", dump, "--etdump-runs", 4
    )
    assert result.returncode == 0 and json.loads(result.stdout)["ops"]["file"] == str(dump)
    ops = summarize_etdump(dump)
    assert ops["available"] and ops["runs"] == 4 and ops["summary"]["delegate_calls"] > 0
    assert any(op["kind"] == "delegated" for op in ops["top"])


PYTHON_P50 = (
    "import sys; from runtimes.profile import profile_host; "
    "print(profile_host(sys.argv[1], runs=30, warmup=5, threads=2, op_profile=False)['latency_ms']['p50'])"
)


@pytest.mark.serial  # compares two timings: run alone, after the parallel part of the suite
def test_median_agrees_with_the_python_adapter(runner, pte):
    """Interleaved, each measurement in a fresh process, best of three per side: this VM sometimes runs
    a whole process 1.5-2x slower (the test process too: once the Python side read 0.95 ms against the
    runner's 0.53 ms). Looser than the 15% full-size acceptance because at 64 px the Python call
    overhead (~0.1 ms) is a visible share of a ~1 ms inference."""
    native, python = [], []
    for _ in range(3):
        result = bench(runner, "--model", pte, "--runs", 30, "--warmup", 5, "--threads", 2)
        native.append(json.loads(result.stdout)["latency_ms"]["p50"])
        result = subprocess.run(
            [sys.executable, "-c", PYTHON_P50, str(pte)], capture_output=True, text=True, timeout=300, cwd=REPO
        )
        assert result.returncode == 0, result.stderr[-2000:]
        python.append(float(result.stdout.strip().splitlines()[-1]))
    n, p = min(native), min(python)
    assert abs(n - p) / p < 0.35, f"native p50 {n:.3f} ms vs Python {p:.3f} ms (all: {native} / {python})"


def _write(dst, data):
    dst.write_bytes(data)
    return dst


def _cut(src, dst, keep):
    dst.write_bytes(src.read_bytes()[:keep])
    return dst


@pytest.mark.parametrize(
    "case,needle",
    [
        ("missing", "cannot open model"),
        ("header_only", "cannot load program"),
        ("cut_in_weights", "cannot load"),
        ("not_a_pte", "cannot load program"),
        ("bad_flag", "unknown option --fast"),
        ("zero_runs", "--runs needs an integer >= 1"),
        ("no_model", "--model FILE.pte is required"),
    ],
)
def test_bad_input_is_an_error_not_a_crash(runner, pte, tmp_path, case, needle):
    size = pte.stat().st_size
    args = {
        "missing": ["--model", tmp_path / "none.pte"],
        "header_only": ["--model", _cut(pte, tmp_path / "h.pte", 64)],
        "cut_in_weights": ["--model", _cut(pte, tmp_path / "w.pte", size - size // 3)],
        "not_a_pte": ["--model", _write(tmp_path / "n.pte", b"PK\x03\x04" + b"x" * 4092)],
        "bad_flag": ["--model", pte, "--fast", "1"],
        "zero_runs": ["--model", pte, "--runs", "0"],
        "no_model": ["--runs", "3"],
    }[case]
    result = bench(runner, *args, "--threads", 1)
    assert result.returncode == 2, (result.returncode, result.stderr[-1500:])  # not a signal (negative)
    assert result.stdout == "" and "edge_bench: error: " in result.stderr and needle in result.stderr


def test_build_is_documented_with_the_commands_used_here():
    readme = (native_runner().parent.parent.parent / "runtimes" / "native" / "README.md").read_text()
    for fragment in (
        "cmake -S runtimes/native -B build/native",
        "-Dexecutorch_DIR=",
        "cmake --build build/native",
        "android.toolchain.cmake",
        "ANDROID_ABI=arm64-v8a",
        "ios.toolchain.cmake",
    ):
        assert fragment in readme
