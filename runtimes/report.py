"""Compare profile records: a table (artifact x device: p50, p90, size, parity) and two plots.

`write_html` makes one self-contained file (CSS inline, plots as base64 PNG); `markdown_table` is
the same table for CI logs. Every record is schema-checked on the way in.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

from runtimes.base import ProfileError
from runtimes.record import load_record, now_iso

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}.note{color:#666;font-size:90%}details{margin:0.5em 0}"""


def load_records(paths: list[str | Path]) -> list[dict]:
    if not paths:
        raise ProfileError("give at least one record (written by `edge profile ... -o record.json`).")
    return [load_record(p) for p in paths]


def artifact_label(record: dict) -> str:
    m = record["artifact"].get("manifest")
    if m:
        return f"{m['model']} {m['target']}/{record['artifact']['format']} {m['quant']}"
    return record["artifact"]["file"]


def device_label(record: dict) -> str:
    d = record["device"]
    if record.get("emulated"):  # never to be read as a phone's time
        return f"{d['name']} EMULATED (qemu; not phone time)"
    if d["kind"] == "host":
        return f"host {d['name']} ({d.get('cpu') or '?'}, {d.get('cores') or '?'} cores)"
    return f"{d['kind']} {d.get('model') or d['name']}"


def parity_text(record: dict) -> str:
    m = record["artifact"].get("manifest")
    if not m:
        return "unknown (no manifest)"
    p = m["parity"]
    return f"{p['status']} (cos {p['cosine']:.7f})" if p.get("cosine") is not None else p["status"]


