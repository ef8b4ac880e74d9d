"""Structured pruning (Torch-Pruning's DependencyGraph + customized pruners for hybrid blocks).

`prune(model, example_inputs, ratio=0.3)` returns a physically smaller copy and a report.
Imported lazily: `quant.prune.config` (used by recipes and the CLI) needs no torch-pruning.
"""
from quant.prune.config import IMPORTANCES, PruneConfig, PruneError


def prune(model, example_inputs, **options):
    """See quant.prune.api.prune."""
    from quant.prune.api import prune as _prune
    return _prune(model, example_inputs, **options)


__all__ = ["IMPORTANCES", "PruneConfig", "PruneError", "prune"]
