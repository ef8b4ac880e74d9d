"""Static int8 for LiteRT: litert-torch's PT2E quantizer, per-channel weights, float I/O by default.

litert-torch folds the quantize at the model's input and the dequantize at its output into the
I/O tensors, so its int8 models take and return int8 -- apps must then know each tensor's scale
and zero point. It has no option for float I/O, so `float_io` rewrites the flatbuffer: the int8
input becomes an internal tensor fed by a QUANTIZE op from a new float32 input, and likewise a
DEQUANTIZE op feeds a new float32 output. `--int8-io` keeps the integer interface.
"""

from __future__ import annotations

from quant.pt2e import keep_float_filter, simulate

# litert-torch's quantizer annotates conv, linear, add, pooling; everything else runs float.
FLOAT_BY_BACKEND = ("matmul", "softmax", "layer_norm", "mul", "cat", "activation")


def litert_quantizer(keep_ops=(), keep_modules=()):
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    may_quantize = keep_float_filter(keep_ops, keep_modules)

    class FilteredPT2EQuantizer(PT2EQuantizer):
        """PT2EQuantizer has no filter function; apply ours inside its pattern annotation."""

        def _annotate_all_static_patterns(self, model, quantization_config, filter_fn=None):
            def combined(node):
                return may_quantize(node) and (filter_fn is None or filter_fn(node))

            return super()._annotate_all_static_patterns(model, quantization_config, combined)

    return FilteredPT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))


def quantized_tflite(program, quantizer, calibration, example_inputs) -> bytes:
    """Quantize the (lowered) program with pt2e and convert it; returns the flatbuffer (int8 I/O)."""
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig as LiteRTQuantConfig

    converted = simulate(program, quantizer, calibration, fold_quantize=False)  # litert-torch folds weights itself
    edge_model = litert_torch.convert(
        converted, example_inputs, quant_config=LiteRTQuantConfig(pt2e_quantizer=quantizer)
    )
    return bytes(edge_model.model_content())


def float_io(flatbuffer: bytes) -> bytes:
    """Give an int8-I/O model float32 inputs and outputs (QUANTIZE in, DEQUANTIZE out)."""
    from common.tflite_graph import float_twin, new_op, opcode_index, read_model, schema, write_model

    s = schema()
    model = read_model(flatbuffer)
    quantize = opcode_index(model, s.BuiltinOperator.QUANTIZE)
    dequantize = opcode_index(model, s.BuiltinOperator.DEQUANTIZE)
    for graph_index, graph in enumerate(model.subgraphs):
        renamed: dict[int, int] = {}
        head, tail = [], []
        graph.inputs, graph.outputs = [int(t) for t in graph.inputs], [int(t) for t in graph.outputs]
        for position, t in enumerate(graph.inputs):
            if graph.tensors[t].type == s.TensorType.INT8:
                f = float_twin(graph, t, takes_the_name=True)
                head.append(new_op(quantize, [f], [t]))
                graph.inputs[position] = renamed[t] = f
        for position, t in enumerate(graph.outputs):
            if graph.tensors[t].type == s.TensorType.INT8:
                f = float_twin(graph, t, takes_the_name=True)
                tail.append(new_op(dequantize, [t], [f]))
                graph.outputs[position] = renamed[t] = f
        graph.operators = head + list(graph.operators or []) + tail
        for sig in model.signatureDefs or []:
            if sig.subgraphIndex == graph_index:
                for tensor_map in list(sig.inputs or []) + list(sig.outputs or []):
                    tensor_map.tensorIndex = renamed.get(tensor_map.tensorIndex, tensor_map.tensorIndex)
    return write_model(model, len(flatbuffer))
