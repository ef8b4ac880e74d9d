"""The sweep's table: one row per cell (conversion x device), as CSV and JSON Lines, schema-checked.

Rows are rebuilt from the stored records of the spec's current cells, so a rerun with a changed
spec reports exactly the grid it asks for (records of other grids stay in the folder, unused).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from edge.sweep.cells import Conversion, Timing
from edge.sweep.spec import SweepSpec
from edge.sweep.store import Store

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "sweep_row.schema.json"


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


COLUMNS = load_schema()["required"]


def validate_rows(rows: list[dict]) -> None:
    """jsonschema.ValidationError on the first row that does not match the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    for row in rows:
        validator.validate(row)


def build_row(spec: SweepSpec, store: Store, t: Timing) -> dict:
    c: Conversion = t.conversion
    conv = store.load_conversion(c.key) or {}
    conv = conv if conv.get("key") == c.key else {}
    timing = store.load_timing(t.key) or {}
    timing = timing if timing.get("key") == t.key else {}
    summary = conv.get("summary") or {}
    record = timing.get("record") or {}
    latency = record.get("latency_ms") or {}
    if conv.get("status") == "error":
        status, error = "error", f"conversion: {conv['error']}"
    elif timing.get("status") == "error":
        status, error = "error", f"timing: {timing['error']}"
    elif timing.get("status") in ("ok", "skipped"):
        status, error = timing["status"], None
    else:
        status, error = "pending", None
    size = summary.get("size_bytes")
    return {
        "model": c.label,
        "input_size": c.input_size,
        "target": c.target,
        "quant": c.quant,
        "prune": c.prune,
        "device": t.device,
        "status": status,
        "p50_ms": latency.get("p50"),
        "p90_ms": latency.get("p90"),
        "size_mb": round(size / 1e6, 4) if size else None,
        "parity": summary.get("parity_status"),
        "cosine": summary.get("cosine"),
        "top1": summary.get("top1"),
        "eager_top1": summary.get("eager_top1"),
        "error": error,
        "note": timing.get("error") if timing.get("status") == "skipped" else None,
        "params": summary.get("params"),
        "gmacs": summary.get("gmacs"),
        "artifact": f"artifacts/{c.key}/{conv['artifact']}" if conv.get("status") == "ok" else None,
        "conversion_key": c.key,
        "timing_key": t.key,
        "convert_node": conv.get("node"),
        "convert_started": conv.get("started"),
        "convert_ended": conv.get("ended"),
        "timing_node": timing.get("node"),
        "timing_started": timing.get("started"),
        "timing_ended": timing.get("ended"),
        "threads": spec.threads,
        "runs": spec.runs,
    }


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return buf.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_results(spec: SweepSpec, store: Store, conversions: list[Conversion], timings: list[Timing]):
    """results.csv, results.jsonl, report.html (and latency.html, edge report's view of the records)."""
    from edge.sweep.report import write_report

    rows = [build_row(spec, store, t) for t in timings]
    validate_rows(rows)
    root = store.root
    _write_atomic(root / "results.csv", to_csv(rows))
    _write_atomic(root / "results.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    records = [store.load_timing(r["timing_key"])["record"] for r in rows if r["status"] == "ok"]
    report = write_report(rows, records, root)
    return rows, root / "results.csv", report
