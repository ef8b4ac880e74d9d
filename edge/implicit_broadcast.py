"""Drop an `expand` whose every consumer broadcasts anyway (`relu(v) * ctx.expand_as(v)`).

The expand materialises a tensor the elementwise op would broadcast to by itself. Backends handle it
badly in different ways: XNNPACK does not take expand_copy (its lowering multiplies by a ones tensor),
and LiteRT's converter, when the layout pass has put transposes around the expand (a conv before and
after, as in a linear attention block), folds them into a broadcast of the wrong shape and refuses the
model ("'tfl.mul' op operands don't have broadcast-compatible shapes"). Removing it is exact: the
consumer's result has the same shape and values.
"""

from __future__ import annotations

import copy

import torch

aten = torch.ops.aten

# every spelling of a broadcasting copy an exported graph may hold before or after decomposition
EXPANDS = frozenset({aten.expand.default, aten.expand_as.default, aten.expand_copy.default, aten.broadcast_to.default})

# elementwise ops whose tensor operands broadcast against each other (numpy rules)
BROADCASTING_OPS = frozenset(
    {
        aten.add.Tensor,
        aten.sub.Tensor,
        aten.mul.Tensor,
        aten.div.Tensor,
        aten.maximum.default,
        aten.minimum.default,
        aten.pow.Tensor_Tensor,
        aten.where.self,
    }
)


def _shape(arg):
    value = arg.meta.get("val") if isinstance(arg, torch.fx.Node) else None
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _broadcast_keeps_shape(user: torch.fx.Node, expand: torch.fx.Node) -> bool:
    """True when `user`, fed the expand's input instead of its output, still yields its own shape."""
    if user.target not in BROADCASTING_OPS or user.kwargs.get("out") is not None:
        return False
    source = expand.args[0]
    shapes = []
    for arg in user.args:
        if arg is expand:
            arg = source
        if isinstance(arg, torch.fx.Node):
            shape = _shape(arg)
            if shape is None:
                return False
            shapes.append(shape)
    try:
        return tuple(torch.broadcast_shapes(*shapes)) == _shape(user)
    except RuntimeError:
        return False


def drop_implicit_expands(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """A copy of `program` without the expands that only feed broadcasting ops (the program itself when
    there are none: it may be shared with other targets)."""

    def redundant(graph):
        return [
            n
            for n in graph.nodes
            if n.op == "call_function"
            and n.target in EXPANDS
            and n.users
            and _shape(n.args[0]) is not None
            and all(_broadcast_keeps_shape(u, n) for u in n.users)
        ]

    if not redundant(program.graph):
        return program
    program = copy.deepcopy(program)
    for node in redundant(program.graph):
        node.replace_all_uses_with(node.args[0])
        program.graph.erase_node(node)
    program.graph_module.recompile()
    return program
