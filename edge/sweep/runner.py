"""`edge sweep`: run every cell of a spec on Ray, resumably, and write the table and the report.

Conversions are Ray tasks of one CPU each, so they run in parallel on any node. A timing asks for
its device's resource (cluster.py), so it runs on the node the device hangs off, one at a time per
device. Results come back as data and are written here (store.py), so the nodes share no files.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import EdgeError
from edge.sweep.cells import Conversion, Timing, expand
from edge.sweep.cluster import MAX_RETRIES, connect, device_nodes, device_resource, timing_cpus
from edge.sweep.spec import SweepSpec, load_spec
from edge.sweep.store import Store, pack

KILL_HOOK_ENV = "EDGE_SWEEP_TEST_KILL_CONVERSION"  # test hook: a marker path; the first conversion's worker dies


@dataclass
class SweepResult:
    out_dir: Path
    conversions_run: int = 0
    conversions_skipped: int = 0
    conversions_failed: int = 0
    timings_run: int = 0
    timings_skipped: int = 0
    timings_failed: int = 0
    rows: list[dict] = field(default_factory=list)
    table: Path | None = None
    report: Path | None = None
    seconds: float = 0.0

    def counts(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "conversions_run",
                "conversions_skipped",
                "conversions_failed",
                "timings_run",
                "timings_skipped",
                "timings_failed",
            )
        }


def run_sweep(
    spec: str | Path | SweepSpec,
    out_dir: str | Path,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: bool = True,
    console=None,
    retry_failed: bool = False,
) -> SweepResult:
    """Run what is not done yet; return counts, rows and the paths of the table and the report.

    A conversion that failed is not tried again with the same inputs unless retry_failed (its worker
    dying is not such a failure); a failed timing is (a phone may have been unplugged)."""
    from edge.sweep.progress import SweepProgress
    from edge.sweep.results import write_results

    start = time.perf_counter()
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    store = Store(out_dir)
    conversions, timings = expand(spec)
    result = SweepResult(Path(out_dir))
    done_conv = {c.key: r for c in conversions if (r := store.finished_conversion(c.key, retry_failed))}
    failed_conv = {k for k, r in done_conv.items() if r["status"] == "error"}  # the same inputs fail the same way
    done_time = {t.key for t in timings if t.conversion.key not in failed_conv and store.finished_timing(t.key)}
    pending_conv = [c for c in conversions if c.key not in done_conv]
    pending_time = [t for t in timings if t.key not in done_time and t.conversion.key not in failed_conv]
    result.conversions_skipped, result.timings_skipped = len(done_conv), len(done_time)
    bar = SweepProgress(
        len(timings),
        len(done_time),
        sum(t.conversion.key in failed_conv for t in timings),
        console=console,
        enabled=progress,
    )
    try:
        if pending_time or pending_conv:
            _run(spec, store, pending_conv, pending_time, address, num_cpus, bar, result)
    finally:
        bar.close()
    result.rows, result.table, result.report = write_results(spec, store, conversions, timings)
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _run(
    spec: SweepSpec,
    store: Store,
    pending_conv: list[Conversion],
    pending_time: list[Timing],
    address: str | None,
    num_cpus: int | None,
    bar,
    result: SweepResult,
) -> None:
    from edge.sweep import tasks

    devices = sorted({t.device for t in pending_time})
    with connect(address, spec.devices, num_cpus) as ray:
        nodes = device_nodes(ray, devices)
        convert = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(tasks.convert)
        time_artifact = ray.remote(max_retries=MAX_RETRIES)(tasks.time_artifact)
        tracker = ray.remote(num_cpus=0)(tasks.Tracker).remote()
        payloads = Payloads(ray)
        kill_marker = os.environ.get(KILL_HOOK_ENV)
        inflight: dict = {}
        waiting = {}  # conversion key -> its timings still to run
        for t in pending_time:
            waiting.setdefault(t.conversion.key, []).append(t)

        def submit_timings(conv: Conversion, record: dict) -> None:
            files = ray.put(store.artifact_files(conv.key))
            for t in waiting.pop(conv.key, []):
                reason = tasks.runs_on(t.device, _runner(spec, t.device), record["summary"]["format"])
                if reason:
                    finish_timing(t, {"status": "skipped", "error": reason, "started": None, "ended": None})
                    continue
                job = {
                    "key": t.key,
                    "device": t.device,
                    "artifact": record["artifact"],
                    "runs": spec.runs,
                    "warmup": spec.warmup,
                    "threads": spec.threads,
                    "runner": _runner(spec, t.device),
                }
                ref = time_artifact.options(
                    num_cpus=timing_cpus(t.device, spec.threads, nodes[t.device]),
                    resources={device_resource(t.device): 1},
                ).remote(job, files, tracker)
                inflight[ref] = t

        def finish_timing(t: Timing, out: dict) -> None:
            out = {"conversion": t.conversion.key, "device": t.device, **out}
            store.save_timing(t.key, out)
            if out["status"] == "error":
                result.timings_failed += 1
            else:
                result.timings_run += out["status"] == "ok"
            p50 = out["record"]["latency_ms"]["p50"] if out["status"] == "ok" else None
            bar.cell(t.title, out["status"], f"p50 {p50:.2f} ms" if p50 is not None else out.get("error", ""))

        converting = {c.key for c in pending_conv}
        for conv in {t.conversion.key: t.conversion for t in pending_time}.values():
            if conv.key not in converting:  # converted before: only its timings are new
                submit_timings(conv, store.finished_conversion(conv.key))
        for conv in pending_conv:
            job = conversion_job(spec, conv)
            ref = convert.remote(
                job,
                payloads.file(conv.model.weights),
                payloads.file(_calib(spec, conv)),
                payloads.file(spec.eval_data),
                tracker,
                kill_marker,
            )
            inflight[ref] = conv
        try:
            while inflight:
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
                bar.set_running(ray.get(tracker.count.remote()))
                for ref in ready:
                    cell = inflight.pop(ref)
                    out = _get(ray, ref)
                    tracker.finished.remote(cell.key)
                    if isinstance(cell, Timing):
                        finish_timing(cell, out)
                        continue
                    record = store.save_conversion(cell.key, {"cell": describe(cell), **out})
                    if record["status"] == "ok":
                        result.conversions_run += 1
                        bar.note(f"[dim]converted[/] {cell.title} in {record['ended'] - record['started']:.1f} s")
                        submit_timings(cell, record)
                    else:
                        result.conversions_failed += 1
                        for t in waiting.pop(cell.key, []):
                            bar.cell(t.title, "error", record["error"])
        except KeyboardInterrupt:
            for ref in inflight:
                ray.cancel(ref, force=True)
            store.remove_partials()
            raise


def _get(ray, ref) -> dict:
    """A task's result; a worker that died more often than the retries allow is the cell's error."""
    from ray.exceptions import RayError

    try:
        return ray.get(ref)
    except RayError as e:
        text = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        return {
            "status": "error",
            "error": f"the worker died {MAX_RETRIES + 1} times ({type(e).__name__}: {text})",
            "started": None,
            "ended": time.time(),
            "retryable": True,
        }


class Payloads:
    """Input files (weights, calibration and eval data) put into Ray's object store once each."""

    def __init__(self, ray):
        self.ray, self.refs = ray, {}

    def file(self, path: str | None):
        if path is None:
            return None
        if path not in self.refs:
            self.refs[path] = self.ray.put(pack(Path(path)))
        return self.refs[path]


