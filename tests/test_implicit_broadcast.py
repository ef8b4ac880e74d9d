"""An expand that only feeds a broadcasting op is dropped for every backend: exact, and what lets a linear
attention block (`relu(v) * ctx.expand_as(v)` between two convs) convert on LiteRT."""

import pytest
import torch
import torch.nn.functional as F

from edge.lowering import apply_lowerings, count_ops
from edge.prepare import export_program
from edge.targets import TARGETS

aten = torch.ops.aten
EXPANDS = {aten.expand.default, aten.expand_as.default, aten.expand_copy.default, aten.broadcast_to.default}


class LinearAttention(torch.nn.Module):
    """A separable linear self-attention written the way third-party code writes it."""

    def __init__(self, d=16, keep_context=False):
        super().__init__()
        self.d, self.keep_context = d, keep_context
        self.qkv, self.out = torch.nn.Conv2d(d, 1 + 2 * d, 1), torch.nn.Conv2d(d, d, 1)

    def forward(self, x):
        q, k, v = torch.split(self.qkv(x), [1, self.d, self.d], dim=1)
        context = (k * F.softmax(q, dim=-1)).sum(-1, keepdim=True).expand_as(v)
        y = self.out(F.relu(v) * context)
        return (y, context) if self.keep_context else y  # an expand that is an output must stay


@pytest.mark.parametrize("backend", ["xnnpack", "litert", "coreml", "onnx"])
def test_expand_before_a_broadcasting_op_is_dropped_and_exact(backend):
    model, x = LinearAttention().eval(), torch.randn(1, 16, 4, 16)
    program, _ = apply_lowerings(export_program(model, (x,)), TARGETS[backend])
    assert not any(count_ops(program).get(op) for op in EXPANDS)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-6)


def test_expand_with_another_consumer_is_kept():
    model, x = LinearAttention(keep_context=True).eval(), torch.randn(1, 16, 4, 16)
    program, _ = apply_lowerings(export_program(model, (x,)), TARGETS["onnx"])
    assert any(count_ops(program).get(op) for op in EXPANDS)
    with torch.no_grad():
        for got, want in zip(program.module()(x), model(x)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_linear_attention_converts_on_litert():
    litert_torch = pytest.importorskip("litert_torch")
    model, x = LinearAttention().eval(), torch.randn(1, 16, 4, 16)
    program, _ = apply_lowerings(export_program(model, (x,)), TARGETS["litert"])
    litert_torch.convert(
        program.module(), (x,)
    )  # without the pass: "'tfl.mul' op operands don't have broadcast-compatible shapes"
