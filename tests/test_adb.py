"""The Android path end to end against tests/fake_adb (a sandboxed adb running the host-built runner)."""

import json
import os
import shlex
from pathlib import Path

import pytest

from runtimes import ProfileError
from runtimes.adb import elf_abi, parse_device, runner_command
from runtimes.record import validate_record
from tests.profiling_support import (
    REPO,
    adb_calls,
    arm64_missing,
    arm64_runner,
    copy_with_manifest,
    native_runner,
    run_cli,
    small_artifact,
    use_fake_adb,
)

SERIAL = "lab phone 'A'"
NASTY_STEM = "it's my model $(touch PWNED); v1"


@pytest.fixture(scope="module")
def runner():
    return native_runner()


@pytest.fixture(scope="module")
def phone_runner():
    """The aarch64 build, as a phone gets it (the fake adb runs it under the ARM64 emulator); the host build
    where the emulator is not set up (arm64_missing() says why)."""
    return arm64_runner() or native_runner()


@pytest.fixture(scope="module")
def pte(tmp_path_factory):
    return small_artifact("xnnpack", tmp_path_factory)


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    return use_fake_adb(tmp_path, monkeypatch, ["emulator-5554", SERIAL])


def test_end_to_end_with_a_nasty_serial_and_file_name(fake_adb, phone_runner, pte, tmp_path, capsys, monkeypatch):
    runner = phone_runner
    monkeypatch.setenv("FAKE_ADB_ABI", elf_abi(runner))  # the stand-in phone has the runner's ABI
    model = copy_with_manifest(pte, tmp_path, NASTY_STEM)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "records" / "android.json"
    code, stdout, err = run_cli(
        capsys,
        monkeypatch,
        "profile",
        model,
        "--device",
        f"adb:{SERIAL}",
        "--runner",
        runner,
        "--runs",
        8,
        "--warmup",
        2,
        "--threads",
        2,
        "--taskset",
        "3",
        "--cooldown",
        "0.1",
        "-o",
        out,
    )
    assert code == 0, err
    record = validate_record(json.loads(out.read_text()))
    assert record["device"] == {
        "kind": "android",
        "name": SERIAL,
        "model": "Fake Pixel Stand-in",
        "soc": "Host x86_64 stand-in",
        "cpu": record["device"]["cpu"],
        "cores": os.cpu_count(),
        "os": "Android 15 (SDK 35)",
        "battery_temp_c": {"before": 31.2, "after": 31.2},
    }
    assert record["artifact"]["file"] == model.name and record["artifact"]["manifest"]["parity"]["status"] == "passed"
    assert record["runner"]["kind"] == "native" and record["runner"]["taskset"] == "3"
    assert record["runner"]["cooldown_s"] == 0.1 and model.name in record["runner"]["command"]
    assert record["runtime"]["threads"] == 2 and record["runtime"]["delegates"]["partitions"] > 0
    assert record["ops"]["available"] and record["ops"]["source"] == "etdump"
    assert Path(record["ops"]["file"]) == out.with_suffix(".etdp") and out.with_suffix(".etdp").stat().st_size > 0
    assert "Fake Pixel Stand-in" in stdout and "p50" in stdout
    # nothing was injected, nothing was left behind, and every call named the device
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()
    assert list((fake_adb / "data/local/tmp").iterdir()) == []
    calls = adb_calls(fake_adb)
    assert all(c[:2] == ["-s", SERIAL] for c in calls if c != ["devices"])
    pushed = [c[-1] for c in calls if "push" in c]
    assert any(p.endswith("/" + model.name) for p in pushed) and any(p.endswith("/edge_bench") for p in pushed)
    # what went to the phone is ARM code (ELF e_machine 183), and the record came from running it
    sources = [Path(c[-2]) for c in calls if "push" in c and c[-1].endswith("/edge_bench")]
    machines = {int.from_bytes(s.read_bytes()[18:20], "little") for s in sources}
    assert machines == ({183} if arm64_missing() is None else {62}), (machines, arm64_missing())


