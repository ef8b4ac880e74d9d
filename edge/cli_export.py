"""`edge export` on the command line: a recipe merged with the options, the export, its table."""

from __future__ import annotations

import json
import sys
import time

from edge.cli_quant import quant_config_from
from edge.loading import read_labels


def cmd_export(args) -> int:
    from rich.console import Console

    from common.quiet import stderr_console
    from edge.export import export_targets

    request = export_request(args)
    console = stderr_console()
    start = time.perf_counter()

    def progress(target: str, step: str) -> None:
        if not args.json:
            console.print(f"[dim]{time.perf_counter() - start:6.1f}s[/] [bold]{target:8}[/] {step}")

    results = export_targets(
        request["model"],
        targets=request["targets"],
        quant=request["quant"],
        out_dir=request["out_dir"],
        num_classes=request["num_classes"],
        input_size=request["input_size"],
        weights=request["weights"],
        labels=request["labels"],
        progress=progress,
        keep_going=args.keep_going,
        prune=request["prune"],
        target_options=request["target_options"],
        input_form=request["input_form"],
        author=request["author"],
        license=request["license"],
        verify_on=args.verify_on,
    )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "target": r.target,
                        "artifact": str(r.path),
                        "manifest": str(r.manifest_path),
                        "seconds": r.seconds,
                        "parity": r.manifest["parity"],
                        "coverage": coverage_summary(r.manifest["coverage"]),
                    }
                    for r in results
                ],
                indent=2,
            )
        )
        return 0
    from rich.table import Table

    table = Table(title=f"{results[0].manifest['model']['name']} ({request['quant'].scheme}) -> {request['out_dir']}")
    for col in ("target", "artifact", "size", "parity", "backend coverage", "time"):
        table.add_column(col)
    for r in results:
        m = r.manifest
        table.add_row(
            r.target,
            r.path.name,
            f"{m['artifact']['size_bytes'] / 1e6:.1f} MB",
            parity_text(m["parity"]),
            coverage_summary(m["coverage"]),
            f"{r.seconds:.1f}s",
        )
    Console(width=160 if not sys.stdout.isatty() else None).print(table)
    if results[0].manifest.get("pruning"):
        from edge.cli_prune import summary

        print(summary(results[0].manifest["pruning"]))
    return 0


def export_request(args) -> dict:
    """Merge a recipe (when MODEL is a .yaml file) with command-line options; the command line wins."""
    from edge.recipe import load_recipe

    request = {
        "model": args.model,
        "targets": None,
        "quant": None,
        "out_dir": None,
        "num_classes": None,
        "input_size": None,
        "weights": None,
        "labels": None,
        "prune": None,
        "input_form": None,
        "author": None,
        "license": None,
    }
    recipe = None
    if args.model.endswith((".yaml", ".yml")):
        recipe = load_recipe(args.model)
        request.update(
            model=recipe.model.spec,
            targets=recipe.targets,
            quant=recipe.quant,
            out_dir=recipe.out_dir,
            num_classes=recipe.model.num_classes,
            input_size=recipe.model.input_size,
            weights=recipe.model.weights,
            labels=recipe.model.labels,
            prune=recipe.prune,
            input_form=recipe.input_form,
            author=recipe.model.author,
            license=recipe.model.license,
        )
    for key in (
        "targets",
        "out_dir",
        "num_classes",
        "input_size",
        "weights",
        "labels",
        "input_form",
        "author",
        "license",
    ):
        value = getattr(args, key, None)
        if value is not None:
            request[key] = value
    request["targets"] = request["targets"] or "all"
    request["out_dir"] = request["out_dir"] or "out"
    from edge.cli_prune import prune_request

    request["prune"] = prune_request(args, request["prune"])
    if request["labels"]:
        request["labels"] = read_labels(request["labels"])
    request["quant"] = quant_config_from(args, request["quant"], recipe.quantization if recipe else None)
    request["target_options"] = {"coreml": {"min_ios": args.coreml_ios}} if getattr(args, "coreml_ios", None) else {}
    return request


def parity_text(parity: dict) -> str:
    if parity["status"] == "not_run":
        v = parity.get("validation", {})
        return f"not run here; spec {v.get('status', 'not checked')}"
    return f"{parity['status']} (cos {parity['cosine']:.8f})"


def coverage_summary(cov: dict) -> str:
    if "delegated_nodes" in cov:  # a delegating backend (XNNPACK) says how much its partitioner took
        return (
            f"{cov['delegated_nodes']} delegated in {cov['delegated_subgraphs']} subgraphs, "
            f"{cov['non_delegated_nodes']} not"
        )
    if "nodes" in cov:
        return f"{cov['nodes']} nodes"
    if "ops" in cov:
        text = f"{sum(cov['ops'].values())} ops, max rank {cov.get('max_tensor_rank', '?')}"
        xnn = cov.get("xnnpack")
        if xnn and "delegated_nodes" in xnn:  # LiteRT: what its XNNPACK delegate takes
            parts = xnn["partitions"]
            text += f"; XNNPACK {xnn['delegated_nodes']} in {parts} partition{'s' * (parts != 1)}, "
            text += f"{xnn['non_delegated_nodes']} not"
        return text
    return ""
