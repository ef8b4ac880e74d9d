"""Lowerings: equal to the reference op at several shapes; full XNNPACK delegation for the zoo
and for foreign models written in the usual styles."""

import pytest
import torch
import torch.nn.functional as F

from edge import models
from edge.lowering import apply_lowerings, lowering, lowerings_for
from edge.ops import reference_local_attention, reference_partial_conv
from edge.prepare import export_program
from edge.targets import TARGETS
from tests.foreign import FOREIGN_STYLES

aten = torch.ops.aten


def cosine(a, b):
    return F.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0).item()


def lowered(backend, op):
    return lowerings_for(TARGETS[backend])[op].fn


ATTN_SHAPES = [(1, 4, 16, 8), (4, 1, 49, 32), (8, 2, 64, 16)]


@pytest.mark.parametrize("backend", ["xnnpack", "litert", "coreml", "onnx"])
@pytest.mark.parametrize("shape", ATTN_SHAPES)
def test_local_attention_lowering_equals_reference(backend, shape):
    q, k, v = (torch.randn(shape) for _ in range(3))
    for scale in (None, 0.3):
        got = lowered(backend, torch.ops.edge.local_attention.default)(q, k, v, scale)
        assert cosine(got, reference_local_attention(q, k, v, scale)) >= 0.99999


@pytest.mark.parametrize("backend", ["xnnpack", "litert", "coreml", "onnx"])
@pytest.mark.parametrize("channels,cp,k", [(40, 10, 3), (64, 16, 3), (96, 24, 5)])
def test_partial_conv_lowering_equals_reference(backend, channels, cp, k):
    x, w = torch.randn(2, channels, 14, 14), torch.randn(cp, cp, k, k)
    got = lowered(backend, torch.ops.edge.partial_conv.default)(x, w)
    assert cosine(got, reference_partial_conv(x, w)) >= 0.99999


@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
@pytest.mark.parametrize("shape", [(2, 4, 16, 8), (1, 3, 10, 12, 4)])
def test_sdpa_lowering_equals_torch(mask, shape):
    q, k, v = (torch.randn(shape) for _ in range(3))
    n = shape[-2]
    kwargs = {"is_causal": True} if mask == "causal" else {}
    if mask == "bool":
        kwargs["attn_mask"] = torch.rand(n, n) > 0.3
        kwargs["attn_mask"][:, 0] = True  # no fully masked row
    elif mask == "float":
        kwargs["attn_mask"] = torch.randn(n, n)
    got = lowered("xnnpack", aten.scaled_dot_product_attention.default)(q, k, v, **kwargs)
    assert cosine(got, F.scaled_dot_product_attention(q, k, v, **kwargs)) >= 0.99999


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(2, 16, 32), (1, 49, 96), (3, 5, 7, 24)])
def test_layer_norm_lowering_equals_torch(shape, affine):
    x = torch.randn(shape) * 3 + 2  # an offset mean, as activations have
    w, b = (torch.randn(shape[-1]), torch.randn(shape[-1])) if affine else (None, None)
    got = lowered("xnnpack", aten.layer_norm.default)(x, [shape[-1]], w, b, 1e-5)
    assert cosine(got, F.layer_norm(x, [shape[-1]], w, b, 1e-5)) >= 0.99999


def test_layer_norm_on_xnnpack_takes_means_as_folded_products_not_pooling():
    """No pooling (it would need NCHW<->NHWC transposes of the tokens) and no aten.full left: the
    1/C column is folded into a constant that XNNPACK takes as a fully-connected weight."""
    from torch import nn

    program, _ = apply_lowerings(export_program(nn.LayerNorm(32).eval(), (torch.randn(2, 16, 32),)), TARGETS["xnnpack"])
    targets = {n.target for n in program.graph.nodes if n.op == "call_function"}
    assert aten.mm.default in targets and aten.full.default not in targets
    assert not {aten.avg_pool2d.default, aten.layer_norm.default} & targets


