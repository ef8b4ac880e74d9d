"""SIGTERM and SIGINT during an export, at conversion, verification and the manifest write, leave
the output folder as it was (the export is parked at each step with EDGE_TEST_HOLD)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.profiling_support import REPO

STEP_LINE = {"conversion": "converting", "verification": "verifying against eager", "manifest": "writing the manifest"}


@pytest.mark.parametrize("step", list(STEP_LINE))
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_export_leaves_the_folder_as_it_was(tmp_path, step, sig, code):
    out = tmp_path / "out"
    out.mkdir()
    (out / "older-notes.txt").write_text("kept")
    env = {**os.environ, "EDGE_TEST_HOLD": step, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "export",
            "fasternet_t0",
            "--target",
            "onnx",
            "--input-size",
            "64",
            "--num-classes",
            "10",
            "-o",
            str(out),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    seen = []
    deadline = time.monotonic() + 300
    for line in proc.stderr:
        seen.append(line)
        if STEP_LINE[step] in line or time.monotonic() > deadline:
            break
    assert any(STEP_LINE[step] in ln for ln in seen), "".join(seen)
    time.sleep(0.5)  # inside the hold
    proc.send_signal(sig)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == code, "".join(seen) + rest
    assert "interrupted" in rest and "Traceback" not in rest
    assert sorted(os.listdir(out)) == ["older-notes.txt"]
