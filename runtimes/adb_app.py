"""Android harness, app flavour: drive android_demo's benchmark mode over adb and bring back its record.

The app runs .pte, .tflite, .onnx and .ort with the runtimes' Android packages (the native runner
runs .pte only). Steps: check the app is installed (`pm path`), make sure its external files folder
exists, push the artifact and its manifest there, remove stale results, `am start -W -S` the
benchmark activity with the run's extras, poll for the record or the app's one-line `.error`, pull
the record, remove what was pushed, and merge the facts adb knows (serial, getprop, battery, delegate
counts of a .pte) over the app's. Every shell argument goes through shlex.quote, as in runtimes/adb.py.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from pathlib import Path

from runtimes.adb import (
    APP_ACTIVITY,
    APP_ERROR_SUFFIX,
    APP_FILES_DIR,
    APP_FORMATS,
    APP_PACKAGE,
    APP_RECORD,
    Adb,
    _last_line,
    android_device,
    battery_temp_c,
    device_facts,
)
from runtimes.base import ProfileError
from runtimes.formats import check_complete, detect_format
from runtimes.record import artifact_facts, parse_record, validate_record

_OUTPUTS = (APP_RECORD, APP_RECORD + APP_ERROR_SUFFIX)
_APP_MANIFEST_NOTES = ("no manifest beside the model", "the manifest beside the model")  # BenchmarkSession.kt
q = shlex.quote


def app_start_command(model: str, runs: int, warmup: int, threads: int | None) -> list[str]:
    """The device-side argv; -S force-stops the app first so each run starts in a fresh process."""
    argv = [
        "am",
        "start",
        "-W",
        "-S",
        "-n",
        APP_ACTIVITY,
        "--es",
        "model",
        model,
        "--ei",
        "runs",
        str(runs),
        "--ei",
        "warmup",
        str(warmup),
    ]
    if threads:
        argv += ["--ei", "threads", str(threads)]
    return argv + ["--es", "output", APP_RECORD]


def _remote(name: str) -> str:
    return f"{APP_FILES_DIR}/{name}"


def _exists(adb: Adb, remote: str) -> bool:
    return adb.shell(f"test -e {q(remote)}", "looking for a file on the device")[0] == 0


def check_installed(adb: Adb, serial: str) -> None:
    code, out = adb.shell(f"pm path {q(APP_PACKAGE)}", "checking that android_demo is installed")
    if code != 0 or "package:" not in out:  # older pm prints nothing and still exits 0
        raise ProfileError(
            f"android_demo is not installed on {serial!r}: build and install it (android_demo/README.md)."
        )


def start_app(adb: Adb, argv: list[str], serial: str) -> None:
    code, out = adb.shell(" ".join(q(a) for a in argv), "starting android_demo's benchmark mode")
    # am reports a missing activity or a refused intent on stdout, and not always with a failing status
    problems = [line for line in out.splitlines() if line.startswith("Error") or "Exception" in line]
    if code != 0 or problems:
        raise ProfileError(
            f"am start could not start {APP_ACTIVITY} on {serial!r}: "
            f"{(problems or [_last_line(out) or f'exit status {code}'])[-1].strip()[:300]}"
        )


def ensure_files_dir(adb: Adb, serial: str) -> bool:
    """The app creates its own external files folder (a folder made by adb may not be the app's to use on
    newer Android): a fresh install gets one launch without a model, whose error file is cleared later."""
    if adb.shell(f"test -d {q(APP_FILES_DIR)}", "looking for the app's files folder")[0] == 0:
        return False
    start_app(adb, ["am", "start", "-W", "-S", "-n", APP_ACTIVITY, "--es", "output", APP_RECORD], serial)
    _force_stop(adb)
    if adb.shell(f"test -d {q(APP_FILES_DIR)}", "looking for the app's files folder")[0] != 0:
        raise ProfileError(
            f"android_demo did not create {APP_FILES_DIR} on {serial!r}; open the app once on the phone and try again."
        )
    return True


def _force_stop(adb: Adb) -> None:
    adb.shell(f"am force-stop {q(APP_PACKAGE)}", "stopping android_demo", timeout=30)


def wait_for_record(adb: Adb, serial: str, timeout: float, poll: float) -> None:
    """Poll until the app writes the record (returns) or its .error (raises with its line), bounded by timeout.
    The app writes both atomically (temporary name, then rename), so existing means complete."""
    record, error = _remote(APP_RECORD), _remote(APP_RECORD + APP_ERROR_SUFFIX)
    check = (
        f"if [ -e {q(record)} ]; then echo record; elif [ -e {q(error)} ]; then echo error; head -n 1 {q(error)}; fi"
    )
    deadline = time.monotonic() + timeout
    while True:
        _, out = adb.shell(check, "checking for the app's record", timeout=30)
        lines = out.splitlines()
        if lines[:1] == ["record"]:
            return
        if lines[:1] == ["error"]:
            message = lines[1].strip()[:300] if len(lines) > 1 and lines[1].strip() else "no message"
            raise ProfileError(f"android_demo failed on {serial!r}: {message}")
        if time.monotonic() >= deadline:
            raise ProfileError(
                f"android_demo wrote neither {APP_RECORD} nor its .error within {timeout:.0f} s on "
                f"{serial!r}; keep the phone unlocked, lower --runs or raise --timeout."
            )
        time.sleep(poll)


def profile_adb_app(
    path: str | Path,
    serial: str | None = None,
    runs: int = 50,
    warmup: int = 10,
    threads: int | None = None,
    cooldown: float = 0.0,
    timeout: float = 600.0,
    adb_exe: str | None = None,
    poll: float = 0.5,
) -> dict:
    """Measure one artifact with android_demo's benchmark mode; returns a validated record."""
    from runtimes.checks import check_counts

    check_counts(runs, warmup, threads)
    if cooldown < 0:
        raise ProfileError(f"--cooldown cannot be negative; got {cooldown}.")
    path = Path(path)
    fmt = detect_format(path)
    check_complete(path, fmt)
    if fmt not in APP_FORMATS:
        raise ProfileError(f"android_demo runs .pte, .tflite, .onnx and .ort files, not .{fmt}.")
    notes: list[str] = []
    artifact, _ = artifact_facts(path, fmt, notes)
    adb = Adb(serial, adb_exe, timeout=timeout)
    serial = adb.select()
    check_installed(adb, serial)
    facts = device_facts(adb)
    temp_before = battery_temp_c(adb)
    if ensure_files_dir(adb, serial):
        notes.append(f"android_demo was launched once first to create {APP_FILES_DIR}")
    manifest = path.with_suffix(".json")
    uploads = [path] + ([manifest] if manifest.is_file() else [])  # the app reads inputs from the manifest beside it
    created: list[str] = []  # only these are removed afterwards: a model pushed by hand earlier stays
    argv = app_start_command(path.name, runs, warmup, threads)
    finished = False
    try:
        adb.shell("rm -f " + " ".join(q(_remote(n)) for n in _OUTPUTS), "removing stale results")
        for item in uploads:
            if not _exists(adb, _remote(item.name)):
                created.append(item.name)
            adb.push(item, _remote(item.name))
        if cooldown:
            time.sleep(cooldown)  # let the SoC shed heat from the previous model before timing this one
        start_app(adb, argv, serial)
        wait_for_record(adb, serial, timeout, poll)
        finished = True
        with tempfile.TemporaryDirectory(prefix="edge-adb-app-") as tmp:
            local = Path(tmp) / APP_RECORD
            adb.pull(_remote(APP_RECORD), local)
            record = parse_record(local.read_text(errors="replace"), f"android_demo's record from {serial!r}")
    finally:
        _clean_up(adb, finished, created, notes)
    temp_after = battery_temp_c(adb)
    return merge_app_record(
        record, artifact, facts, serial, (temp_before, temp_after), argv, cooldown, path, fmt, notes, runs, warmup
    )


