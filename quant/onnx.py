"""Static int8 for ONNX Runtime: QDQ by onnxruntime's `quantize_static`, with a placement that only
puts int8 where ORT has int8 kernels, so the int8 model is faster than the fp32 one.

Placement rule (decided per ONNX node from the aten op it was exported from; torch.onnx records
the aten op and the module path in each node's metadata, read before onnxslim drops it):

- int8: conv (QLinearConv), linear (QGemm / MatMul with a constant weight), add and mul (QLinearAdd,
  QLinearMul), cat (QLinearConcat), silu and sigmoid (QLinearSigmoid + QLinearMul).
- float, because ORT runs them faster in float or has no int8 kernel: softmax (ORT fuses
  DQ->Softmax->Q into QLinearSoftmax, ~7x slower than float Softmax on MobileViT-XXS), the
  activation x activation matmuls (quantizing attn @ v forces softmax's output to be quantized, so
  the slow QLinearSoftmax), LayerNorm (no int8 kernel), GELU (exported as Div/Erf/Add/Mul/Mul: no
  int8 Erf, and quantizing its pieces adds error and Q/DQ pairs for no speed), pooling and the rest.
  The attention core (q @ k^T, softmax, attn @ v) is one float island between int8 Gemms.
- The user's keep_float_ops / keep_float_modules remove more nodes from int8, matched on the same
  aten op type and module path as the pt2e quantizers use.

Also float: the first conv (it reads the image; ORT's int8 conv over 3 input channels took 0.47 ms
against 0.19 ms in fp32 on MobileViT-XXS). Gemm/MatMul outputs that only feed float ops stay float
(QGemm with float output; MatMulIntegerToFloat) instead of Q -> DQ, which keeps ORT's fp32 fusions
(FusedMatMul absorbing k's transpose) and 19 fewer nodes on MobileViT-XXS; Conv outputs keep their
Q because ORT has no float-output QLinearConv (without it each conv runs as DQ -> float Conv).

Activations are asymmetric uint8 and weights symmetric int8 per channel ("U8S8"): on x86 ORT fuses
QDQ Conv only with uint8 activations (int8 activations left 29 of MobileViT-XXS's 35 convs as
DQ -> float Conv -> Q, 2x slower than fp32); ARM kernels take U8S8 too.

Activation ranges: both min/max and the 99.99th percentile of |x| (clipped to min/max) are computed
in one pass over the calibration inputs (our own pass: ORT's percentile calibrator is ~4x slower and
fails with "Too many bins" on near-constant tensors), and the one whose int8 model has the higher
output SQNR against fp32 on the calibration inputs is kept. On input-dependent random-weight models
(cosine to eager over 16 held-out crops, mean / min): MobileViT-XXS min/max 0.927 / 0.845,
percentile 0.981 / 0.969; FasterNet-T0 0.9986 / 0.9975 vs 0.9989 / 0.9982; iFormer-T 0.984 / 0.977 vs
0.988 / 0.974.

Speed relative to fp32 ORT on this machine (interleaved in one process, medians; naive QDQ at 2
threads, NNCF at 1 thread; the shared machine was loaded, so +-10%):

| model | naive QDQ (all ops, S8 activations) | naive QDQ (all ops, U8) | NNCF 3.4 default | NNCF transformer preset |
|---|---|---|---|---|
| MobileViT-XXS | 0.58x | 0.92x | 0.70x | 0.70x |
| FasterNet-T0 | 0.97x | 1.84x | 1.00x | 0.77x |
| iFormer-T | 0.61x | 1.40x | 0.62x | 0.60x |

This placement: see README ("int8 on ONNX Runtime").

NNCF writes symmetric int8 activations, which ORT on x86 does not fuse into QLinearConv (most convs
run as DQ -> float Conv -> Q), and with the transformer preset it leaves most Gemms and convs in
float; its fast bias correction does not buy back enough accuracy to matter here. So onnxruntime's
quantize_static is used.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quant.config import OP_TYPES

# aten ops (by name) whose ONNX nodes go int8, and the ORT kernel that runs them
INT8_ATEN = {
    "conv2d": "QLinearConv",
    "convolution": "QLinearConv",
    "linear": "QGemm",
    "addmm": "QGemm",
    "mm": "QGemm",
    "matmul": "QLinearMatMul",
    "add": "QLinearAdd",
    "mul": "QLinearMul",
    "cat": "QLinearConcat",
    "silu": "QLinearSigmoid + QLinearMul",
    "sigmoid": "QLinearSigmoid",
}
# ONNX op types the quantizer may touch at all (data movement is left to ORT's Q/DQ propagation)
INT8_ONNX = {"Conv", "Gemm", "MatMul", "Add", "Mul", "Concat", "Sigmoid"}
# why the rest stays float, by op type (quant.config.OP_TYPES) or aten name
FLOAT_REASONS = {
    "softmax": "ORT's QLinearSoftmax is ~7x slower than float Softmax",
    "matmul": "activation x activation matmul: int8 would force softmax's output to int8 (slow QLinearSoftmax)",
    "layer_norm": "ORT has no int8 LayerNormalization",
    "gelu": "exported as Div/Erf/Add/Mul: no int8 Erf; ORT fuses the float pieces into one Gelu",
    "first_conv": "reads the image: ORT's int8 conv over 3 channels is slower than fp32, and the input stays exact",
}
FLOAT_BY_BACKEND = ("matmul", "softmax", "layer_norm", "gelu", "pool")


@dataclass(frozen=True)
class Origin:
    """Where an ONNX node came from: the aten op (e.g. "conv2d") and the innermost module path."""

    aten: str
    module: str


@dataclass
class Placement:
    int8_nodes: list[str] = field(default_factory=list)
    float_nodes: dict[str, str] = field(default_factory=dict)  # node name -> reason

    def summary(self, model) -> dict:
        op_of = {n.name: n.op_type for n in model.graph.node}
        return {
            "int8_nodes": len(self.int8_nodes),
            "int8_by_op": dict(Counter(op_of[n] for n in self.int8_nodes).most_common()),
            "float_by_reason": dict(Counter(self.float_nodes.values()).most_common()),
        }


def op_type_of_aten(aten: str) -> str | None:
    """quant.config.OP_TYPES name ('conv', 'softmax', ...) of an aten op name; None when none covers it."""
    return next((op_type for op_type, names in OP_TYPES.items() if aten in names), None)


class Origins:
    """Node origins read from torch.onnx's metadata on the *unsimplified* model, then looked up for
    the nodes of the simplified one: by node name, else by an output tensor name, else by a
    parameter the node reads (onnxslim renames the Gemms it fuses from MatMul + Add but keeps
    their bias initializer)."""

    def __init__(self, raw_model):
        self.by_name, self.by_tensor, self.by_param = {}, {}, {}
        params = {i.name for i in raw_model.graph.initializer}
        for node in raw_model.graph.node:
            origin = _origin_from_metadata(node)
            if origin is None:
                continue
            self.by_name[node.name] = origin
            for out in node.output:
                self.by_tensor[out] = origin
            for inp in node.input:
                if inp in params:
                    self.by_param.setdefault(inp, origin)

    def of(self, node) -> Origin | None:
        if node.name in self.by_name:
            return self.by_name[node.name]
        for tensor in node.output:
            if tensor in self.by_tensor:
                return self.by_tensor[tensor]
        for tensor in node.input:
            if tensor in self.by_param:
                return self.by_param[tensor]
        return None


def _origin_from_metadata(node) -> Origin | None:
    meta = {p.key: p.value for p in node.metadata_props}
    fx, scopes = meta.get("pkg.torch.onnx.fx_node", ""), meta.get("pkg.torch.onnx.name_scopes")
    if "target=torch.ops.aten." not in fx or not scopes:
        return None
    aten = fx.split("target=torch.ops.aten.", 1)[1].split(".", 1)[0].split("]", 1)[0]
    try:
        path = ast.literal_eval(scopes)
    except (ValueError, SyntaxError):
        return None
    module = path[-2] if len(path) >= 2 else ""  # the last scope is the fx node's own name
    return Origin(aten, module)


def plan_placement(model, origins: Origins, keep_ops=(), keep_modules=()) -> Placement:
    """Which nodes of `model` (the simplified fp32 ONNX) get Q/DQ, and why the others stay float."""
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    graph_inputs = {i.name for i in model.graph.input}
    placement = Placement()
    for node in model.graph.node:
        if node.op_type not in INT8_ONNX:
            continue
        origin = origins.of(node)
        reason = (
            FLOAT_REASONS["first_conv"]
            if node.op_type == "Conv" and node.input[0] in graph_inputs
            else _float_reason(node, origin, constants, frozenset(keep_ops), tuple(keep_modules))
        )
        if reason:
            placement.float_nodes[node.name] = reason
        else:
            placement.int8_nodes.append(node.name)
    return placement


def _float_reason(node, origin: Origin | None, constants: set, keep_ops: frozenset, keep_modules: tuple) -> str:
    """'' when the node goes int8, else why it stays float."""
    if node.op_type == "MatMul" and not any(i in constants for i in node.input):
        return FLOAT_REASONS["matmul"]
    if origin is None:  # no metadata: trust only the ops whose int8 form is always right
        return "" if node.op_type in ("Conv", "Gemm") else "no origin recorded"
    if origin.aten not in INT8_ATEN:
        return FLOAT_REASONS.get(
            origin.aten, FLOAT_REASONS.get(op_type_of_aten(origin.aten) or "", f"{origin.aten}: not quantized for ORT")
        )
    op_type = op_type_of_aten(origin.aten)
    if op_type in keep_ops:
        return f"user: keep_float_ops {op_type}"
    if "depthwise" in keep_ops and node.op_type == "Conv" and _group(node) > 1:  # the zoo's grouped convs are depthwise
        return "user: keep_float_ops depthwise"
    prefix = next((p for p in keep_modules if origin.module == p or origin.module.startswith(p + ".")), None)
    return f"user: keep_float_modules {prefix}" if prefix is not None else ""


def _group(node) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


class CalibrationReader:
    """onnxruntime's CalibrationDataReader protocol (it checks for get_next) over input feeds."""

    def __init__(self, feeds: list[dict]):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)


