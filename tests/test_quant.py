"""Static int8 (xnnpack, litert): calibration data, verified artifacts, what stays float, bad input."""

import json

import numpy as np
import pytest
import torch

from common.errors import EdgeError
from edge.cli import main
from edge.digits import DIGITS_DIR, write_image_folder
from edge.export import export
from edge.loading import build_model, model_config
from quant.calibration import load_calibration
from quant.config import QuantConfig

SIZE = 64
DIGITS_MODEL = "fasternet_t0"
DIGITS_WEIGHTS = DIGITS_DIR / f"{DIGITS_MODEL}.safetensors"


@pytest.fixture(scope="module")
def config():
    return model_config(build_model("fasternet_t0", num_classes=10, input_size=SIZE), SIZE)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    return write_image_folder(root / "train", "train"), write_image_folder(root / "test", "test")


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# --- calibration data ---------------------------------------------------------------------------


def test_image_folder_is_preprocessed_like_the_app(config, digits):
    calib = load_calibration(digits[0], config, samples=5)
    assert calib.kind == "images" and calib.warning is None and len(calib.inputs) == 5
    assert calib.inputs[0].shape == (1, 3, SIZE, SIZE) and calib.inputs[0].dtype == torch.float32


def test_npz_tensors_are_taken_as_they_are(config, tmp_path):
    data = np.random.default_rng(0).standard_normal((3, 3, SIZE, SIZE)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", inputs=data)
    calib = load_calibration(tmp_path / "calib.npz", config, samples=8)
    assert calib.kind == "tensors" and len(calib.inputs) == 3
    assert np.array_equal(calib.inputs[1].numpy()[0], data[1])


def test_without_data_the_stand_in_is_announced(config):
    calib = load_calibration(None, config, samples=4)
    assert calib.kind == "synthetic" and "--calib" in calib.warning and len(calib.inputs) == 4


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d, "no images (it is empty)"),
        (lambda d: (d / "notes.txt").write_text("x") and d, "none is an image"),
        (lambda d: (d / "fake.png").write_text("not a png") and d, "not a readable image"),
        (
            lambda d: np.save(d / "c.npy", np.zeros((2, 3, 32, 32), np.float32)) or d / "c.npy",
            "have shape (2, 3, 32, 32)",
        ),
        (lambda d: np.save(d / "u.npy", np.zeros((2, 3, SIZE, SIZE), np.uint8)) or d / "u.npy", "are uint8"),
    ],
)
def test_bad_calibration_data_is_named(config, tmp_path, make, needle):
    source = make(tmp_path)
    with pytest.raises(EdgeError) as e:
        load_calibration(source, config, samples=4)
    assert needle in str(e.value)