def _clean_up(adb: Adb, finished: bool, created: list[str], notes: list[str]) -> None:
    try:
        if not finished:
            _force_stop(adb)  # a hung or abandoned run must not keep the CPU busy or write a record later
        adb.shell(
            "rm -f " + " ".join(q(_remote(n)) for n in [*created, *_OUTPUTS]), "removing pushed files", timeout=30
        )
    except ProfileError as e:  # the device may be gone; an error already in flight says more
        notes.append(f"could not clean up {APP_FILES_DIR} on the device ({e})")


def merge_app_record(
    record: dict,
    artifact: dict,
    facts: dict,
    serial: str,
    temps: tuple,
    argv: list[str],
    cooldown: float,
    path: Path,
    fmt: str,
    notes: list[str],
    runs: int,
    warmup: int,
) -> dict:
    """adb's and the host's facts over the app's (serial, getprop, battery, file); the app's ops and runner kind stay."""
    measured = record["artifact"]
    if measured["size_bytes"] != artifact["size_bytes"] or measured.get("sha256") not in (None, artifact["sha256"]):
        raise ProfileError(
            f"android_demo measured a file of {measured['size_bytes']} bytes (sha256 "
            f"{str(measured.get('sha256'))[:12]}…) but {path.name!r} has {artifact['size_bytes']}; "
            f"the push was incomplete or the app read another file."
        )
    if (record["runs"], record["warmup"]) != (runs, warmup):
        raise ProfileError(
            f"android_demo measured {record['warmup']} warm-up + {record['runs']} runs but "
            f"{warmup} + {runs} were asked; is the installed app current?"
        )
    record["artifact"] = artifact
    record["device"] = android_device(facts, serial, temps, record["device"])
    if fmt == "pte" and record["runtime"]["delegates"].get("partitions") is None:  # not visible to the app
        from runtimes.executorch_rt import pte_instruction_counts

        counts = pte_instruction_counts(path)
        detail = {**record["runtime"]["delegates"].get("detail", {}), **counts}
        record["runtime"]["delegates"] = {"partitions": counts["delegate_calls"], "detail": detail}
    record["runner"].update(command=argv, taskset=None, cooldown_s=cooldown or None)
    # the host's artifact block replaced the app's, so the host's notes on the manifest replace the app's
    own = [n for n in record.get("notes", []) if not n.startswith(_APP_MANIFEST_NOTES)]
    record["notes"] = own + notes + [f"measured by android_demo over adb on {serial}"]
    return validate_record(record, "the Android app record")