def quantize_qdq(
    model,
    out_path: Path,
    calibration,
    placement: Placement,
    input_name: str = "input",
    weight_bits: int = 8,
    session_config: dict | None = None,
) -> dict:
    """Write the QDQ int8 model (U8 asymmetric activations, S8 symmetric per-channel weights of
    `weight_bits`, 8 or 7: quant/deploy_cpu.py) with the activation ranges -- min/max or the 99.99th
    percentile of |x| -- whose int8 model is closer to the fp32 one on the calibration inputs (mean
    SQNR of the outputs, run with `session_config` as verification will). Returns that choice and both scores."""
    import onnxruntime as ort

    from common.compare import compare

    # float inputs as float32; a uint8 input form (edge --input-form nhwc-uint8) keeps its pixels
    feeds = [
        {input_name: np.ascontiguousarray(x.numpy(), dtype=np.float32 if x.is_floating_point() else None)}
        for x in calibration
    ]
    reference, ranges = activation_ranges(model, feeds, _calibrated_tensors(model, placement))
    options = ort.SessionOptions()
    for key, value in (session_config or {}).items():
        options.add_session_config_entry(key, value)
    scores = {}
    for method, overrides in ranges.items():
        path = out_path.with_name(f"{out_path.name}.{method}.onnx")
        _quantize_static(model, path, feeds, placement, overrides, reduce_range=weight_bits == 7)
        int8 = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        scores[method] = float(np.mean([compare(r, int8.run(None, f)[0])["sqnr_db"] for r, f in zip(reference, feeds)]))
    best = max(scores, key=scores.get)
    for method in scores:
        path = out_path.with_name(f"{out_path.name}.{method}.onnx")
        path.replace(out_path) if method == best else path.unlink()
    return {"activation_ranges": best, "calibration_sqnr_db": {k: round(v, 2) for k, v in scores.items()}}