def rows(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        lat, mem = r["latency_ms"], r["memory"]
        out.append(
            {
                "artifact": artifact_label(r),
                "backend": r["runtime"]["name"],
                "device": device_label(r),
                "threads": r["runtime"]["threads"],
                "p10": lat["p10"],
                "p50": lat["p50"],
                "p90": lat["p90"],
                "size_mb": r["artifact"]["size_bytes"] / 1e6,
                "parity": parity_text(r),
                "runs": r["runs"],
                "load_ms": r["load_ms"],
                "partitions": r["runtime"]["delegates"].get("partitions"),
                "mem_mb": mem["peak_delta_bytes"] / 1e6 if mem["peak_delta_bytes"] is not None else None,
            }
        )
    out.sort(key=lambda x: (x["artifact"], x["device"]))
    return out


_COLUMNS = [
    ("artifact", "artifact"),
    ("backend", "backend"),
    ("device", "device"),
    ("threads", "threads"),
    ("p50", "p50 ms"),
    ("p90", "p90 ms"),
    ("size_mb", "size MB"),
    ("parity", "parity"),
    ("partitions", "delegate partitions"),
    ("load_ms", "load ms"),
    ("mem_mb", "peak mem +MB"),
    ("runs", "runs"),
]


def _cell(key: str, value) -> str:
    if value is None:
        return "–"
    if key in ("p50", "p90"):
        return f"{value:.2f}"
    if key in ("size_mb", "load_ms", "mem_mb"):
        return f"{value:.1f}"
    return str(value)


def markdown_table(records: list[dict]) -> str:
    lines = [
        "| " + " | ".join(title for _, title in _COLUMNS) + " |",
        "|"
        + "|".join("---" if key in ("artifact", "backend", "device", "parity") else "---:" for key, _ in _COLUMNS)
        + "|",
    ]
    for row in rows(records):
        lines.append("| " + " | ".join(_cell(k, row[k]).replace("|", "\\|") for k, _ in _COLUMNS) + " |")
    return "\n".join(lines)


def _figure(width: float = 9, height: float = 4.5):
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, no display needed
    except ImportError:
        raise ProfileError("the report's plots need matplotlib: pip install 'edge[report]'.") from None
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def latency_bars(records: list[dict]) -> str:
    """p50 per artifact (grouped), one bar per device, whiskers from p10 to p90."""
    table = rows(records)
    artifacts = list(dict.fromkeys(r["artifact"] for r in table))
    devices = list(dict.fromkeys(r["device"] for r in table))
    fig = _figure(max(6.0, 1.6 * len(artifacts) + 3), 4.8)
    ax = fig.add_subplot()
    width = 0.8 / max(sum(1 for r in table if r["artifact"] == a) for a in artifacts)
    colors = {dev: f"C{i % 10}" for i, dev in enumerate(devices)}
    for x, art in enumerate(artifacts):
        group = [r for r in table if r["artifact"] == art]  # centred on the tick, however many devices ran it
        for i, r in enumerate(group):
            ax.bar(
                x + (i - (len(group) - 1) / 2) * width,
                r["p50"],
                width * 0.95,
                color=colors[r["device"]],
                yerr=[[r["p50"] - r["p10"]], [r["p90"] - r["p50"]]],
                capsize=4,
            )
    for dev, color in colors.items():
        ax.bar([0], [0], 0, color=color, label=dev)  # one legend entry per device
    ax.set_xticks(range(len(artifacts)), artifacts, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("latency ms (bar p50, whiskers p10-p90)")
    ax.set_title("Latency per artifact and backend")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def latency_vs_size(records: list[dict]) -> str:
    table = rows(records)
    fig = _figure(8, 4.8)
    ax = fig.add_subplot()
    markers = "osD^v<>"
    for i, dev in enumerate(dict.fromkeys(r["device"] for r in table)):
        pts = [r for r in table if r["device"] == dev]
        ax.scatter(
            [r["size_mb"] for r in pts], [r["p50"] for r in pts], marker=markers[i % len(markers)], s=50, label=dev
        )
        for r in pts:
            ax.annotate(
                f"{r['backend']}", (r["size_mb"], r["p50"]), fontsize=7, xytext=(4, 4), textcoords="offset points"
            )
    ax.set_xlabel("artifact size MB")
    ax.set_ylabel("p50 latency ms")
    ax.set_title("Latency vs artifact size")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _html_table(records: list[dict]) -> str:
    head = "".join(
        f'<th class="{"l" if k in ("artifact", "backend", "device", "parity") else ""}">{html.escape(t)}</th>'
        for k, t in _COLUMNS
    )
    body = []
    for row in rows(records):
        cells = "".join(
            f'<td class="{"l" if k in ("artifact", "backend", "device", "parity") else ""}">'
            f"{html.escape(_cell(k, row[k]))}</td>"
            for k, _ in _COLUMNS
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _ops_section(record: dict) -> str:
    ops = record["ops"]
    title = html.escape(f"{artifact_label(record)} on {device_label(record)}")
    if not ops.get("available"):
        return (
            f"<details><summary>{title}: no per-op profile</summary><p class=note>"
            f"{html.escape(ops.get('reason', ''))}</p></details>"
        )
    rows_html = "".join(
        f"<tr><td class=l>{html.escape(o['name'])}</td><td class=l>{o['kind']}</td><td>{o['count']}</td>"
        f"<td>{o['ms']:.3f}</td><td>{_cell('p', o.get('percent'))}</td></tr>"
        for o in ops["top"]
    )
    return (
        f"<details><summary>{title}: top ops ({html.escape(ops['source'])}, {ops.get('runs', '?')} runs)</summary>"
        f"<table><tr><th class=l>op</th><th class=l>kind</th><th>per inference</th><th>ms</th><th>%</th></tr>"
        f"{rows_html}</table></details>"
    )


def render_html(records: list[dict]) -> str:
    notes = [f"{artifact_label(r)} on {device_label(r)}: {n}" for r in records for n in r["notes"]]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>edge latency report</title>"
        f"<style>{_CSS}</style></head><body><h1>edge latency report</h1>"
        f"<p class=note>{len(records)} records, generated {html.escape(now_iso())}. Latency is per inference "
        f"after warm-up; p50/p90 over the timed runs.</p>{_html_table(records)}"
        f"<h2>Latency per backend</h2><img alt='latency per backend' src='data:image/png;base64,{latency_bars(records)}'>"
        f"<h2>Latency vs size</h2><img alt='latency vs size' src='data:image/png;base64,{latency_vs_size(records)}'>"
        f"<h2>Per-op profiles</h2>{''.join(_ops_section(r) for r in records)}"
        f"<h2>Notes</h2><ul>{''.join(f'<li>{html.escape(n)}</li>' for n in notes) or '<li>none</li>'}</ul>"
        f"</body></html>"
    )


def write_html(records: list[dict], out: str | Path) -> Path:
    out = Path(out)
    text = render_html(records)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        raise ProfileError(f"cannot write the report to {str(out)!r} ({e.strerror or e}); choose another -o.") from None
    return out
