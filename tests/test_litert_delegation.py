"""LiteRT's XNNPACK delegate: what it takes of a .tflite, and the rewrites for the ops it turns down.

The models are written as flatbuffers here (no converter run): each holds exactly the op the rewrite
is for, so the test sees the delegate refuse it, the rewrite, and the delegate take the result.
"""

import numpy as np
import pytest

from common.tflite_graph import new_op, opcode_index, schema, write_model
from edge.targets.litert.delegation import delegate_coverage, fit_for_xnnpack


def _model(builtin, tensors, inputs, outputs, options=None, options_type=0):
    """One-op model; tensors: (shape, type, (scale, zero_point) or None)."""
    s = schema()
    model = s.ModelT()
    model.version, model.buffers, model.operatorCodes = 3, [s.BufferT()], []
    graph = s.SubGraphT()
    graph.tensors = []
    for i, (shape, dtype, quant) in enumerate(tensors):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), dtype, 0, f"t{i}".encode()
        if quant:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [quant[0]], [quant[1]]
            t.quantization = q
        graph.tensors.append(t)
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode_index(model, builtin), inputs, outputs
    op.builtinOptionsType, op.builtinOptions = options_type, options
    graph.operators, graph.inputs, graph.outputs = [op], inputs, outputs
    model.subgraphs = [graph]
    return write_model(model, 1024)


def _run(flatbuffer, feeds):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=flatbuffer, num_threads=1)
    it.allocate_tensors()
    for detail, x in zip(it.get_input_details(), feeds):
        it.set_tensor(detail["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _fc_with_a_runtime_filter():
    """x [1,4,6] · wᵀ with w [5,6] an input of the model (attention's p·v as litert-torch writes it)."""
    s = schema()
    options = s.FullyConnectedOptionsT()
    options.keepNumDims = True
    f32 = s.TensorType.FLOAT32
    flatbuffer = _model(
        s.BuiltinOperator.FULLY_CONNECTED,
        [((1, 4, 6), f32, None), ((5, 6), f32, None), ((1, 4, 5), f32, None)],
        [0, 1],
        [2],
        options,
        s.BuiltinOptions.FullyConnectedOptions,
    )
    g = np.random.default_rng(0)
    return flatbuffer, [g.standard_normal((1, 4, 6)).astype(np.float32), g.standard_normal((5, 6)).astype(np.float32)]


def _int8_gelu():
    """GELU on int8 tensors (after an int8 conv), which the delegate has no quantized kernel for."""
    s = schema()
    i8 = s.TensorType.INT8
    flatbuffer = _model(s.BuiltinOperator.GELU, [((1, 64), i8, (0.05, -3)), ((1, 64), i8, (0.03, -20))], [0], [1])
    return flatbuffer, [np.arange(-128, 128, 4, dtype=np.int8).reshape(1, 64)]


@pytest.mark.parametrize(
    "make, rewrite, lsb",
    [
        (_fc_with_a_runtime_filter, "FULLY_CONNECTED with a run-time filter -> BATCH_MATMUL (adj_y)", 0),
        (_int8_gelu, "int8 GELU -> DEQUANTIZE, float GELU, QUANTIZE", 1),
    ],
)
def test_an_op_the_delegate_turns_down_is_rewritten_into_ops_it_takes(make, rewrite, lsb):
    flatbuffer, feeds = make()
    before = delegate_coverage(flatbuffer)
    assert before["delegated_nodes"] == 0 and before["non_delegated_nodes"] == 1, before
    fitted, done, after = fit_for_xnnpack(flatbuffer)
    assert after == delegate_coverage(fitted)
    assert done == [{"rewrite": rewrite, "count": 1}]
    assert after["non_delegated_nodes"] == 0 and after["partitions"] == 1, after
    expected, got = _run(flatbuffer, feeds), _run(fitted, feeds)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if lsb:  # the int8 op is a table of the float one: they may round one step apart
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= lsb
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_model_the_delegate_takes_whole_is_left_as_it_is():
    s = schema()
    f32 = s.TensorType.FLOAT32
    flatbuffer = _model(s.BuiltinOperator.GELU, [((1, 8), f32, None), ((1, 8), f32, None)], [0], [1])
    fitted, done, coverage = fit_for_xnnpack(flatbuffer)
    assert (fitted, done) == (flatbuffer, [])
    assert coverage == delegate_coverage(flatbuffer) and coverage["non_delegated_ops"] == []


def _constant_fc_then_a_runtime_filter_fc():
    """x [1,4,64] through a constant-weight FC (2048 x 64: enough weight, 256 KB in fp16, for
    ai-edge-quantizer to store it after the flatbuffer), then the run-time-filter FC."""
    s = schema()
    f32 = s.TensorType.FLOAT32
    model = s.ModelT()
    model.version, model.operatorCodes = 3, []
    g = np.random.default_rng(0)
    weight = s.BufferT()
    weight.data = np.frombuffer(g.standard_normal((2048, 64)).astype(np.float32).tobytes(), np.uint8)
    model.buffers = [s.BufferT(), weight]
    graph = s.SubGraphT()
    graph.tensors = []
    for i, (shape, buffer) in enumerate(
        [((1, 4, 64), 0), ((2048, 64), 1), ((1, 4, 2048), 0), ((5, 2048), 0), ((1, 4, 5), 0)]
    ):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), f32, buffer, f"t{i}".encode()
        graph.tensors.append(t)
    fc = opcode_index(model, s.BuiltinOperator.FULLY_CONNECTED)
    graph.operators = [new_op(fc, [0, 1], [2]), new_op(fc, [2, 3], [4])]
    for op in graph.operators:
        op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT()
        op.builtinOptions.keepNumDims = True
    graph.inputs, graph.outputs = [0, 3], [4]
    model.subgraphs = [graph]
    feeds = [g.standard_normal((1, 4, 64)).astype(np.float32), g.standard_normal((5, 2048)).astype(np.float32)]
    return write_model(model, 1 << 20), feeds


def test_fp16_weights_stored_after_the_flatbuffer_survive_the_rewrites():
    """ai-edge-quantizer's fp16 casting stores buffers after the flatbuffer, at offsets; a rewrite that
    re-serializes the model must carry their data (it used to drop it: iFormer-T litert fp16 failed)."""
    from edge.targets.litert.exporter import _cast_weights_fp16

    flatbuffer, feeds = _constant_fc_then_a_runtime_filter_fc()
    fp16 = _cast_weights_fp16(flatbuffer)
    raw = schema().Model.GetRootAsModel(fp16, 0)
    assert any(raw.Buffers(i).Offset() > 1 for i in range(raw.BuffersLength())), "no buffer after the flatbuffer"
    fitted, done, after = fit_for_xnnpack(fp16)
    assert done and after["non_delegated_nodes"] == 0
    np.testing.assert_allclose(_run(fitted, feeds), _run(fp16, feeds), rtol=1e-4, atol=1e-3)
