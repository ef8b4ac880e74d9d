"""The sweep's HTML report: per device a latency-vs-accuracy (or vs size) Pareto plot and a model x target
heatmap of the best p50, then the whole table. One self-contained file (plots as base64 PNG); the
profile records also go through `edge report` (runtimes/report.py) into latency.html beside it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from pathlib import Path

from runtimes.record import now_iso

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0;
font-size:90%}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}tr.error td{background:#fdecec}tr.skipped td{color:#888}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}.note{color:#666;font-size:90%}"""


def point_label(row: dict) -> str:
    size = f" {row['input_size']}px" if row["input_size"] else ""
    prune = f" p{round(row['prune'] * 100)}" if row["prune"] else ""
    return f"{row['model']}{size} {row['target']} {row['quant']}{prune}"


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both latency (lower) and the second axis."""
    front = []
    for i, (x, y) in enumerate(points):
        better = (lambda b, a: b >= a) if higher_is_better else (lambda b, a: b <= a)
        strictly = (lambda b, a: b > a) if higher_is_better else (lambda b, a: b < a)
        dominated = any(
            px <= x and better(py, y) and (px < x or strictly(py, y)) for j, (px, py) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no display

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def pareto_plot(rows: list[dict], device: str) -> tuple[str, str]:
    """(png, what the y axis is): accuracy when the sweep measured it, else artifact size."""
    pts = [r for r in rows if r["device"] == device and r["status"] == "ok"]
    by_accuracy = any(r["top1"] is not None for r in pts)
    if by_accuracy:
        pts = [r for r in pts if r["top1"] is not None]
    ykey, ylabel = ("top1", "top-1 %") if by_accuracy else ("size_mb", "artifact size MB")
    xy = [(r["p50_ms"], r[ykey]) for r in pts]
    front = pareto_front(xy, higher_is_better=by_accuracy)
    fig = _figure(8, 4.8)
    ax = fig.add_subplot()
    targets = sorted({r["target"] for r in pts})
    markers = {"fp32": "o", "fp16": "s", "int8": "D", "w8": "^", "pal4": "v", "pal6": "<"}
    for i, target in enumerate(targets):
        for quant in sorted({r["quant"] for r in pts}):
            sel = [r for r in pts if r["target"] == target and r["quant"] == quant]
            if sel:
                ax.scatter(
                    [r["p50_ms"] for r in sel],
                    [r[ykey] for r in sel],
                    color=f"C{i % 10}",
                    marker=markers.get(quant, "o"),
                    s=55,
                    label=f"{target} {quant}",
                    alpha=0.85,
                )
    if front:
        ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "k--", lw=1, label="Pareto front")
        for i in front:
            ax.annotate(point_label(pts[i]), xy[i], fontsize=7, xytext=(5, 4), textcoords="offset points")
    ax.set_xlabel("p50 latency ms")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{device}: latency vs {'accuracy' if by_accuracy else 'size'}")
    ax.grid(alpha=0.3)
    if pts:
        ax.legend(fontsize=7)
    return _png(fig), ylabel


def heatmap(rows: list[dict], device: str) -> str:
    """Best (lowest) p50 of each model x target over its quants, prunes and sizes; blank where none ran."""
    sel = [r for r in rows if r["device"] == device]
    models = list(dict.fromkeys(r["model"] for r in sel))
    targets = list(dict.fromkeys(r["target"] for r in sel))
    grid, notes = [], []
    for m in models:
        line, note_line = [], []
        for t in targets:
            ok = [r for r in sel if r["model"] == m and r["target"] == t and r["status"] == "ok"]
            best = min(ok, key=lambda r: r["p50_ms"]) if ok else None
            line.append(best["p50_ms"] if best else math.nan)
            failed = sum(r["status"] == "error" for r in sel if r["model"] == m and r["target"] == t)
            note_line.append(
                f"{best['p50_ms']:.2f} ms\n{best['quant']}"
                + (f" p{round(best['prune'] * 100)}" if best["prune"] else "")
                if best
                else ("error" if failed else "not run")
            )
        grid.append(line)
        notes.append(note_line)
    fig = _figure(max(4.0, 1.8 * len(targets) + 2.5), max(2.5, 0.8 * len(models) + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap="viridis_r", aspect="auto")
    for i in range(len(models)):
        for j in range(len(targets)):
            shade = image.norm(grid[i][j]) if not math.isnan(grid[i][j]) else 0.0  # 0 = fastest (light colour)
            ax.text(j, i, notes[i][j], ha="center", va="center", fontsize=8, color="white" if shade > 0.5 else "black")
    ax.set_xticks(range(len(targets)), targets)
    ax.set_yticks(range(len(models)), models)
    ax.set_title(f"{device}: best p50 ms per model x target")
    fig.colorbar(image, ax=ax, label="p50 ms")
    return _png(fig)


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1.0 else f"{value:.2f}"
    return str(value)


_TABLE = [
    ("model", "model"),
    ("input_size", "px"),
    ("target", "target"),
    ("quant", "quant"),
    ("prune", "prune"),
    ("device", "device"),
    ("status", "status"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("size_mb", "size MB"),
    ("parity", "parity"),
    ("cosine", "cosine"),
    ("top1", "top-1 %"),
    ("eager_top1", "eager top-1 %"),
    ("error", "error / note"),
]
_LEFT = ("model", "target", "quant", "device", "status", "parity", "error")


def table_html(rows: list[dict]) -> str:
    head = "".join(f"<th class={'l' if k in _LEFT else ''}>{html.escape(t)}</th>" for k, t in _TABLE)
    body = []
    for r in rows:
        values = {**r, "error": r["error"] or r["note"], "prune": f"{round(r['prune'] * 100)}%" if r["prune"] else "0"}
        cells = "".join(
            f"<td class={'l' if k in _LEFT else ''}>{html.escape(_cell(values[k]))}</td>" for k, _ in _TABLE
        )
        body.append(f"<tr class={r['status']}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render(rows: list[dict], has_latency_page: bool) -> str:
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "error", "skipped", "pending")}
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>edge sweep</title><style>{_CSS}</style>"
        f"</head><body><h1>edge sweep</h1><p class=note>{len(rows)} cells: {counts['ok']} measured, "
        f"{counts['error']} failed, {counts['skipped']} skipped (device cannot run the format), "
        f"{counts['pending']} not done. Generated {html.escape(now_iso())}. p50/p90 per inference after warm-up."
        + (
            " Per-record details (memory, load time, delegate partitions): <a href='latency.html'>latency.html</a>."
            if has_latency_page
            else ""
        )
        + "</p>"
    ]
    for device in dict.fromkeys(r["device"] for r in rows):
        if not any(r["device"] == device and r["status"] == "ok" for r in rows):  # nothing to plot
            reasons = sorted({r["error"] or r["note"] or r["status"] for r in rows if r["device"] == device})
            parts.append(
                f"<h2>{html.escape(device)}</h2><p class=note>no cell was measured on this device: "
                f"{html.escape('; '.join(reasons)[:600])}</p>"
            )
            continue
        png, yaxis = pareto_plot(rows, device)
        parts.append(
            f"<h2>{html.escape(device)}</h2><h3>Latency vs {html.escape(yaxis)}</h3>"
            f"<img alt='pareto {html.escape(device)}' src='data:image/png;base64,{png}'>"
            f"<h3>Model x target</h3><img alt='heatmap {html.escape(device)}' "
            f"src='data:image/png;base64,{heatmap(rows, device)}'>"
        )
    parts.append(f"<h2>All cells</h2>{table_html(rows)}</body></html>")
    return "".join(parts)


def write_report(rows: list[dict], records: list[dict], root: Path) -> Path:
    if records:
        from runtimes.report import write_html

        write_html(records, root / "latency.html")
    out = root / "report.html"
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(render(rows, bool(records)), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
