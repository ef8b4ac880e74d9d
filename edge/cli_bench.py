"""`edge bench`: the candidates timed side by side in one process, printed as a table (or JSON)."""

from __future__ import annotations

import json
import sys


def cmd_bench(args) -> int:
    from rich.console import Console

    from common.quiet import stderr_console
    from edge.bench import bench
    from edge.cli_prune import prune_request

    console = stderr_console()
    result = bench(
        args.model,
        threads=args.threads,
        runs=args.runs,
        warmup=args.warmup,
        input_size=args.input_size,
        weights=args.weights,
        quant=args.quant,
        prune=prune_request(args, None),
        progress=(lambda msg: None) if args.json else (lambda msg: console.print(f"[dim]{msg}[/]")),
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from rich.table import Table

    table = Table(
        title=f"{result['model']}: {args.threads} threads, median of {args.runs} runs (one process, interleaved)"
    )
    for col in ("candidate", "median ms", "p90 ms", "x best peer (LiteRT, ORT)", "cosine to eager", "int8 speed-up"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    for row in result["rows"]:
        speedup = f"{row['speedup_vs_fp32']:.2f}x" if row["speedup_vs_fp32"] else ""
        table.add_row(
            row["name"],
            f"{row['median_ms']:.2f}",
            f"{row['p90_ms']:.2f}",
            f"{row['ratio_to_best_peer']:.2f}",
            f"{row['cosine_to_eager']:.5f}",
            speedup,
        )
    Console(width=160 if not sys.stdout.isatty() else None).print(table)
    for name, why in result.get("peer_failures", {}).items():
        print(f"{name}: the peer's own flow failed on this model ({why})")
    if "pruned_vs_unpruned" in result:
        from edge.cli_prune import summary

        print(
            f"pruned / unpruned xnnpack latency: {result['pruned_vs_unpruned']:.2f}x (median, same run); "
            + summary(result["pruning"])
        )
    return 0
