"""Command-line options for quantized exports, and the QuantConfig they (and a recipe) make.

The options come from QuantConfig's own fields (quant.config.option: flag, help, argparse settings);
only how three of them are spelled on the command line is written here: --keep-float takes op types
and module names in one list, and --int8-io and the --no-... options (quant.config.INT8_SWITCHES) are switches."""

from __future__ import annotations

import argparse
import dataclasses

from common.errors import EdgeError
from edge import limits
from quant.config import INT8_SWITCHES, OP_TYPES, QuantConfig

# argparse types that live in edge (limits name the option in their errors)
_TYPES = {"calib_samples": limits.CALIB_SAMPLES.parse}


def _flagged_fields():
    return [f for f in dataclasses.fields(QuantConfig) if f.metadata["flag"]]


def add_quant_options(p: argparse.ArgumentParser) -> None:
    for f in _flagged_fields():
        if f.name == "io":
            p.add_argument(f.metadata["flag"], dest="io", action="store_true", help=f.metadata["help"])
            continue
        if f.name in INT8_SWITCHES:  # a switch that turns a default off
            p.add_argument(f.metadata["flag"], dest=f.name, action="store_false", default=None, help=f.metadata["help"])
            continue
        options = dict(f.metadata["argparse"])
        if f.name in _TYPES:
            options["type"] = _TYPES[f.name]
        p.add_argument(f.metadata["flag"], dest=f.name, help=f.metadata["help"], **options)


def quant_config_from(args, scheme: str | None = None, section=None) -> QuantConfig:
    """The recipe's scheme and quantization section, overridden by whatever the command line gives."""
    values = dict(section.to_kwargs()) if section is not None else {}
    if scheme:
        values["scheme"] = scheme
    for f in _flagged_fields():
        given = getattr(args, f.name, None)
        if f.name in INT8_SWITCHES and given is False:
            values[f.name] = False
            continue
        if given is None or given is False or given == "":
            continue
        if f.name == "io":
            values["io"] = "int8"
        elif f.name == "keep_float_ops":  # --keep-float: op types and module names in one list
            names = [n.strip() for n in given.split(",") if n.strip()]
            values["keep_float_ops"] = tuple(n for n in names if n in OP_TYPES)
            values["keep_float_modules"] = tuple(n for n in names if n not in OP_TYPES)
        else:
            values[f.name] = given
    try:
        config = QuantConfig(**values)
    except ValueError as e:
        raise EdgeError(str(e)) from None
    if config.int8_only_options():
        raise EdgeError(
            f"{' and '.join(config.int8_only_options())} only apply to --quant int8 (got --quant {config.scheme})."
        )
    return config