@pytest.mark.parametrize(
    "channels,size,k,groups,bias",
    [(16, 14, 7, 16, True), (24, 9, 7, 24, False), (8, 12, 9, 8, True), (16, 10, 3, 16, True), (16, 10, 7, 1, False)],
)
def test_conv2d_lowering_equals_torch(channels, size, k, groups, bias):
    """Large depthwise kernels are split into <=25-tap strips; every other conv passes through."""
    x = torch.randn(1, channels, size, size)
    w = torch.randn(channels, channels // groups, k, k)
    b = torch.randn(channels) if bias else None
    got = lowered("xnnpack", aten.conv2d.default)(x, w, b, [1, 1], [k // 2, k // 2], [1, 1], groups)
    assert cosine(got, F.conv2d(x, w, b, padding=k // 2, groups=groups)) >= 0.99999


def test_large_depthwise_conv_runs_as_depthwise_strips_on_xnnpack():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(16, 16, 7, padding=3, groups=16)).eval()
    program, applied = apply_lowerings(export_program(model, (torch.randn(1, 16, 20, 20),)), TARGETS["xnnpack"])
    kernels = [tuple(n.args[1].meta["val"].shape[-2:]) for n in program.graph.nodes if n.target == aten.conv2d.default]
    assert kernels == [(7, 3), (7, 3), (7, 1)] and any(a["lowering"] == "conv2d__xnnpack" for a in applied)
    adds = [n for n in program.graph.nodes if n.target == aten.add.Tensor]
    assert len(adds) == 2  # the strips' sums; the bias rides on the first strip's conv


@pytest.mark.parametrize(
    "shape,dims,keepdim",
    [
        ((2, 16, 32), [1], False),
        ((2, 8, 6, 6), [2, 3], True),
        ((2, 8, 6, 6), [1], True),
        ((4, 10), [-1], False),
        ((2, 5, 6, 7), [2, 3], False),
        ((3, 4, 9), [-1], True),
    ],
)
def test_mean_lowering_equals_torch(shape, dims, keepdim):
    x = torch.randn(shape)
    got = lowered("xnnpack", aten.mean.dim)(x, dims, keepdim)
    torch.testing.assert_close(got, x.mean(dims, keepdim=keepdim), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "a,b",
    [((2, 4, 8, 16), (2, 4, 16, 8)), ((2, 4, 8, 16), (1, 4, 16, 8)), ((3, 8, 16), (16, 5)), ((4, 8, 16), (4, 16, 2))],
)
def test_matmul_lowering_equals_torch(a, b):
    x, y = torch.randn(a), torch.randn(b)
    torch.testing.assert_close(lowered("xnnpack", aten.matmul.default)(x, y), x @ y, rtol=1e-5, atol=1e-5)


def test_index_and_copy_lowerings_equal_torch():
    x = torch.randn(3, 4, 5, 6)
    low = lowerings_for(TARGETS["xnnpack"])
    torch.testing.assert_close(low[aten.select.int].fn(x, 1, -1), x.select(1, -1))
    torch.testing.assert_close(low[aten.squeeze.dim].fn(x[:, :1], 1), x[:, :1].squeeze(1))
    torch.testing.assert_close(low[aten.unsqueeze.default].fn(x, 2), x.unsqueeze(2))
    assert all(torch.equal(a, b) for a, b in zip(low[aten.unbind.int].fn(x, 1), x.unbind(1)))
    assert all(
        torch.equal(a, b) for a, b in zip(low[aten.split_with_sizes.default].fn(x, [1, 2, 1], 1), x.split([1, 2, 1], 1))
    )
    assert all(torch.equal(a, b) for a, b in zip(low[aten.chunk.default].fn(x, 2, 3), x.chunk(2, 3)))
    torch.testing.assert_close(low[aten.expand.default].fn(x[:, :1], [3, 4, 5, 6]), x[:, :1].expand(3, 4, 5, 6))
    src = torch.randn(3, 2, 5, 6)
    torch.testing.assert_close(
        low[aten.slice_scatter.default].fn(x, src, 1, 1, 3), torch.slice_scatter(x, src, 1, 1, 3)
    )


def test_a_lowering_without_a_docstring_is_refused():
    with pytest.raises(ValueError, match="docstring"):

        @lowering(aten.hardswish.default, "test-backend")
        def hardswish__test(x):
            return x


def test_one_lowering_per_op_and_backend():
    lowerings_for(TARGETS["xnnpack"])  # import the registered lowerings first
    with pytest.raises(ValueError, match="already registered"):

        @lowering(aten.layer_norm.default, "xnnpack")
        def layer_norm__again(x, *args):
            """Duplicate."""
            return x


def xnnpack_coverage(model, size=64):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from edge.targets.xnnpack.coverage import collect_rejections, delegation_coverage

    x = torch.randn(1, 3, size, size)
    program, applied = apply_lowerings(export_program(model.eval(), (x,)), TARGETS["xnnpack"])
    with torch.no_grad():
        assert cosine(program.module()(x), model(x)) >= 0.99999
    with collect_rejections() as reasons:
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    return delegation_coverage(edge.exported_program().graph_module, reasons), applied


# mobilevit_xxs, fasternet_t0 and iformer_t are checked on their real .pte in test_export.py
@pytest.mark.parametrize("name", sorted(set(models.list_models()) - {"mobilevit_xxs", "fasternet_t0", "iformer_t"}))
def test_zoo_variant_is_fully_delegated_to_xnnpack(name):
    model = models.create(name, num_classes=10, input_size=64).eval().reparameterize()
    coverage, applied = xnnpack_coverage(model)
    assert coverage["non_delegated_nodes"] == 0, coverage["non_delegated_ops"]
    assert coverage["delegated_subgraphs"] == 1 and applied


@pytest.mark.parametrize("style", list(FOREIGN_STYLES))
def test_foreign_style_is_fully_delegated_to_xnnpack(style):
    coverage, applied = xnnpack_coverage(FOREIGN_STYLES[style](), size=32)
    assert coverage["non_delegated_nodes"] == 0, coverage["non_delegated_ops"]
    assert applied, "the foreign graph needed at least one rewrite"


def test_inplace_pconv_no_longer_bloats_onnx(tmp_path):
    """In-place channel slicing exports as ScatterND + Transposes; the fallback makes it Slice + Concat."""
    from edge.targets.base import ExportJob
    from edge.targets.onnx.exporter import export_onnx
    from tests.foreign import InplacePConv, PConvNet

    model, x = PConvNet(pconv=InplacePConv).eval(), torch.randn(1, 3, 32, 32)
    program = export_program(model, (x,))
    counts = {}
    for enabled in (False, True):
        lowered_program, _ = apply_lowerings(program, TARGETS["onnx"], enabled=enabled)
        job = ExportJob("pconv", model, lowered_program, (x,), "fp32", tmp_path / f"{enabled}.onnx")
        counts[enabled] = export_onnx(job).coverage
    assert "ScatterND" in counts[False]["ops"] and "ScatterND" not in counts[True]["ops"]
    assert counts[True]["nodes"] < counts[False]["nodes"]


@pytest.mark.parametrize("rank", [5, 6])
def test_high_rank_permute_as_rank4_swaps_equals_permute(rank):
    import random

    from edge.ops.rank_limits import permute_as_rank4_swaps

    rng = random.Random(rank)
    for _ in range(40):
        shape = [rng.randint(1, 4) for _ in range(rank)]
        perm = list(range(rank))
        rng.shuffle(perm)
        x = torch.randn(shape)
        assert torch.equal(permute_as_rank4_swaps(x, perm), x.permute(perm)), (shape, perm)


@pytest.mark.parametrize("target", ["litert", "coreml"])
@pytest.mark.parametrize("style", ["mha_vit", "sdpa_unfold", "manual_attention_unfold"])
def test_foreign_attention_has_no_tensor_above_rank_4(tmp_path, style, target):
    from edge.export import export

    result = export(FOREIGN_STYLES[style](), torch.randn(1, 3, 32, 32), target=target, out_dir=tmp_path, name=style)
    assert result.manifest["coverage"]["max_tensor_rank"] <= 4
    # Core ML cannot run here: its package is checked structurally (the rank above), not numerically
    assert result.manifest["parity"]["status"] == ("passed" if target == "litert" else "not_run")
    assert f"permute__{target}" in {f["lowering"] for f in result.manifest["fallbacks"]}


@pytest.mark.parametrize("rank", [3, 5, 6])
def test_transpose_lowering_for_rank4_targets_equals_transpose(rank):
    x = torch.randn([2, 3, 4, 2, 3, 2][:rank])
    for d0, d1 in ((0, -2), (1, rank - 1), (0, 1)):
        got = lowered("coreml", aten.transpose.int)(x, d0, d1)
        assert torch.equal(got, x.transpose(d0, d1)), (d0, d1)


def test_shared_high_rank_view_collapses_into_rank_4_reshapes():
    """A 5-D view read by several ops (qkv[0], qkv[1], qkv[2] of a fused projection) leaves no 5-D node."""
    from torch import nn

    class SharedView(nn.Module):
        def forward(self, x):
            qkv = x.reshape(2, 8, 3, 4, 4)
            return qkv.reshape(16, 48) + qkv.reshape(2, 8, 48).reshape(16, 48) * qkv.flatten(0, 1).reshape(16, 48)

    x = torch.randn(16, 48)
    program, _ = apply_lowerings(export_program(SharedView().eval(), (x,)), TARGETS["coreml"])
    ranks = [n.meta["val"].dim() for n in program.graph.nodes if hasattr(n.meta.get("val"), "dim")]
    assert max(ranks) <= 4
    torch.testing.assert_close(program.module()(x), SharedView()(x))
