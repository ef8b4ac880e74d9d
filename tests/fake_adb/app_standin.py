"""android_demo's benchmark thread, played on the host for tests/fake_adb (started by bin/am).

It measures the pushed file for real, with edge's Python runtime adapters (runtimes.profile), and
writes what BenchmarkRequest.fromIntent, BenchmarkSession.run and RecordWriter would: the same
checks and messages, the record fields the app fills (runner kind android_app, delegate partitions
null, no per-op profile, the app's own device facts and battery readings, parity only when the
manifest names this file), atomically; on any failure `<output>.error` with one line, as
BenchmarkActivity.reportFailure does. $FAKE_ADB_FAIL: app_error (a runtime library missing for the
ABI), app_hang (never finishes; `am force-stop` ends it).
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
FORMATS = {"pte", "tflite", "ort", "onnx"}
APP_PATH = "/storage/emulated/0/Android/data/org.edge.demo/files"  # what getExternalFilesDir says on a phone


class BenchmarkError(Exception):
    pass


class UnsatisfiedLinkError(Exception):
    pass


def request_from_extras(extras, contract, folder):
    """BenchmarkRequest.fromIntent: getStringExtra/getIntExtra ignore an extra of the other type."""

    def string(key, default=None):
        value = extras.get(contract[key])
        return value if isinstance(value, str) else default

    def integer(key, default):
        value = extras.get(contract[key])
        return value if isinstance(value, int) else default

    model = string("EXTRA_MODEL")
    if model is None:
        raise BenchmarkError(
            f"--es {contract['EXTRA_MODEL']} NAME is required (a file in {APP_PATH}, or an absolute path)"
        )
    runs, warmup = integer("EXTRA_RUNS", contract["DEFAULT_RUNS"]), integer("EXTRA_WARMUP", contract["DEFAULT_WARMUP"])
    threads, output = integer("EXTRA_THREADS", 0), string("EXTRA_OUTPUT", contract["DEFAULT_OUTPUT"])
    if runs < 1:
        raise BenchmarkError(f"runs must be at least 1 (50 or more for a number worth quoting); got {runs}")
    if warmup < 0:
        raise BenchmarkError(f"warmup cannot be negative; got {warmup}")
    if threads < 0:
        raise BenchmarkError(f"threads must be 0 (runtime default) or more; got {threads}")
    if not output.strip() or "/" in output:
        raise BenchmarkError(f"output must be a file name (it is written to {APP_PATH}); got '{output}'")
    if model.startswith("asset:"):
        raise BenchmarkError(f"bundled model '{model[6:]}' is not in the APK")
    local = os.environ["FAKE_ADB_ROOT"] + model if model.startswith("/") else os.path.join(folder, model)
    shown = model if model.startswith("/") else f"{APP_PATH}/{model}"
    command = [
        "--es",
        contract["EXTRA_MODEL"],
        model,
        "--ei",
        contract["EXTRA_RUNS"],
        str(runs),
        "--ei",
        contract["EXTRA_WARMUP"],
        str(warmup),
        "--ei",
        contract["EXTRA_THREADS"],
        str(threads),
        "--es",
        contract["EXTRA_OUTPUT"],
        output,
    ]
    return {
        "local": local,
        "shown": shown,
        "runs": runs,
        "warmup": warmup,
        "threads": threads,
        "output": os.path.join(folder, output),
        "command": command,
    }


def manifest_summary(local, digest, notes):
    """BenchmarkSession.summarize: the manifest beside the model, parity only if it names this very file."""
    from runtimes.record import read_manifest

    manifest = read_manifest(Path(local))
    if manifest is None:
        notes.append("no manifest beside the model: input shape from the runtime, values in [0, 1]")
        return None
    name, art, extras = os.path.basename(local), manifest["artifact"], manifest["artifact"].get("extra_files", {})
    if art["file"] == name:
        entry, parity = art, manifest["parity"]
    else:  # a companion (.ort) is found by its file name, as ManifestReader.expectedSha256 does
        role = next((k for k, v in extras.items() if v.get("file") == name), None)
        entry, parity = extras.get(role, {}), manifest.get("parity", {}).get("extra_files", {}).get(role)
    if entry.get("sha256") != digest:
        notes.append(
            "the manifest beside the model describes another file (sha256 differs); its parity is not reported"
        )
        parity = None
    return {
        "model": manifest["model"]["name"],
        "target": manifest["target"]["name"],
        "quant": manifest["quant"]["scheme"],
        "gmacs": manifest["model"].get("gmacs"),
        "parity": {"status": (parity or {}).get("status", "not_run"), "cosine": (parity or {}).get("cosine")},
    }


def measure(request):
    """BenchmarkSession.run, with the Python runtime adapters in place of the Android runtime packages."""
    from runtimes.profile import profile_host
    from runtimes.record import host_device, sha256_file

    local = request["local"]
    if not os.path.isfile(local):
        raise BenchmarkError(f"model {request['shown']} does not exist; push it there first (adb push)")
    fmt = local.rsplit(".", 1)[-1].lower()
    if fmt not in FORMATS:
        raise BenchmarkError(f"{os.path.basename(local)}: benchmark mode runs .pte, .tflite, .ort and .onnx files")
    notes = []
    digest = sha256_file(Path(local))
    summary = manifest_summary(local, digest, notes)
    host = profile_host(
        local, runs=request["runs"], warmup=request["warmup"], threads=request["threads"] or None, op_profile=False
    )
    notes.append("measured by the Android demo app's benchmark mode")
    if request["threads"] == 0:
        notes.append("threads: the runtime's own default (none requested)")
    return {
        "schema": host["schema"],
        "created": host["created"],
        "artifact": {
            "file": os.path.basename(local),
            "path": request["shown"],
            "format": fmt,
            "size_bytes": os.path.getsize(local),
            "sha256": digest,
            "manifest": summary,
        },
        "device": {
            "kind": "android",
            "name": "standin",
            "model": "Fake Pixel Stand-in",
            "soc": "Host x86_64 stand-in",
            "cpu": host_device()["cpu"],
            "cores": os.cpu_count(),
            "os": "Android 15 (SDK 35)",
            "battery_temp_c": {"before": 30.1, "after": 30.4},
        },
        "runtime": {
            "name": host["runtime"]["name"],
            "versions": host["runtime"]["versions"],
            "threads": request["threads"] or None,
            "delegates": {"partitions": None, "detail": {}},
        },
        "runner": {
            "kind": "android_app",
            "name": "EdgeDemo 1.0 benchmark mode (host stand-in: runtimes.profile)",
            "command": request["command"],
        },
        "load_ms": host["load_ms"],
        "first_run_ms": host["first_run_ms"],
        "warmup": host["warmup"],
        "runs": host["runs"],
        "latency_ms": host["latency_ms"],
        "samples_ms": host["samples_ms"],
        "memory": host["memory"],
        "ops": {
            "available": False,
            "reason": "the demo app does not collect a per-op profile; the native runner (edge_bench) writes an ETDump",
        },
        "inputs": [dict(host["inputs"][0])],
        "notes": notes,
    }


def write_atomically(text, destination):
    partial = os.path.join(os.path.dirname(destination), f".{os.path.basename(destination)}.partial")
    with open(partial, "w") as f:
        f.write(text)
    os.replace(partial, destination)


def main(request):
    contract, folder = request["contract"], request["folder"]
    output = request["extras"].get(contract["EXTRA_OUTPUT"])
    output = output if isinstance(output, str) else contract["DEFAULT_OUTPUT"]
    fail = os.environ.get("FAKE_ADB_FAIL", "")
    try:
        if fail == "app_hang":
            time.sleep(3600)
        if fail == "app_error":
            raise UnsatisfiedLinkError('dlopen failed: library "libexecutorch_jni.so" not found')
        parsed = request_from_extras(request["extras"], contract, folder)
        record = measure(parsed)
        write_atomically(json.dumps(record, indent=2) + "\n", parsed["output"])
    except Exception as e:  # reportFailure: the first line of "<class>: <message>"
        if "/" not in output:
            message = f"{type(e).__name__}: {e or 'no message'}".splitlines()[0]
            write_atomically(message + "\n", os.path.join(folder, output + contract["ERROR_SUFFIX"]))
        raise


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
