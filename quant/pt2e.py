"""The PT2E flow every pt2e quantizer shares: annotate -> observe calibration data -> convert.

Runs on the program *after* our lowerings, so the custom ops are already plain aten ops the
quantizers can annotate (a custom op is opaque to them). Which nodes may be quantized is decided
by a node filter built from the quant plan (what stays float); the quantizer is the backend's own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import torch
from torch.fx import Node

from quant.config import OP_TYPES

NodeFilter = Callable[[Node], bool]


def op_types_of(node: Node) -> set[str]:
    """{'linear'}, {'conv', 'depthwise'}, ... for an aten call node; empty when no op type covers it."""
    if node.op != "call_function":
        return set()
    name = getattr(node.target, "__name__", str(node.target)).split(".")[0]
    types = {t for t, aten_names in OP_TYPES.items() if name in aten_names}
    if "depthwise" in types and not _is_depthwise(node):
        types.discard("depthwise")
    return types


def _is_depthwise(node: Node) -> bool:
    """A conv whose weight has one input channel per group, and more than one group."""
    groups_at = 6 if "conv2d" in str(node.target) else 8  # conv2d(x, w, b, s, p, d, groups); convolution(..., groups)
    groups = node.args[groups_at] if len(node.args) > groups_at else node.kwargs.get("groups", 1)
    weight = node.args[1].meta.get("val") if isinstance(node.args[1], Node) else None
    return isinstance(groups, int) and groups > 1 and weight is not None and weight.shape[1] == 1


def module_path_of(node: Node) -> str:
    """The innermost module the node was traced in ('' for the top level)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path, _ = list(stack.values())[-1]
    return _clean_path(path)


def _clean_path(path: str) -> str:
    # torch.export writes "L['self'].stages[2].blocks[0]" or "stages.2.blocks.0" depending on version
    path = path.replace("L['self'].", "").replace("L['self']", "")
    return path.replace("[", ".").replace("]", "").replace("..", ".").strip(".")


def in_modules(node: Node, prefixes: Iterable[str]) -> bool:
    path = module_path_of(node)
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def keep_float_filter(keep_ops: Iterable[str] = (), keep_modules: Iterable[str] = ()) -> NodeFilter:
    """A filter that returns True for nodes the quantizer may quantize."""
    keep_ops, keep_modules = frozenset(keep_ops), tuple(keep_modules)

    def may_quantize(node: Node) -> bool:
        return not (op_types_of(node) & keep_ops) and not in_modules(node, keep_modules)

    return may_quantize


def quantize_program(
    program: torch.export.ExportedProgram, quantizer, calibration: list[torch.Tensor], example_inputs: tuple
) -> torch.export.ExportedProgram:
    """Annotate with `quantizer`, run the calibration inputs, convert; returns a new program."""
    return torch.export.export(simulate(program, quantizer, calibration), example_inputs, strict=False)


def simulate(
    program: torch.export.ExportedProgram, quantizer, calibration: list[torch.Tensor], fold_quantize: bool = True
):
    """Observe the calibration inputs and convert: the quantized model as a PyTorch module with
    reference int8 numerics (quantize/dequantize around each quantized op)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    observed = prepare_pt2e(program.module(), quantizer)
    with torch.no_grad():
        for x in calibration:
            observed(x)
    return convert_pt2e(observed, fold_quantize=fold_quantize)


def with_activation_observer(config, observer_ctr):
    """The same QuantizationConfig with another activation observer (min/max is ~10x faster to
    calibrate than the default histogram observer)."""

    def swap(spec):
        return None if spec is None else dataclasses.replace(spec, observer_or_fake_quant_ctr=observer_ctr)

    return dataclasses.replace(
        config, input_activation=swap(config.input_activation), output_activation=swap(config.output_activation)
    )
