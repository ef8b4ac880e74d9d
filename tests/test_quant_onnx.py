"""ONNX int8 (QDQ): verified artifacts, the placement rule on the graph, keep-float overrides, numerics
on a model whose output depends on its input."""

import onnx
import pytest
import torch
from onnx import numpy_helper

from common.compare import compare
from edge.export import export
from edge.lowering import apply_lowerings
from edge.prepare import prepare
from edge.targets import TARGETS
from edge.targets.base import ExportJob
from edge.targets.onnx.exporter import export_onnx, to_onnx
from quant.calibration import load_calibration
from quant.config import QuantConfig
from quant.deploy_cpu import onnx_int8_format
from quant.onnx import plan_placement
from runtimes import open_session
from runtimes.cpu import cpu_class
from tests.quant_support import held_out_photos, input_dependent

SIZE = 64
KEPT_MODULE = "stages.4"  # MobileViT-XXS's last stage (a MobileViT block with attention)


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx-int8")
    torch.manual_seed(0)
    # deployed on this host's CPU class: the fused kernels verify both the .onnx and the .ort here
    config = QuantConfig("int8", calib_samples=8, keep_float_modules=(KEPT_MODULE,), deploy_cpu="host")
    r = export("mobilevit_xxs", target="onnx", quant=config, input_size=SIZE, num_classes=10, out_dir=out)
    return r, onnx.load(str(r.path))


def _graph(model):
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return producer, consumers


def _int8_weight(node, producer) -> bool:
    """The node's weight (input 1) comes from a DequantizeLinear of an int8 initializer."""
    dq = producer.get(node.input[1])
    return dq is not None and dq.op_type == "DequantizeLinear"


def test_int8_onnx_and_ort_are_verified_against_eager(int8):
    r, _ = int8
    parity = r.manifest["parity"]
    assert parity["status"] == "passed" and parity["cosine"] >= 0.99 and parity["cosine_bound"] == 0.99
    assert parity["extra_files"]["ort"]["status"] == "passed" and parity["extra_files"]["ort"]["cosine"] >= 0.99
    assert (r.path.parent / r.manifest["artifact"]["extra_files"]["ort"]["file"]).exists()
    plan = r.manifest["quant"]["plan"]
    assert plan["activation_ranges"] in plan["calibration_sqnr_db"]
    assert plan["int8_by_op"]["Conv"] > 0 and plan["int8_by_op"]["Gemm"] > 0


def test_no_qdq_around_softmax_layernorm_or_attention_matmuls(int8):
    _, model = int8
    producer, consumers = _graph(model)
    constants = {i.name for i in model.graph.initializer}
    checked = 0
    for node in model.graph.node:
        if node.op_type in ("Softmax", "LayerNormalization") or (
            node.op_type == "MatMul" and not set(node.input) & constants
        ):
            fed_by_dq = [
                i for i in node.input if producer.get(i) is not None and producer[i].op_type == "DequantizeLinear"
            ]
            quantized_out = [c.name for c in consumers.get(node.output[0], []) if c.op_type == "QuantizeLinear"]
            assert not quantized_out, f"{node.op_type} {node.name} output is quantized"
            if node.op_type == "Softmax":  # LayerNorm may read an int8 conv's dequantized output, q @ k^T
                assert not fed_by_dq, f"Softmax {node.name} reads a DequantizeLinear"  # dequantized q, k
            checked += 1
    assert checked >= 3 * 3  # MobileViT-XXS: three attention blocks at least


def test_convs_and_linears_are_int8_except_the_first_conv_and_kept_modules(int8):
    _, model = int8
    producer, _ = _graph(model)
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        params = [
            producer[i].input[0] if i in producer and producer[i].op_type == "DequantizeLinear" else i
            for i in node.input[1:]
        ]  # weight and bias names carry the module path (onnxslim renames
        kept = any(p.startswith(KEPT_MODULE + ".") for p in params)  # the Gemm weights it transposes)
        assert _int8_weight(node, producer) != (node.input[0] == "input" or kept), (node.name, params)


def test_keep_float_overrides_map_to_onnx_nodes():
    """Op types and module prefixes select nodes by the aten op and module torch.onnx recorded."""
    torch.manual_seed(0)
    p = prepare("iformer_t", input_size=SIZE, num_classes=10)
    program, _ = apply_lowerings(p.program, TARGETS["onnx"])
    model, origins, _ = to_onnx(program, p.example_inputs)
    by_name = {n.name: n for n in model.graph.node}
    default = plan_placement(model, origins)
    kept = plan_placement(model, origins, keep_ops=("conv",), keep_modules=("head",))
    assert {by_name[n].op_type for n in default.int8_nodes} >= {"Conv", "Gemm"}
    assert "Conv" not in {by_name[n].op_type for n in kept.int8_nodes}
    assert "Gemm" not in {by_name[n].op_type for n in kept.int8_nodes}  # the classifier lives in "head"
    assert "user: keep_float_ops conv" in kept.float_nodes.values()
    assert any(r == "user: keep_float_modules head" for r in kept.float_nodes.values())
    gelu = [n for n in model.graph.node if origins.of(n) is not None and origins.of(n).aten == "gelu"]
    assert gelu and not {n.name for n in gelu} & set(default.int8_nodes)  # GELU's Div/Erf/Add/Mul stay float


