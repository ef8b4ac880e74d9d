"""Android harness: run the native runner (edge_bench) on a phone over adb and bring back a record.

Steps: check `adb devices`, read device facts, push the artifact and the runner to a fresh work
dir, optionally cool down, run (optionally pinned with taskset), pull the record and the ETDump,
read the battery temperature again, remove the work dir. `adb shell` hands its command to the
device's shell, so every path and argument in it goes through shlex.quote: a serial or file name
with spaces or quotes works and cannot inject commands. adb itself is called with argv lists.
runtimes/adb_app.py drives the android_demo app's benchmark mode instead (`--runner app`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from runtimes.base import ProfileError
from runtimes.checks import check_counts, check_taskset
from runtimes.formats import check_complete, detect_format
from runtimes.record import artifact_facts, parse_record, validate_record

WORK_ROOT = "/data/local/tmp"
_RC = "__edge_rc="
_ELF_MACHINES = {3: "x86", 40: "armeabi-v7a", 62: "x86_64", 183: "arm64-v8a"}
_PROPS = (
    "ro.product.manufacturer",
    "ro.product.model",
    "ro.soc.manufacturer",
    "ro.soc.model",
    "ro.board.platform",
    "ro.build.version.release",
    "ro.build.version.sdk",
    "ro.product.cpu.abi",
)
# android_demo's benchmark mode (android_demo/README.md); tests/test_adb_app.py ties these to the app's sources.
APP_PACKAGE = "org.edge.demo"
APP_ACTIVITY = f"{APP_PACKAGE}/.BenchmarkActivity"
APP_FILES_DIR = f"/sdcard/Android/data/{APP_PACKAGE}/files"  # getExternalFilesDir: adb writes, the app reads
APP_RECORD = "edge-record.json"
APP_ERROR_SUFFIX = ".error"
APP_FORMATS = ("pte", "tflite", "onnx", "ort")


def _run_in_group(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run, but in its own process group, killed whole on timeout or interrupt: adb (or a
    stand-in) forks helpers that would outlive a plain kill of the direct child."""
    import os
    import signal

    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