@pytest.mark.parametrize(
    "mode,needle",
    [
        ("no_device", f"device {SERIAL!r} is not attached (adb devices lists: none)"),
        ("push", "No space left on device"),
        ("runner_crash", "killed by signal 11"),
        ("garbled", "is not JSON"),
        ("timeout", "did not finish within 4 s"),
    ],
)
def test_failure_modes_are_one_clear_line(fake_adb, runner, pte, capsys, monkeypatch, mode, needle):
    monkeypatch.setenv("FAKE_ADB_FAIL", mode)
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "profile",
        pte,
        "--device",
        f"adb:{SERIAL}",
        "--runner",
        runner,
        "--runs",
        3,
        "--warmup",
        1,
        "--timeout",
        4,
    )
    assert code == 2 and out == ""
    assert err.startswith("edge: error: ") and len(err.strip().splitlines()) == 1 and needle in err, err
    assert list((fake_adb / "data/local/tmp").iterdir()) == []  # the work dir is removed on failure too


def test_device_selection(fake_adb, runner, pte, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "profile", pte, "--device", "adb", "--runner", runner)
    assert code == 2 and "2 devices are attached" in err and "--device adb:SERIAL" in err
    code, _, err = run_cli(capsys, monkeypatch, "profile", pte, "--device", "adb:nope", "--runner", runner)
    assert code == 2 and "device 'nope' is not attached" in err and "emulator-5554" in err
    monkeypatch.setenv("FAKE_ADB_SERIALS", "emulator-5554")
    code, _, err = run_cli(
        capsys, monkeypatch, "profile", pte, "--device", "adb", "--runner", runner, "--runs", 2, "--warmup", 0, "--json"
    )
    assert code == 0, err
    monkeypatch.setenv("FAKE_ADB_FAIL", "no_device")
    code, _, err = run_cli(capsys, monkeypatch, "profile", pte, "--device", "adb", "--runner", runner)
    assert code == 2 and "no Android device is ready over adb" in err


@pytest.mark.parametrize(
    "setup,argv,needle",
    [
        ("abi", [], "built for x86_64 but the device is arm64-v8a"),
        ("no_adb", [], "adb is not on PATH"),
        ("none", ["--runner", "/nonexistent/edge_bench"], "does not exist"),
        ("none", ["--no-runner"], "--device adb needs --runner PATH"),
        ("none", ["--tflite"], "not supported over adb"),
    ],
)
def test_setup_mistakes(fake_adb, runner, pte, tmp_path, capsys, monkeypatch, setup, argv, needle):
    if setup == "abi":
        monkeypatch.setenv("FAKE_ADB_ABI", "arm64-v8a")
    if setup == "no_adb":
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    artifact = pte
    args = ["--runner", runner]
    if "--tflite" in argv:
        artifact = tmp_path / "m.tflite"
        artifact.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    elif "--no-runner" in argv:
        args = []
    elif argv:
        args = argv
    code, _, err = run_cli(capsys, monkeypatch, "profile", artifact, "--device", f"adb:{SERIAL}", *args)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_device_command_round_trips_through_the_shell():
    """Whatever the names, the device shell splits the line back into exactly our argv."""
    argv = runner_command("edge bench'", "a b'c\"$(x);`y`.pte", 5, 1, 2, "f0", 60)
    line = " ".join(shlex.quote(a) for a in argv)
    assert shlex.split(line) == argv and argv[:4] == ["timeout", "60", "taskset", "f0"]


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("host", ("host", None)),
        ("adb", ("adb", None)),
        ("adb:R58M 1'2", ("adb", "R58M 1'2")),
        ("adb:192.168.1.5:5555", ("adb", "192.168.1.5:5555")),
        ("ios:00008110-001A", ("ios", "00008110-001A")),
    ],
)
def test_parse_device(spec, expected):
    assert parse_device(spec) == expected


def test_parse_device_rejects_nonsense():
    for spec in ("android", "host:x", "adb:", ""):
        with pytest.raises(ProfileError):
            parse_device(spec)