def test_bad_calibration_through_the_cli_is_one_line_exit_2_and_no_artifact(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = run(
        capsys,
        "export",
        "fasternet_t0",
        "--input-size",
        SIZE,
        "--target",
        "xnnpack",
        "--quant",
        "int8",
        "--calib",
        tmp_path / "nowhere",
        "-o",
        out,
    )
    assert code == 2 and err.strip().startswith("edge: error:") and len(err.strip().splitlines()) == 1
    assert "does not exist" in err and not any(out.glob("*.pte"))


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--quant", "fp32", "--calib", "x"], "only apply to --quant int8"),
        (["--quant", "int8", "--max-drop", "-1"], "max_drop"),
        (["--quant", "fp32", "--target", "xnnpack", "--int8-io"], "int8 input/output needs the int8 scheme"),
        (["--quant", "fp32", "--target", "xnnpack", "--tune-latency"], "--tune-latency only apply to --quant int8"),
        (["--quant", "int8", "--target", "xnnpack", "--tune-latency", "adb"], "--tune-runner PATH"),
        (["--quant", "int8", "--target", "xnnpack", "--tune-latency", "phone"], "takes host, adb or adb:SERIAL"),
        (["--quant", "fp32", "--no-float-back"], "--no-float-back only apply to --quant int8"),
        (["--quant", "fp16", "--no-speed-check"], "--no-speed-check only apply to --quant int8"),
    ],
)
def test_bad_quant_options_are_one_line_exit_2(capsys, tmp_path, argv, needle):
    code, _, err = run(capsys, "export", "fasternet_t0", "--input-size", SIZE, "-o", tmp_path, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_keep_float_names_split_into_op_types_and_module_names():
    from edge.cli import build_parser
    from edge.cli_quant import quant_config_from

    args = build_parser().parse_args(["export", "m", "--quant", "int8", "--keep-float", "softmax,stages.3,linear,head"])
    q = quant_config_from(args)
    assert q.keep_float_ops == ("softmax", "linear") and q.keep_float_modules == ("stages.3", "head")


@pytest.mark.parametrize("switch, field", [("--no-float-back", "float_back"), ("--no-speed-check", "speed_check")])
@pytest.mark.parametrize("given", [False, True])
def test_int8_switches_are_on_unless_switched_off(switch, field, given):
    from edge.cli import build_parser
    from edge.cli_quant import quant_config_from

    argv = ["export", "m", "--quant", "int8"] + ([switch] if given else [])
    assert getattr(quant_config_from(build_parser().parse_args(argv)), field) is not given


def test_config_rejects_unknown_op_types():
    with pytest.raises(ValueError, match="unknown op type 'softmaxx'"):
        QuantConfig(scheme="int8", keep_float_ops=("softmaxx",))


# --- artifacts ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xnnpack_int8(tmp_path_factory, digits):
    """The digits FasterNet-T0 (PConv: the split/cat int8 failure case) as xnnpack int8, with eval data."""
    out = tmp_path_factory.mktemp("xnnpack-int8")
    q = QuantConfig(scheme="int8", calib=str(digits[0]), calib_samples=16, eval_data=str(digits[1]))
    return export(
        DIGITS_MODEL, target="xnnpack", quant=q, num_classes=10, input_size=SIZE, weights=DIGITS_WEIGHTS, out_dir=out
    )


def test_xnnpack_int8_matches_fp32_eager_on_held_out_data(xnnpack_int8):
    parity = xnnpack_int8.manifest["parity"]
    assert parity["status"] == "passed" and parity["cosine"] >= 0.995
    assert "held-out" in parity["inputs"]


def test_xnnpack_int8_weights_really_are_int8(xnnpack_int8):
    fp32_bytes = 4 * xnnpack_int8.manifest["model"]["params"]
    assert xnnpack_int8.manifest["artifact"]["size_bytes"] < 0.35 * fp32_bytes


def test_xnnpack_int8_is_fully_delegated(xnnpack_int8):
    cov = xnnpack_int8.manifest["coverage"]
    assert cov["delegated_subgraphs"] == 1 and cov["non_delegated_nodes"] == 0, cov["non_delegated_ops"]


def test_xnnpack_int8_loses_at_most_one_top1_point_on_digits(xnnpack_int8):
    acc = xnnpack_int8.manifest["quant"]["accuracy"]
    assert acc["status"] == "measured" and acc["images"] == 359
    assert acc["eager_fp32_top1"] > 95 and acc["drop_points"] <= 1.0


def test_manifest_records_calibration_and_plan(xnnpack_int8):
    q = json.loads(xnnpack_int8.manifest_path.read_text())["quant"]
    assert q["scheme"] == "int8" and q["calibration"]["kind"] == "images" and q["calibration"]["samples"] == 16
    assert "XNNPACKQuantizer" in q["plan"]["quantizer"]


@pytest.mark.parametrize("io, dtype", [("float", "float32"), ("int8", "int8")])
def test_litert_int8_io(tmp_path, io, dtype):
    from runtimes import open_session

    result = export(
        "fasternet_t0",
        target="litert",
        quant=QuantConfig(scheme="int8", io=io, calib_samples=8),
        input_size=SIZE,
        num_classes=10,
        out_dir=tmp_path,
    )
    session = open_session(result.path)
    assert session.inputs[0].dtype == dtype and session.outputs[0].dtype == dtype
    assert result.manifest["parity"]["cosine"] >= 0.99 and result.manifest["quant"]["io"] == io
    assert result.manifest["coverage"]["xnnpack"]["non_delegated_nodes"] == 0  # LiteRT's CPU delegate takes it all


def test_synthetic_calibration_warning_reaches_the_manifest(tmp_path):
    result = export(
        "fasternet_t0",
        target="xnnpack",
        quant=QuantConfig(scheme="int8", calib_samples=4),
        input_size=SIZE,
        num_classes=10,
        out_dir=tmp_path,
    )
    assert result.manifest["quant"]["calibration"]["kind"] == "synthetic"
    assert "not from your data" in result.manifest["quant"]["calibration"]["warning"]
    # verified on the photographs only (not the noise image), and the manifest says it is optimistic
    assert result.manifest["parity"]["samples"] == 4 and "optimistic" in result.manifest["parity"]["inputs"]


@pytest.mark.parametrize("keep_float_ops, table", [((), True), (("activation",), False)])
def test_xnnpack_int8_sigmoid_of_silu_gets_its_fixed_unit_range(keep_float_ops, table):
    """SiLU is written out for XNNPACK and its sigmoid annotated with [0, 1) (scale 1/256), so the
    delegate runs it as an int8 table; keeping activations float leaves it unquantized."""
    from edge.lowering import apply_lowerings
    from edge.prepare import export_program
    from edge.targets import TARGETS
    from quant.pt2e import simulate
    from quant.xnnpack import xnnpack_quantizer

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.SiLU(), torch.nn.Conv2d(8, 8, 1)).eval()
    x = torch.randn(1, 3, 16, 16)
    program, _ = apply_lowerings(export_program(model, (x,)), TARGETS["xnnpack"])
    quantized = simulate(program, xnnpack_quantizer(keep_float_ops), [torch.randn(1, 3, 16, 16) for _ in range(4)])
    sigmoid = next(n for n in quantized.graph.nodes if n.target == torch.ops.aten.sigmoid.default)
    scales = [u.args[1] for u in sigmoid.users if "quantize_per_tensor" in str(u.target)]
    assert (scales == [1 / 256]) is table


