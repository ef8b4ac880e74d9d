"""What LiteRT's XNNPACK delegate (the CPU path of LiteRT, MediaPipe and the apps) runs of a .tflite,
and two rewrites that hand it the ops litert-torch emits in forms it turns down.

Every op the delegate refuses runs on LiteRT's reference kernels and cuts the graph into one more
partition. Seen on the zoo's attention models:
- FULLY_CONNECTED whose filter is computed at run time: the converter folds a batch-1 bmm
  (attention's q·kᵀ and p·v) into it. It becomes BATCH_MATMUL with adj_y, the same product.
- int8 unary ops with no quantized kernel in the delegate (GELU after an int8 conv): they become
  DEQUANTIZE, the float op, QUANTIZE, all three delegated; the int8 op is a table approximating the
  float op, so the float one is at least as exact.
Only ops the delegate actually left out are rewritten, and the coverage is measured again afterwards.
"""

from __future__ import annotations

from collections import Counter

# int8-in, int8-out elementwise ops whose float form XNNPACK delegates
_UNARY_WITH_FLOAT_FORM = ("GELU", "HARD_SWISH", "LOGISTIC", "TANH", "ELU", "LEAKY_RELU")


def delegate_coverage(flatbuffer: bytes) -> dict:
    """Nodes of the main subgraph inside XNNPACK partitions, the partition count, and what stays out."""
    try:
        return _coverage(*_delegation(flatbuffer))
    except (RuntimeError, ValueError) as e:  # e.g. a custom op this interpreter has no kernel for
        return {"available": False, "reason": f"the LiteRT interpreter cannot load the model: {str(e)[:200]}"}


def _coverage(nodes: list[dict], left_out: set[int], partitions: int) -> dict:
    kinds = Counter(f"{n['op_name']} ({_types(n)})" for n in nodes if n["index"] in left_out)
    return {
        "delegate": "XNNPACK (ai-edge-litert's default CPU delegate)",
        "delegated_nodes": len(nodes) - len(left_out),
        "non_delegated_nodes": len(left_out),
        "partitions": partitions,
        "non_delegated_ops": [{"op": k, "count": v} for k, v in kinds.most_common()],
    }


def fit_for_xnnpack(flatbuffer: bytes) -> tuple[bytes, list[dict], dict]:
    """Rewrite the left-out ops that have a delegated equivalent; returns the model, what changed and the
    delegate's coverage of the returned model (measured again only when something was rewritten)."""
    from common.tflite_graph import read_model, write_model

    try:
        nodes, left_out, partitions = _delegation(flatbuffer)
    except (RuntimeError, ValueError):  # not loadable here: nothing known to rewrite (coverage says why)
        return flatbuffer, [], delegate_coverage(flatbuffer)
    model = read_model(flatbuffer)
    graph = model.subgraphs[0]
    done: Counter = Counter()
    replaced = {}
    for n in nodes:
        if n["index"] not in left_out:
            continue
        op = graph.operators[n["index"]]
        if n["op_name"] == "FULLY_CONNECTED" and _as_batch_matmul(model, graph, op):
            done["FULLY_CONNECTED with a run-time filter -> BATCH_MATMUL (adj_y)"] += 1
        elif n["op_name"] in _UNARY_WITH_FLOAT_FORM and _types(n) == "int8 -> int8":
            replaced[n["index"]] = _through_float(model, graph, op)
            done[f"int8 {n['op_name']} -> DEQUANTIZE, float {n['op_name']}, QUANTIZE"] += 1
    if not done:
        return flatbuffer, [], _coverage(nodes, left_out, partitions)
    graph.operators = [new for i, op in enumerate(graph.operators) for new in replaced.get(i, [op])]
    fitted = write_model(model, len(flatbuffer))
    return fitted, [{"rewrite": k, "count": v} for k, v in done.items()], delegate_coverage(fitted)


def _delegation(flatbuffer: bytes) -> tuple[list[dict], set[int], int]:
    """(main-subgraph nodes, indices of those outside every delegate partition, partition count).

    The interpreter keeps the model's nodes and adds one DELEGATE node per partition; a node belongs to
    a partition when it is reached walking back from the partition's outputs without crossing its inputs.
    """
    from ai_edge_litert.interpreter import Interpreter

    from common.quiet import captured_output

    with captured_output():  # the delegate announces itself on stderr
        interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
        interpreter.allocate_tensors()  # the default delegate takes its partitions here
        ops = interpreter._get_ops_details()
    nodes = [o for o in ops if o["op_name"] != "DELEGATE"]
    producer = {int(t): o["index"] for o in nodes for t in o["outputs"]}
    inputs_of = {o["index"]: [int(t) for t in o["inputs"] if t >= 0] for o in nodes}
    inside: set[int] = set()
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    for d in delegates:
        boundary = {int(t) for t in d["inputs"]}
        todo = [int(t) for t in d["outputs"]]
        while todo:
            t = todo.pop()
            if t in boundary or t not in producer or producer[t] in inside:
                continue
            inside.add(producer[t])
            todo.extend(inputs_of[producer[t]])
    return nodes, {o["index"] for o in nodes} - inside, len(delegates)


def _types(node: dict) -> str:
    def names(types) -> str:
        return ",".join(sorted({getattr(t, "__name__", str(t)) for t in types}))

    return f"{names(node['operand_types'])} -> {names(node['result_types'])}"


def _as_batch_matmul(model, graph, op) -> bool:
    """FC(x, W) = x·Wᵀ = BATCH_MATMUL(x, W, adj_y) when W is a run-time float matrix, no bias, no fused
    activation, and the output keeps x's leading dims (as BATCH_MATMUL's does)."""
    from common.tflite_graph import is_constant, opcode_index, schema

    s = schema()
    inputs = [int(t) for t in op.inputs]
    x, w = inputs[0], inputs[1]
    options = op.builtinOptions
    x_rank, w_rank = len(graph.tensors[x].shape), len(graph.tensors[w].shape)
    if (
        (len(inputs) > 2 and inputs[2] >= 0)
        or is_constant(model, graph, w)
        or w_rank != 2
        or graph.tensors[x].type != s.TensorType.FLOAT32
        or graph.tensors[w].type != s.TensorType.FLOAT32
        or (options is not None and options.fusedActivationFunction != s.ActivationFunctionType.NONE)
        or (x_rank > 2 and not (options is not None and options.keepNumDims))
    ):
        return False
    bmm = s.BatchMatMulOptionsT()
    bmm.adjX, bmm.adjY, bmm.asymmetricQuantizeInputs = False, True, False
    op.opcodeIndex = opcode_index(model, s.BuiltinOperator.BATCH_MATMUL)
    op.inputs = [x, w]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.BatchMatMulOptions, bmm
    return True


def _through_float(model, graph, op) -> list:
    """[DEQUANTIZE, the op on float tensors, QUANTIZE] in place of an int8 -> int8 unary op."""
    from common.tflite_graph import float_twin, new_op, opcode_index, schema

    s = schema()
    source, dest = int(op.inputs[0]), int(op.outputs[0])
    float_in = float_twin(graph, source, takes_the_name=False)
    float_out = float_twin(graph, dest, takes_the_name=False)
    op.inputs, op.outputs = [float_in], [float_out]
    return [
        new_op(opcode_index(model, s.BuiltinOperator.DEQUANTIZE), [source], [float_in]),
        op,
        new_op(opcode_index(model, s.BuiltinOperator.QUANTIZE), [float_out], [dest]),
    ]
