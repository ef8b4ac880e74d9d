"""Every target x family at small sizes: artifact written, run in its runtime, manifest valid."""

import json

import pytest
import torch

from edge.export import export, export_targets
from edge.manifest import validate_manifest
from edge.targets import TARGETS
from tests.foreign import TinyViT

SIZE = 64
FAMILIES = ["mobilevit_xxs", "fasternet_t0", "iformer_t"]
TARGET_NAMES = list(TARGETS)


@pytest.fixture(scope="module", params=FAMILIES)
def exported(request, tmp_path_factory):
    """One model of each family exported to all four targets (one torch.export, four conversions)."""
    out = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    results = export_targets(request.param, targets="all", input_size=SIZE, num_classes=10, out_dir=out)
    return out, {r.target: r for r in results}


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_artifact_and_manifest_are_written(exported, target):
    out, results = exported
    r = results[target]
    assert r.path.exists() and r.path.name == f"{r.manifest['model']['name']}-{target}-fp32{TARGETS[target].suffix}"
    on_disk = json.loads(r.manifest_path.read_text())
    assert on_disk == r.manifest
    validate_manifest(on_disk)


@pytest.mark.parametrize("target", ["xnnpack", "litert", "onnx"])
def test_runnable_artifact_matches_eager(exported, target):
    parity = exported[1][target].manifest["parity"]
    assert parity["status"] == "passed" and parity["cosine"] >= 0.9999 and parity["samples"] == 5


def test_ort_companion_is_verified_too(exported):
    manifest = exported[1]["onnx"].manifest
    assert manifest["parity"]["extra_files"]["ort"]["cosine"] >= 0.9999
    assert set(manifest["artifact"]["extra_files"]) == {"ort", "required_operators"}
    assert (exported[0] / manifest["artifact"]["extra_files"]["ort"]["file"]).exists()


def test_coreml_spec_is_validated_and_not_pretended_to_run(exported):
    parity = exported[1]["coreml"].manifest["parity"]
    assert parity["status"] == "not_run" and "macOS" in parity["reason"]
    assert parity["validation"]["status"] == "passed" and parity["validation"]["model_type"] == "mlProgram"


def test_xnnpack_artifact_is_fully_delegated(exported):
    cov = exported[1]["xnnpack"].manifest["coverage"]
    assert cov["delegated_nodes"] > 0 and cov["delegated_subgraphs"] == 1
    assert cov["non_delegated_nodes"] == 0, cov["non_delegated_ops"]


def test_litert_artifact_is_fully_taken_by_its_xnnpack_delegate(exported):
    """What LiteRT's default CPU delegate takes of the final .tflite, measured by loading it (iFormer's
    attention products come out of litert-torch as FULLY_CONNECTED with a run-time filter, which the
    delegate refuses until they are rewritten as BATCH_MATMUL)."""
    xnn = exported[1]["litert"].manifest["coverage"]["xnnpack"]
    assert xnn["non_delegated_nodes"] == 0 and xnn["partitions"] == 1, xnn["non_delegated_ops"]
    assert xnn["delegated_nodes"] == sum(exported[1]["litert"].manifest["coverage"]["ops"].values())


def test_pte_runs_one_delegate_call_and_no_portable_kernel(exported):
    from runtimes.executorch_rt import pte_instruction_counts

    counts = pte_instruction_counts(exported[1]["xnnpack"].path)
    assert counts["delegate_calls"] == 1 and counts["kernel_calls"] == 0, counts["kernel_ops"]


def test_naive_export_reports_what_xnnpack_leaves_out_and_why(tmp_path):
    """Without fallbacks, LayerNorm stays outside the delegate; the coverage says so, with a reason."""
    from edge.coverage import target_coverage
    from edge.lowering import apply_lowerings
    from edge.prepare import export_program

    program, _ = apply_lowerings(
        export_program(TinyViT().eval(), (torch.randn(1, 3, 32, 32),)), TARGETS["xnnpack"], enabled=False
    )
    cov = target_coverage(program, TARGETS["xnnpack"])
    assert cov["non_delegated_nodes"] == sum(op["count"] for op in cov["non_delegated_ops"]) > 0
    by_op = {op["op"]: op["reason"] for op in cov["non_delegated_ops"]}
    assert "aten.native_layer_norm.default" in by_op and all(by_op.values())


def test_no_temporary_files_are_left(exported):
    assert not [p.name for p in exported[0].iterdir() if p.name.startswith(".")]


def test_manifest_records_preprocessing_and_io(exported):
    m = exported[1]["xnnpack"].manifest
    assert m["inputs"][0]["shape"] == [1, 3, SIZE, SIZE] and m["outputs"][0]["shape"] == [1, 10]
    assert m["preprocessing"]["center_crop"] == SIZE and len(m["preprocessing"]["mean"]) == 3
    assert m["versions"]["executorch"]


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_manifest_records_the_fallbacks_applied(exported, target):
    fallbacks = exported[1][target].manifest["fallbacks"]
    custom = {"edge.local_attention.default", "edge.partial_conv.default"}
    assert custom & {f["op"] for f in fallbacks}  # every zoo family uses one of the custom ops
    assert all(f["lowering"].endswith(("__default", f"__{target}")) and f["why"] and f["nodes"] > 0 for f in fallbacks)


