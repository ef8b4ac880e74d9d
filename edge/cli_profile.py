"""`edge profile` and `edge report`: measure artifacts on a device, compare the records.

Wire into edge/cli.py with `register(sub)` in build_parser. Mistakes (bad file, missing device,
crashed runner) surface as EdgeError: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from common.errors import EdgeError
from edge import limits

_PROFILE_EPILOG = """examples:
  edge profile out/mobilevit_xxs-xnnpack-fp32.pte --threads 2 -o rec-pte.json
  edge profile out/mobilevit_xxs-litert-fp32.tflite --runs 100 --json
  edge profile model.pte --device adb:R58M123 --runner build/native-android/edge_bench --taskset f0 --cooldown 30
  edge profile out/mobilevit_xxs-litert-fp32.tflite --device adb:R58M123 --runner app --threads 4
  edge profile model.pte --device ios:00008110-0011 --runner EdgeDemo.app

The artifact's .json manifest (written by `edge export`) gives the input shapes and parity.
--device adb runs the native runner (runtimes/native/README.md) over adb, or with --runner app the
android_demo app's benchmark mode (installed on the phone; android_demo/README.md), which also runs
.tflite, .onnx and .ort; --device ios drives the ios_demo app's benchmark mode with xcrun devicectl
(macOS with Xcode 16+)."""


@contextlib.contextmanager
def user_errors():
    """The runtimes layer's own error types become EdgeError, so the CLI prints one line and exits 2."""
    from runtimes import ArtifactError, ProfileError, RuntimeUnavailable

    try:
        yield
    except (ArtifactError, ProfileError, RuntimeUnavailable) as e:
        raise EdgeError(str(e)) from None
    except ModuleNotFoundError as e:
        from edge.targets import TARGETS

        extras = {module: t.extra for t in TARGETS.values() for module in t.run_modules} | {"matplotlib": "report"}
        extra = extras.get((e.name or "").split(".")[0])
        hint = f"pip install 'edge[{extra}]'" if extra else "install it"
        raise EdgeError(f"this needs the Python package {e.name!r}, which is not installed; {hint}.") from None


def _quiet(enabled: bool):
    from common.quiet import captured_output  # runtimes print C++ log lines straight to fd 2

    return captured_output(enabled)


def cmd_profile(args) -> int:
    from runtimes.adb import parse_device
    from runtimes.record import write_record

    with user_errors():
        kind, ident = parse_device(args.device)
        if kind == "host" and args.runner:
            raise EdgeError("--runner is for --device adb or ios; on the host the Python runtimes run the artifact.")
        if kind == "arm64" and (args.runner or args.taskset or args.cooldown):
            raise EdgeError(
                "--runner, --taskset and --cooldown do not apply to --device arm64 (the emulator runs "
                "edge's own aarch64 runners on this host)."
            )
        if kind == "ios" and (args.taskset or args.cooldown):
            raise EdgeError("--taskset and --cooldown apply to host and adb; iOS does not let a process pin cores.")
        if kind == "adb" and args.runner == "app" and args.taskset:
            raise EdgeError(
                "--taskset applies to the native runner; android_demo (--runner app) runs in a process "
                "adb cannot pin. Drop --taskset or use --runner PATH."
            )
        limits.threads_for("host" if kind == "host" else kind, args.threads)
        from edge.integrity import check_artifact

        check_artifact(
            args.artifact, args.allow_modified, warn=lambda msg: print(f"edge: warning: {msg}", file=sys.stderr)
        )
        etdump = Path(args.output).with_suffix(".etdp") if args.output else None
        with _quiet(not args.verbose):
            record = _measure(kind, ident, args, etdump)
        if args.output:
            write_record(record, args.output)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print_summary(record)
        if args.output:
            print(f"record written to {args.output}")
    return 0


def _measure(kind: str, ident: str | None, args, etdump: Path | None) -> dict:
    limits.threads_for("host" if kind == "host" else kind, args.threads)
    if kind == "host":
        from runtimes.profile import profile_host

        threads = args.threads if args.threads is not None else os.cpu_count()
        return profile_host(
            args.artifact,
            runs=args.runs,
            warmup=args.warmup,
            threads=threads,
            op_profile=not args.no_op_profile,
            taskset=args.taskset,
            cooldown=args.cooldown,
        )
    if kind == "arm64":  # the emulated ARM64 device (runtimes/arm64/profile.py)
        from runtimes.arm64 import parse_cpus
        from runtimes.arm64.profile import profile_arm64

        return profile_arm64(
            args.artifact,
            parse_cpus(args.device, many=False)[0],
            runs=args.runs,
            warmup=args.warmup,
            threads=args.threads,
            timeout=args.timeout or 1800,
        )
    if kind == "adb" and args.runner == "app":  # a file named app is ./app
        from runtimes.adb_app import profile_adb_app

        return profile_adb_app(
            args.artifact,
            serial=ident,
            runs=args.runs,
            warmup=args.warmup,
            threads=args.threads,
            cooldown=args.cooldown,
            timeout=args.timeout,
        )
    if kind == "adb":
        from runtimes.adb import profile_adb

        return profile_adb(
            args.artifact,
            args.runner,
            serial=ident,
            runs=args.runs,
            warmup=args.warmup,
            threads=args.threads,
            taskset=args.taskset,
            cooldown=args.cooldown,
            timeout=args.timeout,
            keep_etdump=etdump,
        )
    from runtimes.ios import profile_ios

    return profile_ios(
        args.artifact,
        udid=ident,
        app=args.runner,
        runs=args.runs,
        warmup=args.warmup,
        threads=args.threads,
        timeout=args.timeout,
    )


