"""Every lowering equals its op for inputs of any layout: contiguous, transposed, channels-last
permuted and strided slices (foreign graphs hand lowerings all of these), and a view after a
lowered op whose output strides differ from the original op's still means the same."""

import pytest
import torch
import torch.nn.functional as F

from edge.lowering import apply_lowerings, lowerings_for
from edge.prepare import export_program
from edge.targets import TARGETS

aten = torch.ops.aten
LAYOUTS = ["contiguous", "transposed", "channels_last", "strided"]


def laid_out(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values as `x` in another memory layout."""
    if layout == "contiguous":
        return x.clone()
    if layout == "transposed":  # last two dims swapped in memory
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    if layout == "channels_last":  # dim 1 innermost in memory, as after a channels-last conv
        order = [0] + list(range(2, x.dim())) + [1]
        return x.permute(order).contiguous().permute([order.index(i) for i in range(x.dim())])
    big = torch.zeros([2 * s for s in x.shape], dtype=x.dtype)  # every other element of a larger tensor
    view = big[tuple(slice(None, None, 2) for _ in x.shape)]
    view.copy_(x)
    return view


def close(a, b):
    a, b = a.flatten().double(), b.flatten().double()
    return F.cosine_similarity(a, b, dim=0).item() >= 0.99999 and torch.allclose(a, b, rtol=1e-4, atol=1e-5)


x4 = torch.randn(2, 6, 8, 10)
CASES = {  # op: (args with x4 first, reference)
    aten.layer_norm.default: ((x4, [10], torch.rand(10), torch.rand(10), 1e-5), None),
    aten.group_norm.default: ((x4, 3, torch.rand(6), torch.rand(6), 1e-5), None),
    aten.softmax.int: ((x4, 1), None),
    aten.mean.dim: ((x4, [1, 3], True), None),
    aten.sum.dim_IntList: ((x4, [2, 3], False), None),
    aten.linalg_vector_norm.default: ((x4, 2, [2, 3], True), None),
    aten.select.int: ((x4, 2, 3), None),
    aten.squeeze.dim: ((x4[:, :, :1], 2), None),
    aten.unsqueeze.default: ((x4, 2), None),
    aten.unbind.int: ((x4, 1), None),
    aten.split_with_sizes.default: ((x4, [2, 4], 1), None),
    aten.split.Tensor: ((x4, 4, 3), None),
    aten.chunk.default: ((x4, 3, 1), None),
    aten.expand.default: ((x4[:, :1], [2, 6, 8, 10]), None),
    aten.matmul.default: ((x4, torch.randn(2, 6, 10, 5)), None),
    aten.clone.default: ((x4,), None),
    aten.silu.default: ((x4,), None),
    aten.im2col.default: ((x4, [2, 2], [1, 1], [0, 0], [2, 2]), None),
    aten.slice.Tensor: ((x4, 3, 1, 10, 3), None),
    aten.repeat.default: ((x4[:, :2], [1, 3, 1, 2]), None),
    aten.roll.default: ((x4, [3, -2], [2, 3]), None),
    aten.div.Tensor: ((x4, 2), None),
    aten.mul.Tensor: ((x4, 3), None),
    aten.max.dim: ((x4, 1), None),
    aten.amax.default: ((x4, [1, 3], False), None),
    aten.adaptive_avg_pool1d.default: ((x4[0], [5]), None),
    aten.avg_pool2d.default: ((x4, [16, 5], [16, 5], [0, 0], True), None),
    aten.scaled_dot_product_attention.default: ((x4, torch.randn(2, 6, 8, 10), torch.randn(2, 6, 8, 10)), None),
}


def _outputs(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", list(CASES), ids=str)
def test_xnnpack_lowering_equals_op_for_any_layout(op, layout):
    table = lowerings_for(TARGETS["xnnpack"])
    assert op in table, f"no xnnpack lowering for {op}"
    args, _ = CASES[op]
    moved = (laid_out(args[0], layout),) + tuple(args[1:])
    got = _outputs(table[op].fn(*moved))
    want = _outputs(op(*args))
    assert len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))


FOLDS = {  # (cols' source image, output size, kernel, dilation, padding, stride)
    "overlapping": ((2, 4, 8, 12), [8, 12], [3, 2], [1, 1], [1, 0], [2, 1]),
    "tiling": ((2, 4, 8, 12), [8, 12], [2, 3], [1, 1], [0, 0], [2, 3]),  # MobileViTV2's patches
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fold", list(FOLDS))
@pytest.mark.parametrize("backend", ["xnnpack", "litert"])
def test_col2im_lowering_equals_fold_for_any_layout(backend, fold, layout):
    image, size, kernel, dilation, padding, stride = FOLDS[fold]
    cols = F.unfold(torch.randn(image), kernel, dilation, padding, stride)
    got = lowerings_for(TARGETS[backend])[aten.col2im.default].fn(
        laid_out(cols, layout), size, kernel, dilation, padding, stride
    )
    assert close(got, F.fold(cols, size, kernel, dilation, padding, stride))


class ViewAfterAttention(torch.nn.Module):
    """The usual attention of third-party ViTs: a view of SDPA's output after a transpose, valid only
    for the strides SDPA gives a transposed query (the lowered bmm's output is contiguous)."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.qkv, self.heads = torch.nn.Linear(dim, 3 * dim), heads

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        q, k, v = self.qkv(tokens).view(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return out.transpose(1, 2).view(b, h * w, c).mean(1)


@pytest.mark.parametrize("backend", ["xnnpack", "litert", "coreml", "onnx"])
def test_view_after_a_lowered_op_still_means_the_same(backend):
    model, x = ViewAfterAttention().eval(), torch.randn(1, 16, 4, 4)
    program, _ = apply_lowerings(export_program(model, (x,)), TARGETS[backend])
    with torch.no_grad():
        assert close(program.module()(x), model(x))


x6 = torch.randn(2, 3, 4, 2, 5, 3)
x5 = torch.randn(2, 3, 4, 5, 6)
OTHER_CASES = {  # lowerings of the other backends (rank-4 limits, ONNX, Core ML) and of the custom ops
    ("litert", aten.permute.default): ((x6, [0, 3, 1, 4, 2, 5]),),
    ("coreml", aten.permute.default): ((x6, [5, 1, 0, 3, 2, 4]),),
    ("litert", aten.transpose.int): ((x6, 1, 4),),
    ("coreml", aten.unbind.int): ((x6, 2),),
    ("coreml", aten.group_norm.default): ((x4, 3, torch.rand(6), torch.rand(6), 1e-5),),
    ("litert", aten.select.int): ((x6, 3, 1),),
    ("litert", aten.add.Tensor): ((x5, torch.randn(1, 3, 1, 5, 6)),),
    ("coreml", aten.mul.Tensor): ((x5, 0.5),),
    ("coreml", aten.sub.Tensor): ((x5, torch.randn(5, 6)),),
    ("litert", aten.matmul.default): ((x5, torch.randn(2, 3, 4, 6, 7)),),
    ("coreml", aten.softmax.int): ((x5, 3),),
    ("litert", aten.max.dim): ((x6, 3),),
    ("litert", aten.im2col.default): ((x4, [3, 2], [1, 1], [1, 0], [2, 1]),),
    ("onnx", aten.slice_scatter.default): ((x4, torch.randn(2, 2, 8, 10), 1, 1, 3),),
    ("onnx", aten.clone.default): ((x4,),),
    ("onnx", aten.scaled_dot_product_attention.default): ((x4, torch.randn(2, 6, 8, 10), torch.randn(2, 6, 8, 10)),),
    ("xnnpack", aten.max.dim): ((x6, 3, True),),
    ("xnnpack", aten.amax.default): ((x6, [2, 4]),),
    ("xnnpack", aten.slice_scatter.default): ((x4, torch.randn(2, 2, 8, 10), 1, 1, 3),),
    ("xnnpack", aten.conv2d.default): ((x4, torch.randn(6, 1, 7, 7), torch.randn(6), [1, 1], [3, 3], [1, 1], 6),),
}
CUSTOM = {
    torch.ops.edge.local_attention.default: (x4, torch.randn(2, 6, 8, 10), torch.randn(2, 6, 8, 10), None),
    torch.ops.edge.partial_conv.default: (x4, torch.randn(2, 2, 3, 3)),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend,op", list(OTHER_CASES), ids=str)
def test_other_backend_lowering_equals_op_for_any_layout(backend, op, layout):
    table = lowerings_for(TARGETS[backend])
    assert op in table, f"no {backend} lowering for {op}"
    args = OTHER_CASES[(backend, op)][0]
    got = _outputs(table[op].fn(laid_out(args[0], layout), *args[1:]))
    assert all(close(g, w) for g, w in zip(got, _outputs(op(*args))))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", ["xnnpack", "litert", "coreml", "onnx"])
@pytest.mark.parametrize("op", list(CUSTOM), ids=str)
def test_custom_op_lowering_equals_reference_for_any_layout(op, backend, layout):
    from edge.ops import reference_local_attention, reference_partial_conv

    args = CUSTOM[op]
    reference = reference_local_attention if op is torch.ops.edge.local_attention.default else reference_partial_conv
    moved = tuple(laid_out(a, layout) if isinstance(a, torch.Tensor) else a for a in args)
    assert close(lowerings_for(TARGETS[backend])[op].fn(*moved), reference(*args))


@pytest.mark.parametrize("norm", [torch.nn.LayerNorm(16), torch.nn.GroupNorm(1, 16)], ids=["layer_norm", "group_norm"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_xnnpack_norm_epsilon_is_a_normal_number_of_its_dtype(norm, dtype):
    """1e-5 is subnormal in float16, which ARM fp16 kernels flush to zero (NaN on constant tokens)."""
    x = torch.randn(2, 16, 4, 4) if isinstance(norm, torch.nn.GroupNorm) else torch.randn(2, 5, 16)
    program = export_program(norm.to(dtype).eval(), (x.to(dtype),))
    lowered, _ = apply_lowerings(program, TARGETS["xnnpack"])
    eps = [
        a
        for n in lowered.graph.nodes
        if n.op == "call_function" and "add" in str(n.target)
        for a in n.args
        if isinstance(a, float)
    ]
    assert eps == [max(1e-5, torch.finfo(dtype).tiny)]


class ViewAfterBiasedAttention(torch.nn.Module):
    """Swin's form: SDPA with a relative-position bias read from a permuted table as its mask, then a
    transpose and reshape of its output, which torch.export records as a view (valid for the strides
    the export's SDPA kernel gives a transposed query)."""

    def __init__(self, dim=32, heads=2, tokens=16):
        super().__init__()
        self.q, self.k, self.v = (torch.nn.Linear(dim, dim) for _ in range(3))
        self.table, self.heads = torch.nn.Parameter(torch.randn(tokens, tokens, heads)), heads

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        shape = (b, h * w, self.heads, c // self.heads)
        q, k, v = (p(tokens).view(shape).transpose(1, 2) for p in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.table.permute(2, 0, 1).unsqueeze(0), scale=0.3)
        return out.transpose(1, 2).reshape(b, h * w, c).mean(1)


@pytest.mark.parametrize("model", [ViewAfterAttention(16), ViewAfterBiasedAttention(16)], ids=["plain", "biased"])
def test_onnx_conversion_of_a_view_after_attention_runs_as_eager(model):
    """torch.onnx re-runs SDPA with other output strides than torch.export recorded (Swin failed there)."""
    import onnxruntime as ort

    from edge.targets.onnx.exporter import to_onnx

    model, x = model.eval(), torch.randn(1, 16, 4, 4)
    program, _ = apply_lowerings(export_program(model, (x,)), TARGETS["onnx"])
    proto, _, _ = to_onnx(program, (x,))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        assert close(torch.from_numpy(session.run(None, {"input": x.numpy()})[0]), model(x))
