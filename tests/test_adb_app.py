"""`edge profile --device adb --runner app`: android_demo's benchmark mode against tests/fake_adb.

The stand-in app (tests/fake_adb/bin/am, app_standin.py) takes its package, activity and extras
from android_demo's sources and measures the pushed file for real with edge's runtime adapters, so
a record only comes back when the harness pushed the right file (and its manifest) and sent the
extras the app reads.
"""

import json
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edge import demo_assets
from runtimes.adb import APP_ACTIVITY, APP_ERROR_SUFFIX, APP_FILES_DIR, APP_FORMATS, APP_PACKAGE, APP_RECORD
from runtimes.adb_app import _APP_MANIFEST_NOTES, app_start_command
from runtimes.record import sha256_file, validate_record
from tests.demo_sources import ANDROID_SOURCES, kotlin_constants
from tests.profiling_support import REPO, copy_with_manifest, run_cli, small_artifact
from tests.test_adb import NASTY_STEM, SERIAL, adb_calls, fake_adb  # noqa: F401 (fixture)

ANDROID = REPO / "android_demo"


@pytest.fixture(scope="module")
def ort(tmp_path_factory):
    """The .ort companion of a small ONNX export: a format only the app (not edge_bench) runs on a phone."""
    return small_artifact("onnx", tmp_path_factory).with_suffix(".ort")


@pytest.fixture(scope="module")
def pte(tmp_path_factory):
    return small_artifact("xnnpack", tmp_path_factory)


def app_dir(device: Path) -> Path:
    return device / APP_FILES_DIR.lstrip("/")


def app_processes(device: Path) -> list[str]:
    """Live stand-in app processes of this fake device (the worker's argv names the device folder)."""
    alive = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "app_standin.py" in cmdline and str(device) in cmdline and state not in ("Z", "X"):
            alive.append(proc.name)
    return alive


def test_ort_end_to_end_on_a_fresh_install_with_a_nasty_serial_and_name(fake_adb, ort, tmp_path, capsys, monkeypatch):
    model = copy_with_manifest(ort, tmp_path, NASTY_STEM)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "records" / "android app.json"
    code, stdout, err = run_cli(
        capsys,
        monkeypatch,
        "profile",
        model,
        "--device",
        f"adb:{SERIAL}",
        "--runner",
        "app",
        "--runs",
        8,
        "--warmup",
        2,
        "--threads",
        2,
        "--cooldown",
        0.1,
        "-o",
        out,
    )
    assert code == 0, err
    record = validate_record(json.loads(out.read_text()))
    # adb's facts over the app's own (its Build name "standin", its battery readings 30.1/30.4)
    assert record["device"] == {
        "kind": "android",
        "name": SERIAL,
        "model": "Fake Pixel Stand-in",
        "soc": "Host x86_64 stand-in",
        "cpu": record["device"]["cpu"],
        "cores": record["device"]["cores"],
        "os": "Android 15 (SDK 35)",
        "battery_temp_c": {"before": 31.2, "after": 31.2},
    }
    assert record["artifact"]["file"] == model.name and record["artifact"]["path"] == str(model.resolve())
    assert record["artifact"]["sha256"] == sha256_file(model) and record["artifact"]["format"] == "ort"
    assert record["artifact"]["manifest"]["parity"]["status"] == "passed"
    # the app measured the pushed file with the pushed manifest's input, as asked
    assert record["runtime"]["name"] == "onnxruntime" and record["runtime"]["threads"] == 2
    assert record["runs"] == 8 and record["warmup"] == 2 and len(record["samples_ms"]) == 8
    assert record["inputs"][0]["source"] == "manifest"
    assert record["runner"]["kind"] == "android_app" and record["runner"]["name"].startswith("EdgeDemo")
    assert record["runner"]["command"] == app_start_command(model.name, 8, 2, 2)
    assert record["runner"]["taskset"] is None and record["runner"]["cooldown_s"] == 0.1
    assert record["ops"]["available"] is False and "per-op" in record["ops"]["reason"]
    assert any("launched once first" in n for n in record["notes"])
    assert not [n for n in record["notes"] if n.startswith(_APP_MANIFEST_NOTES)]  # superseded by the host's
    assert "Fake Pixel Stand-in" in stdout and "p50" in stdout
    # nothing injected, nothing left behind, every device call named the device
    assert not list(tmp_path.rglob("PWNED")) and not list(fake_adb.rglob("PWNED")) and not (REPO / "PWNED").exists()
    assert list(app_dir(fake_adb).iterdir()) == []
    calls = adb_calls(fake_adb)
    assert all(c[:2] == ["-s", SERIAL] for c in calls if c != ["devices"])
    pushed = sorted(c[-1] for c in calls if "push" in c)
    assert pushed == sorted(f"{APP_FILES_DIR}/{p.name}" for p in (model, model.with_suffix(".json")))
    shell = [c[3] for c in calls if c[2:3] == ["shell"]]
    assert any(line.startswith(f"pm path {APP_PACKAGE};") for line in shell)
    assert any(
        line.startswith(" ".join(shlex.quote(a) for a in app_start_command(model.name, 8, 2, 2))) for line in shell
    )


