"""iOS harness: drive the ios_demo app's benchmark mode with `xcrun devicectl` (Xcode 16+).

Steps: find the device (`devicectl list devices`), optionally install the app, copy the artifact
and its manifest into the app's Documents, launch the app with benchmark arguments and wait for it
to exit (`--console`), copy the record back (or the app's one-line `.error`), and fill in what the
host knows (file hash, manifest, delegate counts, device facts). Every call is an argv list (no
shell), so names with spaces or quotes pass through unchanged.

The app's side of the contract (its benchmark mode), launched as
    <bundle> --edge-benchmark --model NAME --runs N --warmup W [--threads T] --output edge-record.json
loads Documents/NAME (inputs from the manifest beside it), times it, writes Documents/edge-record.json
in the profile record schema (device kind "ios") and exits; on failure it writes one line to
Documents/edge-record.json.error instead. ios_demo/ implements this side.

Not runnable on Linux: the command construction and record handling are unit-tested; no phone ran them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from runtimes.base import ProfileError
from runtimes.formats import check_complete, detect_format
from runtimes.record import artifact_facts, parse_record, validate_record

BUNDLE_ID = "org.edge.demo"
RECORD_NAME = "edge-record.json"
Run = Callable[[list[str], float], subprocess.CompletedProcess]


def devicectl(*args: str) -> list[str]:
    return ["xcrun", "devicectl", *args]


def list_devices_cmd(json_out: str) -> list[str]:
    return devicectl("list", "devices", "--json-output", json_out)


def install_cmd(udid: str, app: str) -> list[str]:
    return devicectl("device", "install", "app", "--device", udid, app)


def copy_to_cmd(udid: str, bundle: str, source: str, destination: str) -> list[str]:
    return devicectl(
        "device",
        "copy",
        "to",
        "--device",
        udid,
        "--domain-type",
        "appDataContainer",
        "--domain-identifier",
        bundle,
        "--source",
        source,
        "--destination",
        destination,
    )


def copy_from_cmd(udid: str, bundle: str, source: str, destination: str) -> list[str]:
    return devicectl(
        "device",
        "copy",
        "from",
        "--device",
        udid,
        "--domain-type",
        "appDataContainer",
        "--domain-identifier",
        bundle,
        "--source",
        source,
        "--destination",
        destination,
    )


def benchmark_args(model: str, runs: int, warmup: int, threads: int | None) -> list[str]:
    args = ["--edge-benchmark", "--model", model, "--runs", str(runs), "--warmup", str(warmup)]
    if threads:
        args += ["--threads", str(threads)]
    return args + ["--output", RECORD_NAME]


def launch_cmd(udid: str, bundle: str, app_args: list[str]) -> list[str]:
    # "--" ends devicectl's own options, so the app's "--runs" is not read as one of them
    return devicectl(
        "device", "process", "launch", "--device", udid, "--terminate-existing", "--console", bundle, "--", *app_args
    )


def _subprocess_run(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    if shutil.which(argv[0]) is None:
        raise ProfileError(
            "xcrun is not available: --device ios needs a Mac with Xcode 16 or newer (devicectl) and a paired iPhone."
        )
    try:
        return subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProfileError(
            f"{' '.join(argv[:5])} did not finish within {timeout:.0f} s; is the phone unlocked?"
        ) from None


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        lines = [x for x in (result.stderr or result.stdout or "").strip().splitlines() if x.strip()]
        raise ProfileError(f"{what} failed: {lines[-1].strip()[:300] if lines else f'exit status {result.returncode}'}")


def pick_device(devices_json: dict, udid: str | None) -> dict:
    """The one physical iOS device named (by UDID, CoreDevice id or name) or the only one paired."""
    devices = [
        d
        for d in devices_json.get("result", {}).get("devices", [])
        if d.get("hardwareProperties", {}).get("platform") == "iOS"
        and d.get("hardwareProperties", {}).get("reality", "physical") == "physical"
    ]
    if udid is not None:
        for d in devices:
            ids = {
                d.get("identifier"),
                d.get("hardwareProperties", {}).get("udid"),
                d.get("deviceProperties", {}).get("name"),
            }
            if udid in ids:
                return d
        listed = ", ".join(d.get("hardwareProperties", {}).get("udid", "?") for d in devices) or "none"
        raise ProfileError(f"iOS device {udid!r} is not paired with this Mac (paired: {listed}).")
    if len(devices) != 1:
        raise ProfileError(
            "no iOS device is paired with this Mac; connect and trust one."
            if not devices
            else f"{len(devices)} iOS devices are paired; pick one with --device ios:UDID."
        )
    return devices[0]


def _app_error(run: Run, target: str, bundle: str, tmp: Path) -> str:
    """The one line the app leaves in `<record>.error` when benchmark mode fails."""
    local = tmp / f"{RECORD_NAME}.error"
    result = run(copy_from_cmd(target, bundle, f"Documents/{RECORD_NAME}.error", str(local)), 60)
    if result.returncode == 0 and local.is_file():
        lines = [x.strip() for x in local.read_text(errors="replace").splitlines() if x.strip()]
        if lines:
            return lines[0][:300]
    return "no error file either; is the installed app's benchmark mode current?"


def device_block(device: dict) -> dict:
    hw, props = device.get("hardwareProperties", {}), device.get("deviceProperties", {})
    return {
        "kind": "ios",
        "name": hw.get("udid") or device.get("identifier", "?"),
        "model": hw.get("marketingName") or hw.get("productType"),
        "soc": (hw.get("cpuType") or {}).get("name"),
        "cpu": (hw.get("cpuType") or {}).get("name"),
        "cores": None,
        "os": f"iOS {props.get('osVersionNumber', '?')}",
        "battery_temp_c": None,
    }


def profile_ios(
    path: str | Path,
    udid: str | None = None,
    app: str | Path | None = None,
    runs: int = 50,
    warmup: int = 10,
    threads: int | None = None,
    bundle: str = BUNDLE_ID,
    timeout: float = 900.0,
    run: Run = _subprocess_run,
) -> dict:
    """Measure one artifact with the iOS demo app; returns a validated record."""
    from runtimes.checks import check_counts

    check_counts(runs, warmup, threads)
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in ("pte", "mlpackage"):
        raise ProfileError(f"the iOS demo app runs .pte and .mlpackage artifacts, not .{fmt}.")
    check_complete(path, fmt)
    if app is not None and not Path(app).is_dir():
        raise ProfileError(f"--runner for iOS is the built .app folder to install; {str(app)!r} is not one.")
    notes: list[str] = []
    artifact, _ = artifact_facts(path, fmt, notes)
    with tempfile.TemporaryDirectory(prefix="edge-ios-") as tmp:
        listing = Path(tmp) / "devices.json"
        _check(run(list_devices_cmd(str(listing)), 60), "listing iOS devices")
        try:
            device = pick_device(json.loads(listing.read_text()), udid)
        except (OSError, json.JSONDecodeError) as e:
            raise ProfileError(f"devicectl's device list cannot be read ({e}).") from None
        target = device.get("hardwareProperties", {}).get("udid") or device["identifier"]
        if app is not None:
            _check(run(install_cmd(target, str(app)), 300), "installing the demo app")
        _check(run(copy_to_cmd(target, bundle, str(path), f"Documents/{path.name}"), 300), "copying the artifact")
        manifest = path.with_suffix(".json")
        if manifest.is_file():  # the app takes input shape and value range from it, as the host does
            _check(
                run(copy_to_cmd(target, bundle, str(manifest), f"Documents/{manifest.name}"), 60),
                "copying the manifest",
            )
        _check(
            run(launch_cmd(target, bundle, benchmark_args(path.name, runs, warmup, threads)), timeout),
            "the benchmark run in the demo app",
        )
        local = Path(tmp) / RECORD_NAME
        if (
            run(copy_from_cmd(target, bundle, f"Documents/{RECORD_NAME}", str(local)), 120).returncode != 0
            or not local.is_file()
        ):
            raise ProfileError(f"the demo app wrote no record: {_app_error(run, target, bundle, Path(tmp))}")
        text = local.read_text(errors="replace")
    record = parse_record(text, f"the demo app's record from {target!r}")
    return merge_ios_record(record, artifact, device, path, fmt, notes)


def merge_ios_record(record: dict, artifact: dict, device: dict, path: Path, fmt: str, notes: list[str]) -> dict:
    """Host-side facts over the app's own: the file's hash and manifest, devicectl's device facts."""
    if fmt == "pte" and record["artifact"]["size_bytes"] != artifact["size_bytes"]:  # a folder's size is ambiguous
        raise ProfileError(
            f"the app measured a file of {record['artifact']['size_bytes']} bytes but "
            f"{path.name!r} has {artifact['size_bytes']}; the copy was incomplete or stale."
        )
    app_device = record["device"]
    record["artifact"] = artifact
    record["device"] = {**device_block(device), **{k: app_device[k] for k in ("cpu", "cores") if app_device.get(k)}}
    if fmt == "pte" and record["runtime"]["delegates"].get("partitions") is None:
        from runtimes.executorch_rt import pte_instruction_counts

        counts = pte_instruction_counts(path)
        detail = {**record["runtime"]["delegates"].get("detail", {}), **counts}  # keep what the app recorded
        record["runtime"]["delegates"] = {"partitions": counts["delegate_calls"], "detail": detail}
    record["runner"]["kind"] = "ios_app"
    record["notes"] = record.get("notes", []) + notes + ["measured by the iOS demo app via xcrun devicectl"]
    return validate_record(record, "the iOS record")
