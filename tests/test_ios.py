"""iOS harness: xcrun devicectl command construction and record handling.

No Mac or iPhone here: `run` is replaced by a recorder that answers like devicectl (device list
JSON, the app's record on `copy from`). What a real device does with these commands is not verified.
"""

import json
import subprocess
from pathlib import Path

import pytest

from runtimes import ProfileError
from runtimes.ios import (
    BUNDLE_ID,
    benchmark_args,
    copy_from_cmd,
    copy_to_cmd,
    install_cmd,
    launch_cmd,
    list_devices_cmd,
    pick_device,
    profile_ios,
)
from runtimes.record import SCHEMA_ID, summarize, validate_record
from tests.profiling_support import copy_with_manifest, small_artifact

UDID = "00008110-001A2B3C4D5E801E"
DEVICES = {
    "result": {
        "devices": [
            {
                "identifier": "53DA57AA-1111",
                "deviceProperties": {"name": "Ana's iPhone", "osVersionNumber": "18.5"},
                "hardwareProperties": {
                    "udid": UDID,
                    "platform": "iOS",
                    "reality": "physical",
                    "productType": "iPhone16,1",
                    "marketingName": "iPhone 15 Pro",
                    "cpuType": {"name": "arm64e"},
                },
                "connectionProperties": {"pairingState": "paired", "tunnelState": "connected"},
            },
            {
                "identifier": "SIM-1",
                "deviceProperties": {"name": "Simulator"},
                "hardwareProperties": {"udid": "SIM-1", "platform": "iOS", "reality": "virtual"},
            },
        ]
    }
}


@pytest.fixture(scope="module")
def pte(tmp_path_factory):
    return small_artifact("xnnpack", tmp_path_factory)


def app_record(size_bytes: int, name: str, samples=(7.9, 8.1, 8.0, 8.4, 7.8, 8.2)) -> dict:
    """What the demo app's benchmark mode writes (the same schema; it cannot know the file's hash)."""
    return {
        "schema": SCHEMA_ID,
        "created": "2026-11-21T06:00:00+00:00",
        "artifact": {
            "file": name,
            "path": None,
            "format": "pte",
            "size_bytes": size_bytes,
            "sha256": None,
            "manifest": None,
        },
        "device": {
            "kind": "ios",
            "name": "iPhone",
            "model": None,
            "soc": None,
            "cpu": None,
            "cores": 6,
            "os": "iOS 18.5",
        },
        "runtime": {
            "name": "executorch",
            "versions": {"executorch": "1.5.1"},
            "threads": 2,
            "delegates": {"partitions": None, "detail": {"compute_units": "cpu"}},
        },
        "runner": {"kind": "ios_app", "name": "EdgeDemo 1.0"},
        "load_ms": 21.5,
        "first_run_ms": 30.2,
        "warmup": 2,
        "runs": len(samples),
        "latency_ms": summarize(list(samples)),
        "samples_ms": list(samples),
        "memory": {
            "peak_rss_bytes": 90_000_000,
            "baseline_rss_bytes": None,
            "peak_delta_bytes": None,
            "method": "ru_maxrss",
        },
        "ops": {"available": False, "source": None, "reason": "not requested", "top": []},
        "inputs": [{"name": "input_0", "shape": [1, 3, 64, 64], "dtype": "float32"}],
        "notes": [],
    }


class FakeDevicectl:
    """Records every argv; answers `list devices` and `copy from` like devicectl would."""

    def __init__(self, record_text: str | None, fail_on: str | None = None, error_line: str | None = None):
        self.calls, self.record_text, self.fail_on, self.error_line = [], record_text, fail_on, error_line

    def __call__(self, argv, timeout):
        self.calls.append(argv)
        if self.fail_on and self.fail_on in argv:
            return subprocess.CompletedProcess(argv, 1, "", "ERROR: The device rejected the connection request.\n")
        if argv[2:4] == ["list", "devices"]:
            Path(argv[argv.index("--json-output") + 1]).write_text(json.dumps(DEVICES))
        if argv[2:5] == ["device", "copy", "from"]:
            text = self.error_line if argv[argv.index("--source") + 1].endswith(".error") else self.record_text
            if text is None:
                return subprocess.CompletedProcess(argv, 1, "", "ERROR: File not found in the app container.\n")
            Path(argv[argv.index("--destination") + 1]).write_text(text)
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_command_construction():
    assert list_devices_cmd("/t/d.json") == ["xcrun", "devicectl", "list", "devices", "--json-output", "/t/d.json"]
    assert install_cmd(UDID, "/b/Edge Demo.app") == [
        "xcrun",
        "devicectl",
        "device",
        "install",
        "app",
        "--device",
        UDID,
        "/b/Edge Demo.app",
    ]
    assert copy_to_cmd(UDID, BUNDLE_ID, "/m/it's a.pte", "Documents/it's a.pte") == [
        "xcrun",
        "devicectl",
        "device",
        "copy",
        "to",
        "--device",
        UDID,
        "--domain-type",
        "appDataContainer",
        "--domain-identifier",
        BUNDLE_ID,
        "--source",
        "/m/it's a.pte",
        "--destination",
        "Documents/it's a.pte",
    ]
    assert copy_from_cmd(UDID, BUNDLE_ID, "Documents/edge-record.json", "/t/r.json")[3:5] == ["copy", "from"]
    args = benchmark_args("it's a.pte", 50, 10, 2)
    assert args == [
        "--edge-benchmark",
        "--model",
        "it's a.pte",
        "--runs",
        "50",
        "--warmup",
        "10",
        "--threads",
        "2",
        "--output",
        "edge-record.json",
    ]
    launch = launch_cmd(UDID, BUNDLE_ID, args)
    assert launch[:9] == [
        "xcrun",
        "devicectl",
        "device",
        "process",
        "launch",
        "--device",
        UDID,
        "--terminate-existing",
        "--console",
    ]
    assert launch[9:11] == [BUNDLE_ID, "--"] and launch[11:] == args  # "--": the app's flags are not devicectl's