def test_pte_gets_delegate_counts_and_a_model_pushed_by_hand_stays(fake_adb, pte, tmp_path, capsys, monkeypatch):
    folder = app_dir(fake_adb)
    folder.mkdir(parents=True)  # the app has run before, and the user pushed this model for the classifier
    shutil.copyfile(pte, folder / pte.name)
    (folder / "holiday.tflite").write_bytes(b"not ours")
    (folder / APP_RECORD).write_text('{"stale": true}')  # an earlier run's result must not be taken for this one
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "profile",
        pte,
        "--device",
        f"adb:{SERIAL}",
        "--runner",
        "app",
        "--runs",
        3,
        "--warmup",
        1,
        "--json",
    )
    assert code == 0, err
    record = validate_record(json.loads(out))
    assert record["runtime"]["name"] == "executorch" and record["runtime"]["threads"] is None
    assert record["runtime"]["delegates"]["partitions"] > 0  # counted on the host: the app cannot see them
    assert record["runner"]["kind"] == "android_app" and "--ei threads" not in " ".join(record["runner"]["command"])
    assert not any("launched once first" in n for n in record["notes"])
    assert sorted(p.name for p in folder.iterdir()) == sorted([pte.name, "holiday.tflite"])
    starts = [c for c in adb_calls(fake_adb) if c[2:3] == ["shell"] and c[3].startswith("am start")]
    assert len(starts) == 1


@pytest.mark.parametrize(
    "mode,argv,needle",
    [
        (
            "app_missing",
            [],
            f"android_demo is not installed on {SERIAL!r}: build and install it (android_demo/README.md)",
        ),
        ("no_activity", [], f"am start could not start {APP_ACTIVITY} on {SERIAL!r}: Error: Activity class"),
        (
            "app_error",
            [],
            f"android_demo failed on {SERIAL!r}: UnsatisfiedLinkError: dlopen failed: library "
            f'"libexecutorch_jni.so" not found',
        ),
        ("app_hang", ["--timeout", 1.5], f"android_demo wrote neither {APP_RECORD} nor its .error within 2 s"),
        ("garbled", [], "android_demo's record from"),
        ("push", [], "No space left on device"),
    ],
)
def test_failure_modes_are_one_clear_line(fake_adb, ort, capsys, monkeypatch, mode, argv, needle):
    monkeypatch.setenv("FAKE_ADB_FAIL", mode)
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "profile",
        ort,
        "--device",
        f"adb:{SERIAL}",
        "--runner",
        "app",
        "--runs",
        2,
        "--warmup",
        0,
        *argv,
    )
    assert code == 2 and out == ""
    assert err.startswith("edge: error: ") and len(err.strip().splitlines()) == 1 and needle in err, err
    folder = app_dir(fake_adb)
    assert not folder.exists() or list(folder.iterdir()) == []  # pushed files and results removed on failure too
    assert app_processes(fake_adb) == []  # a hung app was force-stopped


def test_the_right_argument_of_the_wrong_kind(fake_adb, ort, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, monkeypatch, "profile", ort, "--device", f"adb:{SERIAL}", "--runner", "app", "--taskset", "f0"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--taskset applies to the native runner" in err
    assert not (tmp_path / "adb.log").exists()  # refused before adb was touched
    package = tmp_path / "m.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{}")
    code, _, err = run_cli(capsys, monkeypatch, "profile", package, "--device", "adb", "--runner", "app")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not .mlpackage" in err, err


def test_app_command_round_trips_through_the_shell():
    argv = app_start_command("a b'c\"$(x);`y`.tflite", 5, 1, 2)
    assert shlex.split(" ".join(shlex.quote(a) for a in argv)) == argv
    assert argv[:6] == ["am", "start", "-W", "-S", "-n", APP_ACTIVITY]
    assert "threads" not in app_start_command("m.pte", 5, 1, None)


def test_constants_match_the_app_sources():
    """runtimes/ cannot import edge or read Kotlin at run time: these tie its copy of the contract to the app."""
    contract = kotlin_constants(ANDROID_SOURCES / "BenchmarkSession.kt", "BenchmarkContract")
    assert (contract["PACKAGE"], contract["ACTIVITY"]) == (APP_PACKAGE, APP_ACTIVITY)
    assert (contract["DEFAULT_OUTPUT"], contract["ERROR_SUFFIX"]) == (APP_RECORD, APP_ERROR_SUFFIX)
    build = (ANDROID / "app" / "build.gradle.kts").read_text()
    assert f'applicationId = "{APP_PACKAGE}"' in build
    ns = "{http://schemas.android.com/apk/res/android}"
    app = ET.parse(ANDROID / "app" / "src" / "main" / "AndroidManifest.xml").getroot().find("application")
    exported = {a.get(ns + "name") for a in app.findall("activity") if a.get(ns + "exported") == "true"}
    assert APP_ACTIVITY.split("/", 1) == [APP_PACKAGE, ".BenchmarkActivity"] and ".BenchmarkActivity" in exported
    # the extras the harness sends are the ones the app reads, with the types it reads them as
    argv = app_start_command("m.pte", 5, 1, 2)
    sent = {argv[i + 1]: argv[i] for i in range(len(argv)) if argv[i] in ("--es", "--ei")}
    assert sent == {
        contract["EXTRA_MODEL"]: "--es",
        contract["EXTRA_RUNS"]: "--ei",
        contract["EXTRA_WARMUP"]: "--ei",
        contract["EXTRA_THREADS"]: "--ei",
        contract["EXTRA_OUTPUT"]: "--es",
    }
    # where the app reads models and writes records, and which formats it runs
    assert "getExternalFilesDir(null)" in (ANDROID_SOURCES / "ModelStore.kt").read_text()
    assert APP_FILES_DIR == demo_assets.ANDROID_PUSH_DIR and APP_FILES_DIR in (ANDROID / "README.md").read_text()
    runners = (ANDROID_SOURCES / "ModelRunners.kt").read_text()
    assert set(re.findall(r'"(\w+)" -> RecordFormat\.', runners)) == set(APP_FORMATS)
    session = (ANDROID_SOURCES / "BenchmarkSession.kt").read_text()
    assert all(f'notes += "{prefix}' in session for prefix in _APP_MANIFEST_NOTES)
    assert "--runner app" in (ANDROID / "README.md").read_text()