def _calib(spec: SweepSpec, conv: Conversion) -> str | None:
    q = spec.quantization
    return q.calib if conv.quant == "int8" and q is not None else None


def _runner(spec: SweepSpec, device: str) -> str | None:
    kind = device.partition(":")[0]
    return getattr(spec.runners, kind, None) if spec.runners is not None and kind in ("adb", "ios") else None


def conversion_job(spec: SweepSpec, conv: Conversion) -> dict:
    """What a worker needs to convert one cell, as plain data (files travel separately)."""
    from edge.loading import read_labels

    quant = {"scheme": conv.quant}
    calib = _calib(spec, conv)
    if conv.quant == "int8" and spec.quantization is not None:
        quant.update({k: v for k, v in spec.quantization.to_kwargs().items() if k not in ("calib", "eval_data")})
    prune = None
    if conv.prune:
        options = spec.pruning.__dict__ if spec.pruning else {}
        prune = {"ratio": conv.prune, **options}
    model = conv.model
    return {
        "key": conv.key,
        "model": model.name or model.factory,
        "num_classes": model.num_classes,
        "input_size": conv.input_size,
        "target": conv.target,
        "quant": quant,
        "prune": prune,
        "labels": read_labels(model.labels) if model.labels else None,
        "cwd": os.getcwd(),
        "calib_name": Path(calib).name if calib else None,
        "calib_is_file": bool(calib and Path(calib).is_file()),
    }


def describe(conv: Conversion) -> dict:
    return {
        "model": conv.label,
        "input_size": conv.input_size,
        "target": conv.target,
        "quant": conv.quant,
        "prune": conv.prune,
    }


def check_out_dir(out: str | Path) -> None:
    if Path(out).exists() and not Path(out).is_dir():
        raise EdgeError(f"-o {str(out)!r} is a file; give a folder for the sweep's results.")