@pytest.mark.parametrize("target", ["litert", "coreml"])
def test_no_tensor_above_rank_4_in_rank_limited_targets(exported, target):
    assert exported[1][target].manifest["coverage"]["max_tensor_rank"] <= 4


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_foreign_multihead_attention_vit_exports(tmp_path, target):
    model = TinyViT(num_classes=10).eval()
    result = export(model, torch.randn(1, 3, SIZE, SIZE), target=target, out_dir=tmp_path, name="tiny_vit")
    assert result.path.exists() and result.manifest["model"]["family"] == "custom"
    status = result.manifest["parity"]["status"]
    assert status == ("not_run" if target == "coreml" else "passed")


@pytest.mark.parametrize("min_ios,fused", [(17, False), (18, True)])
def test_coreml_ios18_runs_attention_as_the_fused_sdpa_op(tmp_path, min_ios, fused):
    result = export(
        "mobilevit_xxs",
        target="coreml",
        input_size=SIZE,
        num_classes=10,
        out_dir=tmp_path,
        target_options={"coreml": {"min_ios": min_ios}},
    )
    ops, validation = result.manifest["coverage"]["ops"], result.manifest["parity"]["validation"]
    assert validation["min_ios"] == min_ios and validation["spec_version"] == {17: 8, 18: 9}[min_ios]
    assert bool(ops.get("scaled_dot_product_attention")) is fused and bool(ops.get("softmax")) is not fused
    assert result.manifest["coverage"]["max_tensor_rank"] <= 4


@pytest.mark.parametrize("target,quant", [("litert", "fp16"), ("coreml", "fp16")])
def test_fp16_exports_pass_their_bound(tmp_path, target, quant):
    result = export("fasternet_t0", target=target, quant=quant, input_size=SIZE, out_dir=tmp_path)
    fp16 = result.manifest
    assert fp16["quant"]["scheme"] == "fp16"
    if target == "litert":
        assert fp16["parity"]["status"] == "passed" and fp16["parity"]["cosine"] >= 0.999
    else:
        assert fp16["parity"]["validation"]["status"] == "passed"


def test_passed_module_is_not_modified(tmp_path):
    from edge import models

    model = models.create("fasternet_t0", num_classes=10, input_size=SIZE).eval()
    export(model, target="onnx", input_size=SIZE, out_dir=tmp_path)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("groups", [1, 4])
def test_group_norm_stays_within_rank_4_on_core_ml(tmp_path, groups):
    """coremltools writes group_norm through a 5-D reshape (MobileViTV2 and PoolFormer reached rank 5)."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.GroupNorm(groups, 8), torch.nn.Flatten()
    ).eval()
    result = export(model, torch.randn(1, 3, SIZE, SIZE), target="coreml", out_dir=tmp_path, name="gn")
    assert result.manifest["coverage"]["max_tensor_rank"] <= 4


class HighRankAttention(torch.nn.Module):
    """Rank 5 and 6 arithmetic as foreign attention writes it: SwinV2 adds its window mask to a
    (batch, windows, heads, n, n) view of the scores, Hiera max-pools a 6-D query view and multiplies
    5-D tensors (SwinV2 and Hiera kept rank 5/6 on LiteRT and Core ML)."""

    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.embed, self.qkv, self.heads = torch.nn.Conv2d(3, dim, 8, 8), torch.nn.Linear(dim, 3 * dim), heads
        self.register_buffer("mask", torch.randn(4, 4, 4))  # (windows, n, n)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)  # (1, 16, dim): 4 windows of 4 tokens
        b, n, c = t.shape
        q, k, v = self.qkv(t).reshape(b, 4, 4, 3, self.heads, c // self.heads).permute(3, 0, 1, 4, 2, 5).unbind(0)
        scores = q @ k.transpose(-1, -2) + self.mask.unsqueeze(1).unsqueeze(0)  # (1, 4, heads, 4, 4)
        pooled = q.reshape(b, 4, self.heads, 2, 2, c // self.heads).max(dim=3).values  # 6-D max
        return torch.cat([(scores.softmax(-1) @ v).flatten(1), (pooled * 0.5).flatten(1)], dim=1)


@pytest.mark.parametrize("target", ["litert", "coreml"])
def test_rank_5_and_6_arithmetic_runs_within_rank_4(tmp_path, target):
    x = torch.randn(1, 3, 32, 32)
    result = export(HighRankAttention().eval(), x, target=target, out_dir=tmp_path, name="high_rank")
    assert result.manifest["coverage"]["max_tensor_rank"] <= 4
    assert result.manifest["parity"]["status"] == ("not_run" if target == "coreml" else "passed")
