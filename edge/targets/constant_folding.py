"""Folding what lowerings compute from constants into new constants, for the backends that need static
weights (XNNPACK through ExecuTorch) or lack the ops that compute them at run time (LiteRT's runtime has
no STABLEHLO_IOTA for a traced `torch.eye`)."""

from __future__ import annotations

import torch


def fold_constants(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """Lowerings compute some weights from constants (strips sliced from a depthwise kernel, the 1/C
    column of a mean); XNNPACK takes only static weights, so fold them into new constants, in place."""
    from executorch.exir.passes.constant_prop_pass import constant_prop_pass

    if not _has_constant_computation(program):
        return program
    for tensor in list(program.state_dict.values()) + list(program.constants.values()):
        if isinstance(tensor, torch.Tensor):
            tensor.requires_grad_(False)  # folded values must not track autograd: the delegate deep-copies them
    with torch.no_grad():
        program = constant_prop_pass(program)
        while _drop_memory_formats_of_constants(program):  # each round can expose more to fold
            program = constant_prop_pass(program)
    return program


_COPIES = (torch.ops.aten._to_copy.default, torch.ops.aten.clone.default)
_FOLDABLE_FORMATS = (torch.preserve_format, torch.contiguous_format)


def _drop_memory_formats_of_constants(program) -> bool:
    """ExecuTorch's constant propagation takes only plain Python values as arguments, so a copy of a
    constant with a `memory_format` (`mask.contiguous()`, `.to(dtype)` on a mask a model builds in its
    forward, as Swin's shifted-window attention does) stays in the graph and everything after it runs at
    run time, outside the delegate. Preserve-format is the default; contiguous-format is the same on a
    contiguous constant, so the constant is made contiguous (same values) when all its users are such
    copies. Returns whether a copy changed."""
    sig = program.graph_signature
    tables = (
        (sig.inputs_to_lifted_tensor_constants, program.constants),
        (sig.inputs_to_buffers, program.state_dict),
    )
    changed = False
    for node in program.graph.nodes:
        if node.target not in _COPIES or node.kwargs.get("memory_format") not in _FOLDABLE_FORMATS:
            continue
        source = node.args[0]
        table, key = next(((t, names[source.name]) for names, t in tables if source.name in names), (None, None))
        if table is None or key in sig.buffers_to_mutate.values() or not isinstance(table.get(key), torch.Tensor):
            continue
        if node.kwargs["memory_format"] is torch.contiguous_format and not table[key].is_contiguous():
            if not all(
                u.target in _COPIES and u.kwargs.get("memory_format") is torch.contiguous_format for u in source.users
            ):
                continue
            table[key] = table[key].contiguous()
        node.kwargs = {k: v for k, v in node.kwargs.items() if k != "memory_format"}
        changed = True
    return changed


def _has_constant_computation(program) -> bool:
    sig = program.graph_signature
    constants = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers) | set(sig.inputs_to_lifted_tensor_constants)
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        inputs = node.all_input_nodes
        if all(n.op == "placeholder" and n.name in constants for n in inputs):
            return True  # also a node with no tensor inputs at all, such as aten.full
    return False
