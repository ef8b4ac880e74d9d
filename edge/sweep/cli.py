"""`edge sweep SPEC.yaml -o DIR [--address ADDR]`: registered into edge/cli.py with `register(sub)`."""

from __future__ import annotations

import argparse
import json
import sys

_EPILOG = """examples:
  edge sweep examples/sweep_digits.yaml -o out/sweep                      # local Ray, this machine's cores
  edge sweep sweep.yaml -o out/sweep --address HEAD_IP:6379                # join a running Ray cluster
  RAY_ADDRESS=HEAD_IP:6379 edge sweep sweep.yaml -o out/sweep

A rerun with the same -o skips every cell whose artifact, manifest and record are there and match
its key; changed settings rerun only the cells they affect. Results: DIR/results.csv,
DIR/results.jsonl (schema edge/schemas/sweep_row.schema.json), DIR/report.html."""


def cmd_sweep(args) -> int:
    from edge.sweep.runner import check_out_dir, run_sweep

    check_out_dir(args.out_dir)
    try:
        result = run_sweep(
            args.spec,
            args.out_dir,
            address=args.address,
            num_cpus=args.num_cpus,
            progress=not args.json,
            retry_failed=args.retry_failed,
        )
    except KeyboardInterrupt:
        print(
            f"edge: interrupted; finished cells are kept in {args.out_dir} and no partial file is left. "
            "Run the same command again to finish the sweep.",
            file=sys.stderr,
        )
        return 130
    counts = result.counts()
    if args.json:
        print(
            json.dumps(
                {
                    **counts,
                    "table": str(result.table),
                    "report": str(result.report),
                    "seconds": result.seconds,
                    "rows": result.rows,
                },
                indent=2,
            )
        )
        return 0
    ok = sum(r["status"] == "ok" for r in result.rows)
    failed = [r for r in result.rows if r["status"] == "error"]
    print(
        f"{len(result.rows)} cells: {ok} measured, {len(failed)} failed; "
        f"conversions {counts['conversions_run']} run, {counts['conversions_skipped']} reused, "
        f"{counts['conversions_failed']} failed; timings {counts['timings_run']} run, "
        f"{counts['timings_skipped']} reused, {counts['timings_failed']} failed ({result.seconds:.1f} s)"
    )
    for r in failed:
        print(f"  error: {r['model']} {r['target']} {r['quant']} on {r['device']}: {r['error']}")
    print(f"table: {result.table} (+ results.jsonl); report: {result.report}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="a grid of models x sizes x targets x quants x prune ratios x devices, on Ray, resumable",
        description="Convert and time every cell of SPEC.yaml: conversions run in parallel as Ray tasks, timings "
        "one at a time per device on the node the device is attached to. Writes one row per cell "
        "(CSV + JSON Lines) and an HTML report with a Pareto plot per device and a model x target "
        "heatmap.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", metavar="SPEC.yaml", help="the sweep spec (README: Sweeps)")
    p.add_argument("-o", "--out-dir", dest="out_dir", required=True, help="the sweep's folder (reused to resume)")
    p.add_argument("--address", help="join this Ray cluster (default: RAY_ADDRESS, else a local Ray started here)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all of this machine's)")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="convert again the cells whose conversion failed "
        "(by default a rerun keeps their error: the same inputs fail the same way)",
    )
    p.add_argument("--json", action="store_true", help="print counts and rows as JSON; no progress display")
    p.set_defaults(func=cmd_sweep)