@pytest.mark.parametrize(
    "keep_float_ops, float_convs", [((), set()), (("depthwise",), {"dw"}), (("conv",), {"dw", "dense"})]
)
def test_keep_float_depthwise_leaves_only_depthwise_convs_float(keep_float_ops, float_convs):
    from edge.prepare import export_program
    from quant.pt2e import simulate
    from quant.xnnpack import xnnpack_quantizer

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dw, self.dense = torch.nn.Conv2d(8, 8, 3, groups=8), torch.nn.Conv2d(8, 8, 1)

        def forward(self, x):
            return self.dense(self.dw(x))

    program = export_program(Block().eval(), (torch.randn(1, 8, 12, 12),))
    quantized = simulate(program, xnnpack_quantizer(keep_float_ops), [torch.randn(1, 8, 12, 12) for _ in range(4)])
    convs = [n for n in quantized.graph.nodes if n.target == torch.ops.aten.conv2d.default]
    floats = {name for name, conv in zip(("dw", "dense"), convs) if "dequantize" not in str(conv.args[0].target)}
    assert floats == float_convs


def test_float_back_floats_the_most_sensitive_parts_until_the_cosine_bound_holds():
    """The planner behind an int8 export that missed its bound (and behind --max-drop): greedy float-back."""
    from edge.prepare import export_program
    from quant.mixed import Reference, plan_for_cosine, plan_within
    from quant.pt2e import simulate
    from quant.xnnpack import xnnpack_quantizer

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(288, 10),
    ).eval()
    calib, probes = [torch.randn(1, 3, 10, 10) for _ in range(4)], [torch.randn(1, 3, 10, 10) for _ in range(3)]
    program = export_program(model, (calib[0],))
    with torch.no_grad():
        fp32 = torch.cat([model(x) for x in probes])
    ref = Reference.build(
        simulate(program, xnnpack_quantizer(), calib, fold_quantize=False), probes, fp32, None, probes, fp32
    )
    strict = plan_for_cosine(ref, 0.9999999)  # beyond int8: parts go float one by one
    assert strict["steps"][0]["float"] == [] and len(strict["steps"]) > 1
    assert strict["worst_cosine"] > strict["steps"][0]["worst_cosine"]
    assert strict["keep_float_ops"] + strict["keep_float_modules"]
    loose = plan_for_cosine(ref, 0.5)  # already met: nothing floats
    assert loose["within_budget"] and not (loose["keep_float_ops"] + loose["keep_float_modules"])
    assert plan_within(ref, 100.0)["steps"] == [{"float": [], "drop_points": 0.0}]


class _StridedSubsample(torch.nn.Module):
    """Tokens -> grid -> every second row and column -> tokens (LeViT's subsampling between stages)."""

    def __init__(self):
        super().__init__()
        self.patches, self.mix, self.head = (
            torch.nn.Conv2d(3, 16, 8, 8),
            torch.nn.Linear(16, 16),
            torch.nn.Linear(16, 8),
        )

    def tokens(self, image):
        return self.mix(self.patches(image).flatten(2).transpose(1, 2))

    def forward(self, image):
        x = self.tokens(image)
        b, n, c = x.shape
        return self.head(x.view(b, 4, 4, c)[:, ::2, ::2].reshape(b, -1, c)).mean(1)


