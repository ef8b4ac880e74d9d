"""Runs inside the emulated aarch64 CPython (runtimes/arm64/session.py starts it): .tflite, .onnx, .ort.

Standalone on purpose: only the standard library, numpy and the two runtimes exist there.
  guest_runner.py JOB.json
JOB: {"threads": N, "artifacts": [{"path", "format", "inputs": "x.npz", "outputs": "y.npz",
      "session_config": {...}, "warmup": 0, "runs": 0}]}. Each artifact's inputs.npz holds
s<sample>_i<input> arrays; every sample runs once and its outputs go to outputs.npz as
s<sample>_o<output>; with runs > 0 the first sample is then timed. A result JSON goes to stdout.
"""

import ctypes
import json
import sys
import time


def hwcaps():
    getauxval = ctypes.CDLL(None).getauxval
    getauxval.restype = ctypes.c_ulong
    getauxval.argtypes = [ctypes.c_ulong]
    return int(getauxval(16)), int(getauxval(26))  # AT_HWCAP, AT_HWCAP2


class Litert:
    def __init__(self, path, threads):
        import importlib.metadata as md

        from ai_edge_litert import interpreter as tfl

        self.interpreter = tfl.Interpreter(model_path=path, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.ins = self.interpreter.get_input_details()
        self.outs = self.interpreter.get_output_details()
        self.versions = {"ai-edge-litert": md.version("ai-edge-litert")}

    def run(self, arrays):
        for spec, array in zip(self.ins, arrays):
            self.interpreter.set_tensor(spec["index"], array)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(spec["index"]) for spec in self.outs]


class Ort:
    def __init__(self, path, threads, config):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        for key, value in (config or {}).items():
            options.add_session_config_entry(key, value)
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]
        self.versions = {"onnxruntime": ort.__version__}

    def run(self, arrays):
        return self.session.run(None, dict(zip(self.names, arrays)))


def run_artifact(job, threads):
    import numpy as np

    start = time.perf_counter()
    session = (
        Litert(job["path"], threads)
        if job["format"] == "tflite"
        else Ort(job["path"], threads, job.get("session_config"))
    )
    load_ms = (time.perf_counter() - start) * 1e3
    given = np.load(job["inputs"])
    samples = sorted({int(k.split("_")[0][1:]) for k in given.files})
    arity = len({k.split("_")[1] for k in given.files})
    saved, first = {}, None
    for s in samples:
        outputs = session.run([given[f"s{s}_i{i}"] for i in range(arity)])
        for o, out in enumerate(outputs):
            saved[f"s{s}_o{o}"] = np.asarray(out)
    np.savez(job["outputs"], **saved)
    timed = []
    feed = [given[f"s{samples[0]}_i{i}"] for i in range(arity)]
    for r in range(job.get("warmup", 0) + job.get("runs", 0)):
        t0 = time.perf_counter_ns()
        session.run(feed)
        ms = round((time.perf_counter_ns() - t0) / 1e6, 4)
        first = ms if first is None else first
        if r >= job.get("warmup", 0):
            timed.append(ms)
    return {
        "path": job["path"],
        "samples": len(samples),
        "load_ms": round(load_ms, 3),
        "versions": session.versions,
        "samples_ms": timed,
        "first_run_ms": first,
    }


def main(argv):
    with open(argv[1]) as f:
        job = json.load(f)
    import numpy

    hwcap, hwcap2 = hwcaps()
    results = []
    for artifact in job["artifacts"]:
        try:
            results.append(run_artifact(artifact, job.get("threads", 1)))
        except Exception as e:  # the runtime's refusal, reported per artifact to the host
            results.append({"path": artifact["path"], "error": f"{type(e).__name__}: {str(e).strip()[:300]}"})
    print(
        json.dumps(
            {
                "hwcap": hwcap,
                "hwcap2": hwcap2,
                "python": sys.version.split()[0],
                "numpy": numpy.__version__,
                "results": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
