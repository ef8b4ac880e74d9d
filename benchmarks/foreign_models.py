"""The foreign-model coverage table: every corpus model (edge.corpus, transformers with random weights)
x target x quant, exported through the real pipeline and verified.

    PYTHONPATH=. python benchmarks/foreign_models.py [--models vit swin ...] [--targets xnnpack,onnx]
        [--quants fp32,int8] [--markdown] [--json out.json] [--latency]

Per cell: exported (or the EdgeError's first words), parity (cosine, or "spec validated" for Core ML,
which cannot run on Linux), non-delegated nodes (xnnpack), max tensor rank (litert, coreml), export
seconds. Every failure must be an EdgeError; anything else is printed as RAW (a defect).
--latency adds our xnnpack fp32 against LiteRT and ORT converting the plain model (edge.bench, one
process, same weights, 2 threads): a timing run, for a quiet machine only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.errors import EdgeError  # noqa: E402
from edge.corpus import corpus_names  # noqa: E402

TARGETS = ("xnnpack", "litert", "coreml", "onnx")


def cell(model: str, target: str, quant: str, folder: Path) -> dict:
    from edge.export import export

    start = time.perf_counter()
    try:
        result = export(f"hf:{model}", target=target, quant=quant, out_dir=folder)
    except EdgeError as e:
        return {
            "model": model,
            "target": target,
            "quant": quant,
            "exported": False,
            "error": " ".join(str(e).split()),
            "seconds": round(time.perf_counter() - start, 1),
        }
    except Exception as e:  # a defect: the pipeline must only raise EdgeError
        return {
            "model": model,
            "target": target,
            "quant": quant,
            "exported": False,
            "raw": True,
            "error": f"RAW {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}",
            "seconds": round(time.perf_counter() - start, 1),
        }
    m = result.manifest
    parity, coverage = m["parity"], m["coverage"]
    return {
        "model": model,
        "target": target,
        "quant": quant,
        "exported": True,
        "parity": parity["status"],
        "cosine": parity.get("cosine"),
        "non_delegated": coverage.get("non_delegated_nodes"),
        "non_delegated_ops": [o["op"] for o in coverage.get("non_delegated_ops", [])],
        "max_rank": coverage.get("max_tensor_rank"),
        "seconds": result.seconds,
        "float_back": _kept_float(m["quant"].get("plan", {}).get("float_back")),
    }


def _kept_float(record: dict | None) -> list[str] | None:
    """What an int8 export's float-back put back in float (None: the default plan passed)."""
    return None if not record else record["keep_float_ops"] + record["keep_float_modules"]


def latency(model: str) -> dict:
    """Our xnnpack fp32 against LiteRT and ORT on the plain model (edge.bench), one process."""
    from edge.bench import bench

    result = bench(f"hf:{model}", threads=2, runs=30, warmup=5, progress=lambda *a: None)
    rows = {r["name"]: r for r in result["rows"]}
    ours = rows["edge xnnpack fp32"]["median_ms"]
    return {
        "model": model,
        "xnnpack_ms": ours,
        "litert_ms": rows["litert fp32"]["median_ms"],
        "ort_ms": rows["onnxruntime fp32"]["median_ms"],
        "ratio_to_best_peer": rows["edge xnnpack fp32"]["ratio_to_best_peer"],
    }


def describe(c: dict) -> str:
    if not c["exported"]:
        return ("RAW " if c.get("raw") else "fails: ") + c["error"][:90]
    if c["parity"] == "not_run":
        parity = "spec validated"
    else:
        parity = f"{c['parity']} {c['cosine']:.5f}"
    extra = []
    if c["non_delegated"] is not None:
        extra.append(
            f"{c['non_delegated']} outside"
            + (f" ({', '.join(c['non_delegated_ops'][:3])})" if c["non_delegated"] else "")
        )
    if c["max_rank"] is not None:
        extra.append(f"rank {c['max_rank']}")
    if c.get("float_back"):
        extra.append(f"float-back: {', '.join(c['float_back'])[:60]}")
    return f"{parity}; {'; '.join(extra) + '; ' if extra else ''}{c['seconds']:.0f} s"


def table(cells: list[dict], targets, quants, markdown: bool) -> str:
    columns = [f"{t} {q}" for q in quants for t in targets]
    by = {(c["model"], c["target"], c["quant"]): c for c in cells}
    models = list(dict.fromkeys(c["model"] for c in cells))
    lines = []
    if markdown:
        lines.append("| model | " + " | ".join(columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
    for model in models:
        row = [describe(by[(model, t, q)]) if (model, t, q) in by else "-" for q in quants for t in targets]
        lines.append(
            ("| " + model + " | " + " | ".join(row) + " |")
            if markdown
            else f"{model}: " + " || ".join(f"{col}: {r}" for col, r in zip(columns, row))
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=corpus_names())
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--quants", default="fp32,int8")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", help="also write every cell to this file")
    parser.add_argument(
        "--latency",
        action="store_true",
        help="time our xnnpack fp32 against LiteRT and ORT per model (quiet machine only)",
    )
    args = parser.parse_args(argv)
    targets, quants = args.targets.split(","), args.quants.split(",")
    cells = []
    with tempfile.TemporaryDirectory(prefix="edge-foreign-") as tmp:
        for model in args.models:
            for quant in quants:
                for target in targets:
                    c = cell(model, target, quant, Path(tmp))
                    cells.append(c)
                    print(f"{model} {target} {quant}: {describe(c)}", file=sys.stderr, flush=True)
    print(table(cells, targets, quants, args.markdown))
    raw = [c for c in cells if c.get("raw")]
    timings = [latency(m) for m in args.models] if args.latency else []
    for t in timings:
        print(
            f"{t['model']}: xnnpack {t['xnnpack_ms']} ms, LiteRT {t['litert_ms']} ms, ORT {t['ort_ms']} ms, "
            f"ours / best peer {t['ratio_to_best_peer']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"cells": cells, "latency": timings}, indent=1))
    return 1 if raw else 0


if __name__ == "__main__":
    sys.exit(main())
