"""What runs once after the XNNPACK lowerings, on the whole lowered program."""

from __future__ import annotations

import torch

from edge.lowering import finisher
from edge.targets.xnnpack.large_dwconv import convolutions_as_conv2d


@finisher("xnnpack")
def finish(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """Convolutions back to aten.conv2d, then every computation on constants folded."""
    return fold_constants(convolutions_as_conv2d(program))


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
        return constant_prop_pass(program)


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