@pytest.mark.parametrize("deploy_cpu", ["arm64", "x86-vnni", "x86-avx2", "host"])
def test_int8_tracks_an_input_dependent_output(tmp_path, deploy_cpu):
    """On photo crops it was not calibrated on, run the way verification runs it on this CPU (fused
    kernels where they are exact for the format, else ORT's QDQ reference). The exporter is called
    directly because the pipeline's verification set also holds a noise image, outside these ranges."""
    model = input_dependent("fasternet_t0", SIZE)
    photos, refs = held_out_photos(model)
    p = prepare(model, name="fasternet_t0")
    program, _ = apply_lowerings(p.program, TARGETS["onnx"])
    calibration = load_calibration(None, p.config, 3, 8).inputs
    path = tmp_path / "fasternet_t0-int8.onnx"
    outcome = export_onnx(
        ExportJob(
            path.stem,
            p.model,
            program,
            p.example_inputs,
            "int8",
            path,
            quant_config=QuantConfig("int8", deploy_cpu=deploy_cpu),
            calibration=calibration,
        )
    )
    fmt = onnx_int8_format(deploy_cpu)
    assert outcome.deployment["weight_bits"] == fmt.weight_bits
    assert outcome.verify_config["exact_on_host"] == fmt.exact_on(cpu_class())
    session = open_session(path, config=outcome.verify_config["session_config"])
    for x, ref in zip(photos, refs):
        assert compare(ref.numpy(), session.run([x.numpy()])[0])["cosine"] >= 0.99


def test_int8_weights_fit_the_deployment_cpu(tmp_path):
    """x86-avx2 gets 7-bit weights (|w| <= 64, no int16 saturation), phones full 8-bit ones."""
    torch.manual_seed(0)
    p = prepare("fasternet_t0", input_size=SIZE, num_classes=10)
    program, _ = apply_lowerings(p.program, TARGETS["onnx"])
    calibration = load_calibration(None, p.config, 3, 4).inputs
    peak = {}
    for cpu in ("arm64", "x86-avx2"):
        path = tmp_path / f"{cpu}.onnx"
        export_onnx(
            ExportJob(
                path.stem,
                p.model,
                program,
                p.example_inputs,
                "int8",
                path,
                quant_config=QuantConfig("int8", deploy_cpu=cpu),
                calibration=calibration,
            )
        )
        weights = [
            numpy_helper.to_array(i)
            for i in onnx.load(str(path)).graph.initializer
            if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4
        ]
        peak[cpu] = max(int(abs(w.astype(int)).max()) for w in weights)
    assert peak["arm64"] == 127 and peak["x86-avx2"] <= 64


def test_the_manifest_says_which_cpu_the_int8_is_for_and_how_it_was_verified(tmp_path):
    """The default deployment CPU is a phone; on a host whose kernels saturate, the .onnx is judged by
    the QDQ reference and the .ort (fused at conversion) is run but not judged."""
    torch.manual_seed(0)
    r = export(
        "fasternet_t0",
        target="onnx",
        quant=QuantConfig("int8", calib_samples=4),
        input_size=SIZE,
        num_classes=10,
        out_dir=tmp_path,
    )
    deployment = r.manifest["quant"]["deployment"]
    assert deployment["cpu"] == "arm64" and deployment["weight_bits"] == 8
    assert deployment["ort_target_platform"] == "arm"
    assert deployment["verified_on"]["class"] == cpu_class()
    ort_parity = r.manifest["parity"]["extra_files"]["ort"]
    if cpu_class() in ("arm64", "x86-vnni"):
        assert ort_parity["status"] == "passed" and "fused" in r.manifest["parity"]["kernels"]
    else:
        assert ort_parity["status"] == "not_run" and "host_kernels_cosine" in ort_parity
        assert "reference" in r.manifest["parity"]["kernels"]
    assert r.manifest["parity"]["status"] == "passed"


def test_ort_conversion_runs_again_for_a_second_conversion_of_one_export(tmp_path):
    """int8 float-back converts an export a second time under the same temporary name: the first .ort's
    work folder must not stop it (it did: 'File exists' on hf:mobilevitv2 onnx int8)."""
    from onnx import TensorProto, helper

    from edge.targets.onnx.exporter import _convert_to_ort

    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["logits"])],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
    )
    path = tmp_path / ".m.partial-1.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
    first = _convert_to_ort(path, "m")[0].read_bytes()
    second, config = _convert_to_ort(path, "m")
    assert second.read_bytes() == first and config.is_file()
