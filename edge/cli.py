"""The `edge` command line: parses, calls the Python API, prints. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys

from common.errors import EdgeError, suggest
from edge import limits
from edge.cli_bench import cmd_bench
from edge.cli_export import cmd_export, coverage_summary
from edge.cli_quant import add_quant_options

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line with a close-match suggestion and exit code 2."""

    def error(self, message: str):
        if "invalid choice:" in message and not message.startswith("argument -"):  # the command, not an option
            bad = message.split("invalid choice:", 1)[1].split("(")[0].strip().strip("'")
            choices = [a.dest for a in self._subparsers._group_actions[0]._choices_actions] if self._subparsers else []
            message = f"unknown command {bad!r}.{suggest(bad, choices)} Run 'edge --help' for the commands."
        print(f"edge: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def _version() -> str:
    from edge import __version__

    return __version__


def cmd_list(args) -> int:
    from edge.api import describe_models, describe_targets

    models = describe_models(args.family)
    targets = describe_targets()
    if args.json:
        print(json.dumps({"models": models, "targets": targets}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="models")
    for col in ("name", "family", "params", "GMACs", "GMACs w/o attn matmuls", "input"):
        table.add_column(col, justify="left" if col in ("name", "family") else "right")
    for m in models:
        table.add_row(
            m["name"],
            m["family"],
            f"{m['params']:,}",
            f"{m['gmacs']:.3f}",
            f"{m['gmacs_without_attention']:.3f}",
            f"{m['input_size']} px",
        )
    console = Console()
    console.print(table)
    ttable = Table(title="targets")
    for col in ("name", "artifact", "export", "run here", "why not"):
        ttable.add_column(col)
    for t in targets:
        yes = lambda ok: "[green]yes[/]" if ok else "[red]no[/]"  # noqa: E731
        ttable.add_row(t["name"], t["suffix"], yes(t["can_export"]), yes(t["can_run"]), t["reason"])
    console.print(ttable)
    return 0


def cmd_info(args) -> int:
    from edge.api import describe_model

    info = describe_model(args.model, num_classes=args.num_classes, input_size=args.input_size, weights=args.weights)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']}  ({info['family']})")
    print(f"  params        {info['params']:,}")
    print(f"  GMACs         {info['gmacs']:.3f} at {info['input_size']} px")
    print(f"  classes       {info['num_classes']}")
    print(
        f"  preprocessing resize {info['config']['interpolation']}, mean {info['config']['mean']}, "
        f"std {info['config']['std']}"
    )
    print(f"  weights       {info['weights'] or 'random init'}")
    return 0


def cmd_inspect(args) -> int:
    from edge.inspect import inspect_artifact, inspect_model, is_artifact

    if is_artifact(args.model):
        reports = inspect_artifact(args.model, args.allow_modified)
    else:
        reports = inspect_model(
            args.model,
            args.targets or "xnnpack",
            num_classes=args.num_classes,
            input_size=args.input_size,
            weights=args.weights,
        )
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    for r in reports:
        print(f"{r['model']} on {r['target']}")
        for stage in ("before_fallbacks", "after_fallbacks"):
            if stage in r:
                print(f"  {stage.replace('_', ' ')}: {_coverage_line(r[stage])}")
                for item in _left_out(r[stage])[:12]:
                    print(f"    - {item}")
        for f in r.get("fallbacks") or []:
            print(f"  applied {f['lowering']} to {f['nodes']} x {f['op']}: {f['why']}")
    return 0


def _coverage_line(cov: dict) -> str:
    if "delegated_nodes" in cov:
        return (
            f"{cov['delegated_nodes']} nodes delegated in {cov['delegated_subgraphs']} subgraphs, "
            f"{cov['non_delegated_nodes']} left to portable kernels"
        )
    if "violations" in cov:
        return f"{cov['compute_nodes']} compute nodes, {cov['violations']} the backend will not take"
    if "kernel_calls" in cov:
        return f"{cov['delegate_calls']} delegate calls, {cov['kernel_calls']} portable kernel calls"
    return coverage_summary(cov)


def _left_out(cov: dict) -> list[str]:
    if "non_delegated_ops" in cov:
        return [f"{o['count']} x {o['op']}: {o['reason']}" for o in cov["non_delegated_ops"]]
    return [f"{o['node']} ({o['op']}): {o['reason']}" for o in cov.get("left_out", [])]


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="zoo name (see 'edge list') or a factory 'pkg.module:function'")
    p.add_argument("--weights", help="safetensors or state_dict file (read without unpickling objects)")
    p.add_argument(
        "--num-classes", type=limits.NUM_CLASSES.parse, help="classifier width (default: 1000 for zoo models)"
    )
    p.add_argument(
        "--input-size", type=limits.INPUT_SIZE.parse, help="square input size in pixels (default: the model's own)"
    )


def build_parser() -> argparse.ArgumentParser:
    from edge.cli_prune import add_prune_options

    parser = _Parser(
        prog="edge",
        description="Take hybrid vision models onto phones: export to "
        "ExecuTorch/XNNPACK, LiteRT, Core ML and ONNX; verify each artifact; profile it.",
    )
    parser.add_argument("--version", action="version", version=f"edge {_version()}")
    parser.add_argument("--debug", action="store_true", help="on an error, also print the Python traceback")
    parser.add_argument(
        "--verbose",
        dest="show_all",
        action="store_true",
        help="let the converters, runtimes and libraries print their own warnings and logs (hidden by default)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "list",
        help="zoo models (params, GMACs, input size) and targets available here",
        description="List the zoo's models with parameter counts and GMACs, and the "
        "export targets with whether this machine can export/run them and why not.",
    )
    p.add_argument("--family", help="only this family (mobilevit, fasternet, iformer)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "info",
        help="one model: params, GMACs, preprocessing; checks that weights load",
        description="Build a model (zoo name or factory), load its weights if given, and print "
        "its parameter count, GMACs and preprocessing.",
    )
    add_model_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "export",
        help="export a model to phone targets, verify each artifact, write manifests",
        description="Export MODEL (zoo name, factory 'pkg.mod:fn', or a recipe .yaml) to each target, "
        "run every artifact that can run here against the eager model, and write "
        "<model>-<target>-<quant>.<ext> with a .json manifest beside it.",
    )
    add_model_options(p)
    p.add_argument(
        "--target",
        dest="targets",
        metavar="T[,T...]",
        help="xnnpack, litert, coreml, onnx, or a preset: android, ios, all (default: all)",
    )
    add_quant_options(p)
    p.add_argument("-o", "--out-dir", dest="out_dir", help="output folder (default: out)")
    p.add_argument(
        "--labels",
        help="text file with one class label per line, stored in the manifest and in each "
        "artifact's own metadata (TFLite labels file, Core ML classifier, ONNX metadata_props, .pte)",
    )
    from edge.io_form import FORMS

    p.add_argument(
        "--input-form",
        choices=list(FORMS),
        help="what the artifacts take (default nchw-float, as "
        "before): nhwc-float (normalized by the app; MediaPipe / LiteRT Support Library read the "
        "normalization from the TFLite metadata) or nhwc-uint8 (0-255 RGB pixels, normalization in the "
        "graph). Core ML: any form but nchw-float gives an image input and a classifier",
    )
    p.add_argument("--author", help="author written into the artifacts' metadata")
    p.add_argument("--license", help="license written into the artifacts' metadata")
    from edge.targets.coreml.exporter import MIN_IOS

    p.add_argument(
        "--coreml-ios",
        type=int,
        choices=MIN_IOS,
        help="Core ML minimum iOS (default 17); 18 runs "
        "attention as Core ML's fused scaled_dot_product_attention, on iOS 18+ devices only",
    )
    p.add_argument("--keep-going", action="store_true", help="export the other targets when one fails")
    p.add_argument(
        "--verify-on",
        metavar="arm64[:CPU[,CPU...]]",
        help="also verify every artifact on these emulated "
        "ARM64 CPUs (qemu models such as cortex-a53, cortex-a76, max; default cortex-a76); parity per CPU "
        "in the manifest",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON; no progress display")
    add_prune_options(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "inspect",
        help="what each backend takes, leaves out and why, before and after fallbacks",
        description="For a MODEL: lower it per target and list the nodes the backend will not take "
        "(op, node, reason) before and after our fallbacks, and the fallbacks applied. For an "
        "ARTIFACT: print what its manifest recorded.",
    )
    add_model_options(p)
    p.add_argument("--target", dest="targets", metavar="T[,T...]", help="targets or preset (default: xnnpack)")
    p.add_argument(
        "--allow-modified", action="store_true", help="ARTIFACT: accept a file whose sha256 differs from its manifest"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "bench",
        help="latency side by side: eager, our xnnpack, naive executorch, LiteRT, ORT",
        description="Export MODEL ours (custom ops + fallbacks) and naively (plain PyTorch, official "
        "converters), then time every candidate in one process, interleaved, same weights and "
        "threads; prints medians and ratios to the best peer (LiteRT, ONNX Runtime).",
    )
    add_model_options(p)
    p.add_argument(
        "--threads",
        type=limits.host_threads().parse,
        default=min(2, os.cpu_count() or 1),
        help="threads for every runtime (default 2; at most this host's cores)",
    )
    p.add_argument("--runs", type=limits.RUNS.parse, default=30, help="timed runs per candidate (default 30)")
    p.add_argument("--warmup", type=limits.WARMUP.parse, default=5, help="warm-up runs per candidate (default 5)")
    p.add_argument(
        "--quant",
        choices=["fp32", "int8"],
        default="fp32",
        help="int8: add our int8 exports (xnnpack, "
        "and litert/onnx fp32+int8) with each one's speed-up over our fp32 export for its backend",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_prune_options(p)  # adds a pruned xnnpack candidate timed beside the unpruned one
    p.set_defaults(func=cmd_bench)

    from edge import cli_demo, cli_eval, cli_profile
    from edge.sweep import cli as cli_sweep

    cli_profile.register(sub)
    cli_eval.register(sub)
    cli_demo.register(sub)
    cli_sweep.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The one error boundary: whatever goes wrong ends as one `edge: error:` line (exit 2); the
    traceback is shown only with --debug (or EDGE_DEBUG=1). SIGTERM cleans up like Ctrl-C."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    debug = args.debug or os.environ.get("EDGE_DEBUG") == "1"
    verbose = args.show_all or getattr(args, "verbose", False) or debug or os.environ.get("EDGE_VERBOSE") == "1"
    restore = _terminate_as_interrupt()
    from common.quiet import quiet_command

    try:
        with quiet_command(verbose):  # third-party warnings and native logs: shown with --verbose
            try:
                return args.func(args)
            except KeyboardInterrupt as e:
                print("edge: interrupted; no partial artifact was left under a final name.", file=sys.stderr)
                return 143 if isinstance(e, Terminated) else 130
            except Exception as e:  # the boundary: an EdgeError says what to do; anything else is summarized
                if debug:
                    import traceback

                    traceback.print_exc()
                print(f"edge: error: {error_line(e, args.command)}", file=sys.stderr)
                return EXIT_USER_ERROR
    finally:
        restore()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so every `finally` removes its temporaries."""


def _terminate_as_interrupt():
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def error_line(e: BaseException, command: str) -> str:
    """One line for any exception: EdgeError as written, the others named with their cause."""
    import errno

    first = (str(e).strip().splitlines() or [""])[0][:300]
    from runtimes import ArtifactError, ProfileError, RuntimeUnavailable

    if isinstance(e, (EdgeError, ArtifactError, ProfileError, RuntimeUnavailable)):
        return " ".join(str(e).split())
    if isinstance(e, MemoryError):
        return f"edge {command} ran out of memory; use a smaller --input-size or model, or free memory."
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return f"no space left on the device writing {e.filename or 'output'}; free space or choose another -o."
    if isinstance(e, OSError) and e.errno is not None:
        where = f" ({e.filename})" if e.filename else ""
        return f"{e.strerror or first}{where}; check the path and its permissions."
    return (
        f"unexpected {type(e).__name__} in edge {command}: {first or type(e).__name__} "
        "(rerun with --debug for the traceback; please report it with the command)."
    )


if __name__ == "__main__":
    sys.exit(main())