class _PaddedWindows(_StridedSubsample):
    """Token grid zero-padded to a multiple of the window, then cut into windows (Swin)."""

    def forward(self, image):
        x = self.tokens(image)
        b, n, c = x.shape
        x = torch.nn.functional.pad(x.view(b, 4, 4, c), (0, 0, 0, 2, 0, 2))
        windows = x.view(b, 2, 3, 2, 3, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 9, c)
        return self.head(windows).mean((0, 1))[None]


class _SplitAfterReshape(_StridedSubsample):
    """Channels split after a reshape of permuted features (FocalNet's query / context / gates)."""

    def forward(self, image):
        x = self.patches(image).permute(0, 2, 3, 1).contiguous().reshape(1, 16, 16)
        query, gate = x.split(8, dim=-1)
        return self.head(torch.cat([query * gate, gate], -1)).mean(1)


@pytest.mark.parametrize("module", [_StridedSubsample, _PaddedWindows])
def test_xnnpack_int8_data_movement_keeps_one_qparams_and_loads(tmp_path, module):
    """A reshape of a strided slice traces to _to_copy + _unsafe_view, and zero padding to pad; the
    XNNPACK quantizer propagates qparams through neither (nor through the slices of a split after
    them), and XNNPACK's int8 reshape and pad refuse differing input and output qparams when the .pte
    is loaded."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    result = export(module().eval(), (x,), target="xnnpack", quant="int8", out_dir=tmp_path, name="movement")
    assert result.manifest["parity"]["status"] == "passed"
    assert result.manifest["coverage"]["non_delegated_nodes"] == 0


class _ClassToken(torch.nn.Module):
    """Patch tokens with a learned class token concatenated in front (ViT/PVT), then a linear head."""

    def __init__(self):
        super().__init__()
        self.patches, self.head = torch.nn.Conv2d(3, 8, 4, 4), torch.nn.Linear(8, 4)
        self.token = torch.nn.Parameter(torch.randn(1, 1, 8))

    def forward(self, image):
        x = self.patches(image).flatten(2).transpose(1, 2)
        x = torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head(x.reshape(-1, 8))


@pytest.mark.parametrize("keep_ops, keep_modules", [(("cat",), ()), ((), ("",))])
def test_keep_float_reaches_the_ops_the_xnnpack_annotators_do_not_filter(keep_ops, keep_modules):
    """executorch's cat annotator and its view propagation ignore the quantizer's filter; kept float
    must mean float for them too, or float-back's plan is not what the artifact runs."""
    from edge.prepare import export_program
    from quant.pt2e import simulate
    from quant.xnnpack import xnnpack_quantizer

    x = torch.randn(1, 3, 16, 16)
    program = export_program(_ClassToken().eval(), (x,))
    quantized = simulate(program, xnnpack_quantizer(keep_ops, keep_modules), [torch.randn(1, 3, 16, 16)] * 2)
    cat = next(n for n in quantized.graph.nodes if n.target == torch.ops.aten.cat.default)
    assert not any("quantize" in str(u.target) for u in cat.users)  # its output stays float


def test_xnnpack_int8_slices_of_a_split_keep_their_sources_qparams():
    """XNNPACK's int8 slice takes differing input and output qparams and misreads the values (FocalNet's
    split after a reshape: cosine 0.26 to eager); every slice must carry its source's qparams."""
    from edge.lowering import apply_lowerings
    from edge.prepare import export_program
    from edge.targets import TARGETS
    from quant.pt2e import simulate
    from quant.xnnpack import xnnpack_quantizer

    x = torch.randn(1, 3, 32, 32)
    program, _ = apply_lowerings(export_program(_SplitAfterReshape().eval(), (x,)), TARGETS["xnnpack"])
    quantized = simulate(program, xnnpack_quantizer(), [torch.randn(1, 3, 32, 32) for _ in range(4)])
    slices = [n for n in quantized.graph.nodes if n.target == torch.ops.aten.slice.Tensor]
    pairs = [
        (tuple(s.args[0].args[1:3]), tuple(q.args[1:3]))
        for s in slices
        for q in s.users
        if "dequantize" in str(s.args[0].target) and str(q.target).endswith("quantize_per_tensor.default")
    ]
    assert len(pairs) == 2 and all(source == out for source, out in pairs)