PERCENTILE = 99.99  # MobileViT's heavy-tailed activations need it; FasterNet and iFormer do as well with min/max


def activation_ranges(model, feeds: list[dict], tensors: list[str]) -> tuple[list, dict]:
    """One pass over the calibration feeds: the fp32 outputs, and per tensor its min/max and the
    PERCENTILE-th percentile t of |x| (as [max(min, -t), min(max, t)]), as TensorQuantOverrides.
    The percentile is exact: the top (1 - PERCENTILE/100) of |x| over all samples is kept as it goes."""
    import onnx
    import onnxruntime as ort

    augmented = onnx.ModelProto.FromString(model.SerializeToString())
    outputs = {o.name for o in augmented.graph.output}
    augmented.graph.output.extend(
        onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in tensors if t not in outputs
    )
    session = ort.InferenceSession(augmented.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    low, high, tops, reference = {}, {}, {}, []
    for feed in feeds:
        values = dict(zip(names, session.run(None, feed)))
        reference.append(values[names[0]])
        for t in tensors:
            a = values[t].ravel()
            keep = max(1, int(a.size * len(feeds) * (1 - PERCENTILE / 100)))
            low[t], high[t] = min(low.get(t, np.inf), float(a.min())), max(high.get(t, -np.inf), float(a.max()))
            top = np.concatenate([tops.get(t, a[:0]), np.abs(a)])
            tops[t] = np.partition(top, len(top) - keep)[-keep:] if len(top) > keep else top
    pct = {t: float(tops[t].min()) for t in tensors}
    f32 = np.float32
    return reference, {
        "minmax": {t: [{"rmin": f32(low[t]), "rmax": f32(high[t])}] for t in tensors},
        f"percentile{PERCENTILE}": {
            t: [{"rmin": f32(max(low[t], -pct[t])), "rmax": f32(min(high[t], pct[t]))}] for t in tensors
        },
    }


def _calibrated_tensors(model, placement: Placement) -> list[str]:
    """The float activations the quantizer will give Q/DQ: inputs and outputs of the int8 nodes."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    is_float = {
        v.name: v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    }
    chosen = set(placement.int8_nodes)
    constants = {i.name for i in model.graph.initializer}
    tensors = {t for n in model.graph.node if n.name in chosen for t in list(n.input) + list(n.output)}
    return sorted(t for t in tensors if t and t not in constants and is_float.get(t, False))


def _quantize_static(
    model, path: Path, feeds: list[dict], placement: Placement, overrides: dict, reduce_range: bool
) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.ModelProto.FromString(model.SerializeToString())  # quantize_static moves the weights out of it
    quantize_static(
        model,
        str(path),
        CalibrationReader(feeds),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_quantize=placement.int8_nodes,
        op_types_to_quantize=sorted(INT8_ONNX),
        extra_options={
            "ActivationSymmetric": False,
            "WeightSymmetric": True,
            "TensorQuantOverrides": overrides,
            # a Gemm/MatMul feeding float ops gives float output (QGemm, MatMulIntegerToFloat)
            # instead of Q -> DQ; Conv keeps its output Q (no float-output QLinearConv)
            "OpTypesToExcludeOutputQuantization": ["Gemm", "MatMul"],
        },
    )