def test_device_is_picked_by_udid_identifier_or_name_and_simulators_are_ignored():
    for key in (UDID, "53DA57AA-1111", "Ana's iPhone", None):
        assert pick_device(DEVICES, key)["identifier"] == "53DA57AA-1111"
    with pytest.raises(ProfileError, match="'SIM-1' is not paired"):
        pick_device(DEVICES, "SIM-1")
    with pytest.raises(ProfileError, match="no iOS device is paired"):
        pick_device({"result": {"devices": []}}, None)


def test_profile_ios_sequence_and_merged_record(pte, tmp_path):
    model = copy_with_manifest(pte, tmp_path, "it's a model")
    app = tmp_path / "EdgeDemo.app"
    app.mkdir()
    fake = FakeDevicectl(json.dumps(app_record(model.stat().st_size, model.name)))
    record = profile_ios(model, udid=UDID, app=app, runs=6, warmup=2, threads=2, run=fake)
    verbs = [" ".join(c[2:5]) for c in fake.calls]
    assert verbs == [
        "list devices --json-output",
        "device install app",
        "device copy to",
        "device copy to",
        "device process launch",
        "device copy from",
    ]
    sources = [c[c.index("--source") + 1] for c in fake.calls if "--source" in c]
    assert sources[:2] == [str(model), str(model.with_suffix(".json"))]  # the app reads the manifest too
    validate_record(record)
    assert record["device"]["kind"] == "ios" and record["device"]["model"] == "iPhone 15 Pro"
    assert record["device"]["name"] == UDID and record["device"]["os"] == "iOS 18.5" and record["device"]["cores"] == 6
    assert record["artifact"]["sha256"] and record["artifact"]["manifest"]["parity"]["status"] == "passed"
    assert record["runtime"]["delegates"]["partitions"] > 0  # filled from the .pte on the host
    assert record["runtime"]["delegates"]["detail"]["compute_units"] == "cpu"  # the app's own detail is kept
    assert record["latency_ms"]["p50"] == pytest.approx(8.05)


@pytest.mark.parametrize(
    "record_text,fail_on,needle",
    [
        (None, None, "the demo app wrote no record: no error file either"),
        ("Terminated due to signal 9", None, "is not JSON"),
        ("{}", None, "is not a valid profile record"),
        ("ok", "launch", "the benchmark run in the demo app failed: ERROR: The device rejected"),
        ("ok", "to", "copying the artifact failed"),
    ],
)
def test_failures_are_clear(pte, record_text, fail_on, needle):
    with pytest.raises(ProfileError, match=needle):
        profile_ios(pte, udid=UDID, runs=6, warmup=2, run=FakeDevicectl(record_text, fail_on))


def test_the_app_s_error_line_is_shown(pte):
    fake = FakeDevicectl(None, error_line="model input 'input' is float16, benchmark mode feeds float32\n")
    with pytest.raises(ProfileError, match="wrote no record: model input 'input' is float16"):
        profile_ios(pte, udid=UDID, runs=6, warmup=2, run=fake)


def test_size_mismatch_and_wrong_formats(pte, tmp_path):
    wrong = FakeDevicectl(json.dumps(app_record(123, pte.name)))
    with pytest.raises(ProfileError, match="file of 123 bytes"):
        profile_ios(pte, udid=UDID, runs=6, warmup=2, run=wrong)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07" + b"\x00" * 64)
    with pytest.raises(ProfileError, match="runs .pte and .mlpackage artifacts, not .onnx"):
        profile_ios(onnx, udid=UDID, run=wrong)
    with pytest.raises(ProfileError, match="is not one"):
        profile_ios(pte, udid=UDID, app=tmp_path / "missing.app", run=wrong)
