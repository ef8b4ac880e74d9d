"""Shared, built-once helpers for the profiling tests: small artifacts, the native runner, the CLI.

Each is cached in this module so test files that all need them pay once per pytest session.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NATIVE_SRC = REPO / "runtimes" / "native"
NATIVE_BUILD = REPO / "build" / "native"  # gitignored (build/)
_artifacts: dict[str, Path] = {}
_runner: list = []


def small_artifact(target: str, tmp_path_factory) -> Path:
    """FasterNet-T0 at 64 px for one target (xnnpack, litert, onnx), exported once per session."""
    if target not in _artifacts:
        from edge.export import export

        out = tmp_path_factory.mktemp(f"small-{target}")
        _artifacts[target] = export("fasternet_t0", target=target, input_size=64, out_dir=out).path
    return _artifacts[target]


def use_fake_adb(tmp_path: Path, monkeypatch, serials: list[str]) -> Path:
    """tests/fake_adb first on PATH (with this interpreter as its python3); the device is a temp folder."""
    device = tmp_path / "device"
    (device / "data/local/tmp").mkdir(parents=True)
    pybin = tmp_path / "pybin"
    pybin.mkdir()
    (pybin / "python3").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", os.pathsep.join([str(REPO / "tests/fake_adb"), str(pybin), os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_ADB_ROOT", str(device))
    monkeypatch.setenv("FAKE_ADB_SERIALS", "\n".join(serials))
    monkeypatch.setenv("FAKE_ADB_LOG", str(tmp_path / "adb.log"))
    monkeypatch.setenv("FAKE_ADB_APP_PYTHON", sys.executable)  # android_demo's stand-in measures with edge
    monkeypatch.delenv("FAKE_ADB_FAIL", raising=False)
    return device


def adb_calls(device: Path) -> list[list[str]]:
    return [json.loads(line) for line in (device.parent / "adb.log").read_text().splitlines()]


def executorch_cmake_dir() -> Path:
    try:
        import executorch
    except ImportError:
        pytest.skip("the native runner builds against the executorch package, which is not installed")
    return Path(executorch.__path__[0]) / "share" / "cmake"


def native_runner() -> Path:
    """build/native/edge_bench, configured and built once per session (incremental after that)."""
    if _runner:
        return _runner[0]
    missing = [tool for tool in ("cmake", "g++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"building the native runner needs {' and '.join(missing)}, not found on PATH")
    cmake_dir = executorch_cmake_dir()
    if not (cmake_dir / "executorch-config.cmake").is_file():
        pytest.skip(f"the executorch package at {cmake_dir.parent.parent} ships no CMake config")
    steps = [
        [
            "cmake",
            "-S",
            str(NATIVE_SRC),
            "-B",
            str(NATIVE_BUILD),
            f"-Dexecutorch_DIR={cmake_dir}",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        ["cmake", "--build", str(NATIVE_BUILD), "-j2"],
    ]
    NATIVE_BUILD.parent.mkdir(parents=True, exist_ok=True)
    with open(NATIVE_BUILD.parent / ".native-build.lock", "w") as lock:  # pytest-xdist workers build one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True)
            assert result.returncode == 0, f"{' '.join(step)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    _runner.append(NATIVE_BUILD / "edge_bench")
    return _runner[0]


def arm64_missing() -> str | None:
    """Why the ARM64 emulator cannot run here (one line: what is missing, how to install it), or None."""
    from runtimes.arm64 import missing
    from runtimes.arm64.toolchain import SETUP_HINT

    gaps = missing("pte")
    return f"the ARM64 emulator is not set up: missing {'; '.join(gaps)}; {SETUP_HINT}" if gaps else None


def arm64_runner() -> Path | None:
    """edge_bench cross-built for aarch64 (runtimes/arm64), or None where the emulator is not set up."""
    if arm64_missing():
        return None
    from runtimes.arm64.toolchain import build_runner

    (REPO / "build").mkdir(exist_ok=True)
    with open(REPO / "build" / ".arm64-build.lock", "w") as lock:  # pytest-xdist workers build one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        return build_runner()


def run_cli(capsys, monkeypatch, *argv) -> tuple[int, str, str]:
    """edge's real main() with the profile/report subcommands registered (as edge/cli.py will do)."""
    from edge import cli
    from edge.cli_profile import register

    build = cli.build_parser

    def with_profile():
        parser = build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "profile" not in sub.choices:
            register(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_profile)
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def copy_with_manifest(artifact: Path, dest_dir: Path, stem: str) -> Path:
    """The artifact and its manifest under a new stem (file names with spaces and quotes, say)."""
    dest = dest_dir / f"{stem}{artifact.suffix}"
    shutil.copyfile(artifact, dest)
    shutil.copyfile(artifact.with_suffix(".json"), dest.with_suffix(".json"))
    return dest
