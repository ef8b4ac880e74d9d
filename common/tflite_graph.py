"""Small edits of a .tflite flatbuffer's object tree (ai_edge_litert's generated schema, object API).

Shared by the int8 I/O rewrite (quant/litert.py) and the XNNPACK-fit rewrites (edge/targets/litert).
"""

from __future__ import annotations


def schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def read_model(flatbuffer: bytes):
    """The model as objects to edit, every buffer's data inline: a model over 2 GB or one written by
    ai-edge-quantizer (fp16 casting) keeps its buffers after the flatbuffer at an offset, which a
    re-serialized model (write_model) would lose."""
    import numpy as np

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(flatbuffer, 0))
    for stored in model.buffers or []:
        if stored.offset > 1:  # 1 is the schema's "no data" marker
            stored.data = np.frombuffer(flatbuffer, np.uint8, count=stored.size, offset=stored.offset)
            stored.offset = stored.size = 0
    return model


def write_model(model, size_hint: int) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def builtin_of(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def opcode_index(model, builtin: int) -> int:
    """The operator-code slot of a builtin op, added (version 1) when the model has none yet."""
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema().OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def is_constant(model, graph, index: int) -> bool:
    """Whether tensor `index` holds data in the file (a weight) rather than being computed at run time."""
    buffer_index = graph.tensors[index].buffer
    if not buffer_index:  # buffer 0 is the flatbuffer's empty sentinel
        return False
    buf = model.buffers[buffer_index]
    return (buf.data is not None and len(buf.data) > 0) or (buf.offset or 0) > 1


def float_twin(graph, index: int, *, takes_the_name: bool) -> int:
    """A new float32 tensor with the shape of tensor `index`. With takes_the_name (a model input or
    output changing type) it takes the name and the original becomes "<name>_int8"; otherwise it is
    named "<name>_float"."""
    s = schema()
    src = graph.tensors[index]
    twin = s.TensorT()
    twin.shape, twin.shapeSignature, twin.type, twin.buffer = src.shape, src.shapeSignature, s.TensorType.FLOAT32, 0
    name = src.name or b""
    if takes_the_name:
        twin.name, src.name = name, name + b"_int8"
    else:
        twin.name = name + b"_float"
    graph.tensors.append(twin)
    return len(graph.tensors) - 1


def new_op(opcode: int, inputs: list[int], outputs: list[int]):
    op = schema().OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, list(inputs), list(outputs)
    return op