def print_summary(record: dict) -> None:
    from runtimes.report import device_label

    rt, lat, mem, ops = record["runtime"], record["latency_ms"], record["memory"], record["ops"]
    versions = ", ".join(f"{k} {v}" for k, v in rt["versions"].items())
    parts = rt["delegates"].get("partitions")
    print(f"{record['artifact']['file']} on {device_label(record)}")
    print(
        f"  runtime    {rt['name']} ({versions}), {rt['threads'] or 'default'} threads, "
        f"{'?' if parts is None else parts} delegate partitions"
    )
    print(
        f"  load       {record['load_ms']:.1f} ms; first run {record['first_run_ms'] or 0:.2f} ms; "
        f"{record['warmup']} warm-up + {record['runs']} timed runs"
    )
    print(
        f"  latency ms min {lat['min']:.2f}  p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  mean {lat['mean']:.2f}  "
        f"trimmed {lat['trimmed_mean']:.2f}  stdev {lat['stdev']:.2f}"
    )
    if mem["peak_rss_bytes"] is not None:
        delta = f"+{mem['peak_delta_bytes'] / 1e6:.1f} MB" if mem["peak_delta_bytes"] is not None else "?"
        print(
            f"  memory     peak RSS {mem['peak_rss_bytes'] / 1e6:.1f} MB ({delta} over load and runs, {mem['method']})"
        )
    if ops.get("available"):
        print(f"  top ops    ({ops['source']}, {ops.get('runs', '?')} profiled runs)")
        for op in ops["top"][:8]:
            pct = f"{op['percent']:5.1f}%" if op.get("percent") is not None else "     "
            print(f"    {pct} {op['ms']:8.3f} ms  x{op['count']:<3} {op['name']} [{op['kind']}]")
    else:
        print(f"  top ops    none: {ops.get('reason', '')}")
    for note in record["notes"]:
        print(f"  note       {note}")


def cmd_report(args) -> int:
    from runtimes.report import load_records, markdown_table, write_html

    with user_errors():
        records = load_records(args.records)
        out = args.output or (None if args.markdown else "report.html")
        if out:
            write_html(records, out)
    if args.markdown:
        print(markdown_table(records))
    if out:
        print(f"report written to {out}", file=sys.stderr if args.markdown else sys.stdout)
    return 0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds as a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def register(subparsers) -> None:
    """Add the `profile` and `report` subcommands to edge's argparse subparsers."""
    p = subparsers.add_parser(
        "profile",
        help="measure an artifact's latency, memory and per-op time on host, Android (adb) or iOS",
        description="Load ARTIFACT (load time measured apart), run warm-up then timed inferences, and report "
        "min/p50/p90/mean/trimmed mean/stdev, peak memory, device facts, runtime versions, threads, "
        "delegate partitions and the top ops by time. One record format for every device.",
        epilog=_PROFILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("artifact", help=".pte, .tflite, .onnx or .ort file (its .json manifest beside it gives the inputs)")
    p.add_argument(
        "--device",
        default="host",
        metavar="host|adb[:SERIAL]|ios[:UDID]|arm64[:CPU]",
        help="where to run (default: host); arm64:CPU is an emulated ARM64 CPU (qemu model, e.g. "
        "cortex-a53, cortex-a76, max): numerics and kernels of ARM, times that are not a phone's",
    )
    p.add_argument("--runs", type=limits.RUNS.parse, default=50, help="timed inferences (default: 50)")
    p.add_argument("--warmup", type=limits.WARMUP.parse, default=10, help="untimed inferences first (default: 10)")
    p.add_argument(
        "--threads",
        type=limits.any_threads,
        help="runtime threads (default: all cores on the host; the runner's default on a phone)",
    )
    p.add_argument("-o", "--output", metavar="RECORD.json", help="save the record here (an adb ETDump goes beside it)")
    p.add_argument("--json", action="store_true", help="print the whole record as JSON instead of a summary")
    p.add_argument(
        "--runner",
        metavar="PATH|app",
        help="adb: edge_bench built for the phone, or `app` for the "
        "installed android_demo app's benchmark mode; ios: the demo .app to install (optional)",
    )
    p.add_argument("--taskset", metavar="MASK", help="pin to these CPUs, a hex mask such as f0 (host and adb)")
    p.add_argument(
        "--cooldown",
        type=_positive_float,
        default=0.0,
        metavar="S",
        help="wait S seconds before timing, to let the device cool between models",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="give up on a device run after S seconds (default: 600); with --runner app, how long to "
        "wait for the app's record",
    )
    p.add_argument(
        "--allow-modified",
        action="store_true",
        help="profile a file whose sha256 differs from its "
        "manifest (refused by default: the manifest's parity and inputs were recorded for other bytes)",
    )
    p.add_argument("--no-op-profile", action="store_true", help="skip the per-op profile (host)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the runtimes' own log lines")
    p.set_defaults(func=cmd_profile)

    r = subparsers.add_parser(
        "report",
        help="compare profile records: HTML with plots, or a markdown table",
        description="Read RECORD files written by `edge profile -o`, and write a self-contained HTML report (a table "
        "artifact x device with p50, p90, size and parity; latency bars with p10-p90 whiskers; latency vs "
        "size; per-op tables) and/or print the table as markdown for CI logs.",
    )
    r.add_argument("records", nargs="+", metavar="RECORD", help="profile record JSON files")
    r.add_argument(
        "-o",
        "--output",
        metavar="REPORT.html",
        help="HTML file to write (default: report.html unless only --markdown is given)",
    )
    r.add_argument("--markdown", action="store_true", help="print the table as markdown on stdout")
    r.set_defaults(func=cmd_report)
