"""Randomly corrupted .pte, .tflite, .onnx and .ort files (bytes overwritten, cut or inserted at
random offsets) give either a successful run or one `edge: error:` line: never a traceback or a
signal. Hypothesis draws the corruptions; one subprocess profiles a batch of them."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.profiling_support import REPO, small_artifact

FORMATS = {"pte": "xnnpack", "tflite": "litert", "onnx": "onnx", "ort": "onnx"}
corruption = st.tuples(
    st.sampled_from(sorted(FORMATS)),
    st.sampled_from(["overwrite", "cut", "insert"]),
    st.floats(0, 1, exclude_max=True),
    st.binary(min_size=1, max_size=64),
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    paths = {fmt: small_artifact(target, tmp_path_factory) for fmt, target in FORMATS.items()}
    paths["ort"] = paths["ort"].with_suffix(".ort")
    return {fmt: p.read_bytes() for fmt, p in paths.items()}


def corrupt(data: bytes, how: str, where: float, payload: bytes) -> bytes:
    at = int(where * len(data))
    if how == "overwrite":
        return data[:at] + payload + data[at + len(payload) :]
    if how == "cut":
        return data[:at]
    return data[:at] + payload + data[at:]


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(corruption, min_size=12, max_size=12))
def test_corrupted_artifacts_fail_cleanly(sources, tmp_path_factory, batch):
    folder = tmp_path_factory.mktemp("fuzz")
    paths = []
    for i, (fmt, how, where, payload) in enumerate(batch):
        path = folder / f"case{i}.{fmt}"  # no manifest beside it: the runtime's own loader is exercised
        path.write_bytes(corrupt(sources[fmt], how, where, payload))
        paths.append(str(path))
    report = folder / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_runner", str(report), *paths],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"the runner died (signal {-proc.returncode})" if proc.returncode < 0 else proc.stderr[-2000:]
    )
    for r, case in zip(json.loads(report.read_text()), batch):
        assert r["code"] in (0, 2), (case, r)
        assert "Traceback" not in r["stderr"], (case, r["stderr"])
        if r["code"] == 2:
            errors = [ln for ln in r["stderr"].splitlines() if ln.startswith("edge: error: ")]
            assert len(errors) == 1, (case, r["stderr"])
