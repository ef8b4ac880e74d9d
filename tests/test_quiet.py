"""A normal CLI run prints only edge's own lines: third-party output is kept aside unless --verbose."""

import re
import subprocess
import sys

import pytest

CHATTY = """
import logging, os, sys, warnings
from common.quiet import quiet_command
with quiet_command(verbose={verbose}) as hidden:
    warnings.warn("a library's FutureWarning", FutureWarning)
    logging.getLogger("torchao").warning("Failed to load the optional kernels")
    os.write(2, b"W1201 12:00:00 native log line\\n")
    os.write(1, b"native stdout line\\n")
    print("edge: our own line")
    print("edge: our own error", file=sys.stderr)
print("kept aside:", hidden.text.replace("\\n", " | "), file=sys.stderr)
"""
THIRD_PARTY = ("FutureWarning", "Failed to load", "W1201", "native stdout line")


def run_chatty(verbose: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHATTY.format(verbose=verbose)], capture_output=True, text=True, check=True
    )


def test_third_party_output_is_kept_aside_and_ours_reaches_the_terminal():
    result = run_chatty(verbose=False)
    assert result.stdout == "edge: our own line\n"
    own, aside = result.stderr.splitlines()
    assert own == "edge: our own error"
    assert all(text in aside for text in THIRD_PARTY)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_verbose_lets_third_party_output_through(stream):
    result = run_chatty(verbose=True)
    assert "edge: our own" in getattr(result, stream)
    assert any(text in result.stdout + result.stderr for text in THIRD_PARTY[2:])


def test_an_xnnpack_export_prints_no_third_party_line(tmp_path):
    """executorch/torchao announce missing optional kernels and torch warns about pytree APIs on import; none
    of it reaches a normal run's output."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "export",
            "fasternet_t0",
            "--target",
            "xnnpack",
            "--input-size",
            "32",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert any("fasternet_t0-xnnpack-fp32.pte" in line for line in lines)
    third_party = [
        line
        for line in lines
        if re.match(r"[IWEF]\d{4} ", line)
        or "Warning" in line
        or "Failed to load" in line
        or line.startswith(("WARNING", "INFO", "DEBUG"))
    ]
    assert third_party == []
