"""Structured pruning (Torch-Pruning's DependencyGraph + customized pruners for hybrid blocks).

`prune(model, example_inputs, ratio=0.3)` returns a physically smaller copy and a report.
Imported lazily: `quant.prune.config` (used by recipes and the CLI) needs no torch-pruning.
"""

from quant.prune.config import IMPORTANCES, PruneConfig, PruneError


def prune(model, example_inputs, **options):
    """quant.prune.api.prune: (pruned copy, report). Options: ratio | flops, importance, round_to,
    exclude, keep_stem, calib, finetune."""
    try:
        from quant.prune.api import prune as _prune
    except ImportError as e:
        raise PruneError(f"pruning needs torch-pruning ({e}); install it with: pip install 'edge[prune]'.") from None
    return _prune(model, example_inputs, **options)


def prune_with(model, example_inputs, config, calib=None):
    """Prune as a PruneConfig (or a mapping of its fields) asks; calib is used by Taylor importance only."""
    if not isinstance(config, PruneConfig):
        try:
            config = PruneConfig(**dict(config))
        except TypeError as e:
            raise PruneError(f"unknown pruning option: {e}.") from None
    return prune(model, example_inputs, calib=calib if config.importance == "taylor" else None, **config.kwargs())


def prune_tag(report: dict) -> str:
    """Short label for file names: pruned30 (channel ratio) or pruned-flops50 (GFLOPs target)."""
    if report.get("flops_target") is not None:
        return f"pruned-flops{round(report['flops_target'] * 100)}"
    return f"pruned{round(report['ratio'] * 100)}"


__all__ = ["IMPORTANCES", "PruneConfig", "PruneError", "prune", "prune_tag", "prune_with"]