class Adb:
    """argv-level adb calls for one device; `shell` returns (exit code, output) of the device command."""

    def __init__(self, serial: str | None = None, adb: str | None = None, timeout: float = 60.0):
        self.exe = adb or shutil.which("adb")
        if not self.exe:
            raise ProfileError(
                "adb is not on PATH; install Android platform-tools (or put adb on PATH) to use --device adb."
            )
        self.serial = serial
        self.timeout = timeout

    def _run(self, args: list[str], what: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        argv = [str(self.exe)] + (["-s", self.serial] if self.serial else []) + args
        try:
            return _run_in_group(argv, timeout or self.timeout)
        except subprocess.TimeoutExpired:
            hint = f"adb -s {shlex.quote(self.serial)} shell true" if self.serial else "adb devices"
            raise ProfileError(
                f"{what} did not finish within {timeout or self.timeout:.0f} s; is the device responsive ({hint})?"
            ) from None
        except OSError as e:
            raise ProfileError(f"cannot run adb at {self.exe!r} ({e.strerror}).") from None

    def devices(self) -> list[tuple[str, str]]:
        """(serial, state) pairs; `adb devices` separates them with a tab, so serials may hold spaces."""
        out = self._run_plain(["devices"])
        pairs = []
        for line in out.splitlines()[1:]:
            if "\t" in line:
                serial, state = line.rsplit("\t", 1)
                pairs.append((serial, state.strip()))
        return pairs

    def _run_plain(self, args: list[str]) -> str:
        saved, self.serial = self.serial, None
        try:
            result = self._run(args, "adb " + " ".join(args))
        finally:
            self.serial = saved
        if result.returncode != 0:
            raise ProfileError(f"adb {' '.join(args)} failed: {_last_line(result.stderr or result.stdout)}")
        return result.stdout

    def select(self) -> str:
        """Pick the device: the named serial, or the only one attached; a clear error otherwise."""
        pairs = self.devices()
        ready = [s for s, state in pairs if state == "device"]
        if self.serial is None:
            if not ready:
                seen = ", ".join(f"{s} ({st})" for s, st in pairs) or "none"
                raise ProfileError(
                    f"no Android device is ready over adb (attached: {seen}); connect one, enable USB "
                    f"debugging and accept the prompt."
                )
            if len(ready) > 1:
                raise ProfileError(
                    f"{len(ready)} devices are attached ({', '.join(ready)}); pick one with --device adb:SERIAL."
                )
            self.serial = ready[0]
        else:
            state = dict(pairs).get(self.serial)
            if state is None:
                listed = ", ".join(s for s, _ in pairs) or "none"
                raise ProfileError(f"device {self.serial!r} is not attached (adb devices lists: {listed}).")
            if state != "device":
                hint = " accept the debugging prompt on the phone" if state == "unauthorized" else " reconnect it"
                raise ProfileError(f"device {self.serial!r} is {state};{hint} and try again.")
        return self.serial

    def shell(self, command: str, what: str, timeout: float | None = None) -> tuple[int, str]:
        """Run one shell command line; the exit code comes from a marker, as old adb drops it."""
        result = self._run(["shell", f"{command}; echo {_RC}$?"], what, timeout)
        text = result.stdout.replace("\r\n", "\n")
        match = re.search(rf"{_RC}(\d+)\s*$", text)
        if match is None:
            raise ProfileError(
                f"{what} failed: adb shell gave no exit status ({_last_line(result.stderr or text) or 'no output'})."
            )
        return int(match.group(1)), (text[: match.start()] + result.stderr).strip()

    def push(self, local: Path, remote: str) -> None:
        result = self._run(["push", str(local), remote], f"pushing {local.name}", timeout=self.timeout)
        if result.returncode != 0:
            raise ProfileError(
                f"pushing {local.name!r} to the device failed: {_last_line(result.stderr or result.stdout)}"
            )

    def pull(self, remote: str, local: Path) -> None:
        result = self._run(["pull", remote, str(local)], f"pulling {remote}")
        if result.returncode != 0:
            raise ProfileError(
                f"pulling {remote!r} from the device failed: {_last_line(result.stderr or result.stdout)}"
            )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def parse_device(spec: str) -> tuple[str, str | None]:
    """'host' | 'adb' | 'adb:SERIAL' | 'ios' | 'ios:UDID' | 'arm64' | 'arm64:CPU' -> (kind, id); a serial may
    itself hold ':'."""
    kind, sep, ident = spec.partition(":")
    if kind not in ("host", "adb", "ios", "arm64") or (kind == "host" and sep):
        raise ProfileError(
            f"unknown --device {spec!r}; use host, adb, adb:SERIAL, ios, ios:UDID or arm64:CPU (emulated)."
        )
    if sep and not ident:
        raise ProfileError(f"--device {spec!r} has an empty id after ':'; give adb:SERIAL or leave it out.")
    return kind, ident or None


def elf_abi(path: Path) -> str | None:
    """The Android ABI an ELF executable is built for, or None when it is not ELF."""
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return None
    return _ELF_MACHINES.get(int.from_bytes(head[18:20], "little" if head[5] == 1 else "big"), "unknown")


def device_facts(adb: Adb) -> dict:
    q = shlex.quote
    script = "; ".join(f"echo {q(p)}=$(getprop {q(p)})" for p in _PROPS)
    script += (
        "; echo cores=$(grep -c ^processor /proc/cpuinfo); echo cpu=$(grep -m1 -E '^(Hardware|model name)' "
        "/proc/cpuinfo | cut -d: -f2)"
    )
    code, out = adb.shell(script, "reading device properties")
    facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if code != 0 or not facts.get("ro.build.version.release"):
        raise ProfileError(f"cannot read the device's properties (getprop): {_last_line(out)}")
    return facts


def battery_temp_c(adb: Adb) -> float | None:
    code, out = adb.shell("dumpsys battery", "reading the battery temperature")
    match = re.search(r"temperature:\s*(-?\d+)", out)
    return int(match.group(1)) / 10 if code == 0 and match else None  # dumpsys reports tenths of a degree


def runner_command(
    runner: str, model: str, runs: int, warmup: int, threads: int | None, taskset: str | None, device_timeout: int
) -> list[str]:
    """The device-side argv; joined with shlex.quote. `timeout` stops a hung runner on the phone itself."""
    argv = ["timeout", str(device_timeout)]
    if taskset:
        argv += ["taskset", taskset]
    argv += [f"./{runner}", "--model", model, "--runs", str(runs), "--warmup", str(warmup)]
    if threads:
        argv += ["--threads", str(threads)]
    return argv + ["--etdump", "profile.etdp", "--output", "record.json"]


def profile_adb(
    path: str | Path,
    runner: str | Path | None,
    serial: str | None = None,
    runs: int = 50,
    warmup: int = 10,
    threads: int | None = None,
    taskset: str | None = None,
    cooldown: float = 0.0,
    timeout: float = 600.0,
    keep_etdump: Path | None = None,
    adb_exe: str | None = None,
) -> dict:
    """Measure one .pte on an Android device with the native runner; returns a validated record."""
    from runtimes.opprofile import summarize_etdump

    check_counts(runs, warmup, threads)
    taskset = check_taskset(taskset)
    if cooldown < 0:
        raise ProfileError(f"--cooldown cannot be negative; got {cooldown}.")
    path = Path(path)
    fmt = detect_format(path)
    check_complete(path, fmt)
    if fmt != "pte":
        raise ProfileError(
            f"the native runner runs .pte files only; a .{fmt} is not supported over adb with it "
            f"(use --runner app for the android_demo app, or --device host)."
        )
    if runner is None:
        raise ProfileError(
            "--device adb needs --runner PATH: edge_bench built for the phone "
            "(runtimes/native/README.md has the Android NDK commands), or --runner app."
        )
    runner = Path(runner)
    if not runner.is_file():
        raise ProfileError(f"runner {str(runner)!r} does not exist; build it as runtimes/native/README.md describes.")
    notes: list[str] = []
    artifact, _ = artifact_facts(path, fmt, notes)
    adb = Adb(serial, adb_exe, timeout=timeout)
    serial = adb.select()
    facts = device_facts(adb)
    abi, device_abi = elf_abi(runner), facts.get("ro.product.cpu.abi")
    if abi and device_abi and abi != device_abi:
        raise ProfileError(
            f"runner {runner.name!r} is built for {abi} but the device is {device_abi}; "
            f"cross-compile it for {device_abi}."
        )
    q = shlex.quote
    work = f"{WORK_ROOT}/edge-{uuid.uuid4().hex[:10]}"
    temp_before = battery_temp_c(adb)
    code, out = adb.shell(f"mkdir -p {q(work)}", "creating the work dir")
    if code != 0:
        raise ProfileError(f"cannot create {work} on the device: {_last_line(out)}")
    try:
        adb.push(path, f"{work}/{path.name}")
        bundle = [runner] + sorted(p for p in runner.parent.glob("lib*.so") if p.is_file())  # shared-lib builds
        for item in bundle:
            adb.push(item, f"{work}/{item.name}")
        code, out = adb.shell(f"chmod 755 {q(work + '/' + runner.name)}", "making the runner executable")
        if code != 0:
            raise ProfileError(f"cannot make the runner executable on the device: {_last_line(out)}")
        if cooldown:
            time.sleep(cooldown)  # let the SoC shed heat from the previous model before timing this one
        device_timeout = max(int(timeout) - 5, 1)
        argv = runner_command(runner.name, path.name, runs, warmup, threads, taskset, device_timeout)
        line = f"cd {q(work)} && LD_LIBRARY_PATH={q(work)} " + " ".join(q(a) for a in argv)
        code, out = adb.shell(line, "the runner", timeout=timeout)
        if code == 124:
            raise ProfileError(
                f"the runner did not finish within {device_timeout} s on the device; lower --runs or raise the timeout."
            )
        if code != 0:
            signal = f" (killed by signal {code - 128})" if code > 128 else ""
            raise ProfileError(
                f"the runner exited with status {code}{signal} on {serial!r}: {_last_line(out) or 'no output'}"
            )
        with tempfile.TemporaryDirectory(prefix="edge-adb-") as tmp:
            adb.pull(f"{work}/record.json", Path(tmp) / "record.json")
            record = parse_record(
                (Path(tmp) / "record.json").read_text(errors="replace"), f"the runner's record from {serial!r}"
            )
            dump = keep_etdump or Path(tmp) / "profile.etdp"
            try:
                dump.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ProfileError(f"cannot create {str(dump.parent)!r} for the ETDump ({e.strerror}).") from None
            adb.pull(f"{work}/profile.etdp", dump)
            ops = summarize_etdump(dump)
            ops["file"] = str(keep_etdump) if keep_etdump else None
    finally:
        try:
            adb.shell(f"rm -rf {q(work)}", "removing the work dir", timeout=30)
        except ProfileError as e:  # the device may be gone; an error already in flight says more
            notes.append(f"could not remove {work} from the device ({e})")
    temp_after = battery_temp_c(adb)
    if record["artifact"]["size_bytes"] != artifact["size_bytes"]:
        raise ProfileError(
            f"the runner read {record['artifact']['size_bytes']} bytes but {path.name!r} has "
            f"{artifact['size_bytes']}; the push was incomplete."
        )
    return _android_record(
        record, artifact, facts, serial, (temp_before, temp_after), ops, argv, taskset, cooldown, path, notes
    )


def _android_record(
    record: dict,
    artifact: dict,
    facts: dict,
    serial: str,
    temps: tuple,
    ops: dict,
    argv: list,
    taskset: str | None,
    cooldown: float,
    path: Path,
    notes: list[str],
) -> dict:
    from runtimes.executorch_rt import pte_instruction_counts

    counts = pte_instruction_counts(path)
    record["artifact"] = artifact
    record["device"] = android_device(facts, serial, temps, record["device"])
    record["runtime"]["delegates"] = {"partitions": counts["delegate_calls"], "detail": counts}
    record["runner"].update(command=argv, taskset=taskset, cooldown_s=cooldown or None)
    record["ops"] = ops
    record["notes"] = record.get("notes", []) + notes + [f"measured over adb on {serial}"]
    return validate_record(record, "the Android record")


def android_device(facts: dict, serial: str, temps: tuple, reported: dict) -> dict:
    """The record's device block from getprop and dumpsys; what the producer reported fills the gaps."""
    model = " ".join(filter(None, (facts.get("ro.product.manufacturer"), facts.get("ro.product.model")))) or None
    soc = (
        " ".join(filter(None, (facts.get("ro.soc.manufacturer"), facts.get("ro.soc.model"))))
        or facts.get("ro.board.platform")
        or None
    )
    own = reported.get("battery_temp_c") or {}
    return {
        "kind": "android",
        "name": serial,
        "model": model,
        "soc": soc,
        "cpu": facts.get("cpu", "").strip() or reported.get("cpu") or facts.get("ro.product.cpu.abi"),
        "cores": int(facts["cores"])
        if facts.get("cores", "").isdigit() and int(facts["cores"]) > 0
        else reported.get("cores"),
        "os": f"Android {facts.get('ro.build.version.release')} (SDK {facts.get('ro.build.version.sdk')})",
        "battery_temp_c": {
            "before": own.get("before") if temps[0] is None else temps[0],
            "after": own.get("after") if temps[1] is None else temps[1],
        },
    }
