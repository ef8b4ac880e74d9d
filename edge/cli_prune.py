"""The pruning options of `edge export` and `edge bench`: parse, merge with a recipe, summarize."""

from __future__ import annotations

import argparse
import dataclasses

from quant.prune.config import IMPORTANCES, PruneConfig, PruneError


def add_prune_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("structured pruning (channels and head dims are removed; needs torch-pruning)")
    g.add_argument(
        "--prune",
        type=float,
        metavar="R",
        help="remove fraction R (0<R<1) of the channels of every prunable group, e.g. 0.3",
    )
    g.add_argument(
        "--prune-flops",
        type=float,
        metavar="F",
        help="remove channels until the GFLOPs DROP by at least fraction F (0<F<1; 0.5 halves them); "
        "the channel ratio is searched",
    )
    g.add_argument(
        "--prune-exclude",
        metavar="NAME[,NAME]",
        help="modules (names or patterns like 'stages.4.*') whose output channels are kept; "
        "the first conv and the classifier are always kept",
    )
    g.add_argument(
        "--prune-importance",
        metavar="|".join(IMPORTANCES),  # PruneConfig names a wrong one
        help="l2 (default) or l1 weight magnitude; taylor: |w*grad| on the shipped photographs",
    )
    g.add_argument(
        "--prune-round-to",
        type=int,
        metavar="N",
        help="kept widths are multiples of N (default 8, what XNNPACK's kernels like)",
    )


def prune_request(args, section: PruneConfig | None) -> PruneConfig | None:
    """The recipe's `prune:` section with command-line options on top (the command line wins)."""
    values = dataclasses.asdict(section) if section is not None else {}
    if getattr(args, "prune", None) is not None:
        values.update(ratio=args.prune, flops=None)
    if getattr(args, "prune_flops", None) is not None:
        values.update(flops=args.prune_flops, ratio=None if args.prune is None else args.prune)
    for key, value in (
        ("exclude", _names(getattr(args, "prune_exclude", None))),
        ("importance", getattr(args, "prune_importance", None)),
        ("round_to", getattr(args, "prune_round_to", None)),
    ):
        if value is not None:
            values[key] = value
    if values.get("ratio") is None and values.get("flops") is None:
        if values:
            raise PruneError("pruning options need --prune R or --prune-flops F.")
        return None
    return PruneConfig(**values)


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def summary(pruning: dict) -> str:
    p0, p1, g0, g1 = (pruning[k] for k in ("params_before", "params_after", "gmacs_before", "gmacs_after"))
    target = f", GFLOPs target -{pruning['flops_target']:.0%}" if pruning.get("flops_target") is not None else ""
    return (
        f"pruned at channel ratio {pruning['ratio']:.3g}{target} ({pruning['importance']}, round_to "
        f"{pruning['round_to']}): params {p0:,} -> {p1:,} (-{1 - p1 / p0:.1%}), GMACs {g0:.4f} -> {g1:.4f} "
        f"(-{1 - g1 / g0:.1%}); kept whole: {', '.join(pruning['excluded']) or 'nothing'}"
    )
