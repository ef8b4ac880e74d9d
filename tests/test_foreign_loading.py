"""Hugging Face models the way users have them: `hf:<name>`, a save_pretrained folder with its
preprocessor_config.json, ModelOutput reduced to logits; near-zero outputs judged by absolute error;
failures as one EdgeError line naming backend, op, module and source line."""

import json
import textwrap

import pytest
import torch

from common.errors import EdgeError, ExportError
from edge.corpus import CORPUS, corpus_names

REQUIRED = {
    "mobilevit",
    "mobilevitv2",
    "levit",
    "swiftformer",
    "segformer",
    "pvt",
    "pvt_v2",
    "swin",
    "swinv2",
    "vit",
    "deit",
    "dinov2",
    "convnextv2",
    "cvt",
    "focalnet",
    "poolformer",
    "mobilenet_v2",
    "efficientnet",
    "hiera",
}


def test_corpus_holds_every_required_architecture():
    assert REQUIRED <= set(corpus_names())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_model_builds_small_with_input_dependent_logits(name):
    from edge.loading import build_model, model_config

    model = build_model(f"hf:{name}")
    cfg = model_config(model)
    assert cfg.name == f"hf_{name}" and cfg.input_size <= 64 and cfg.num_classes == 10
    assert sum(p.numel() for p in model.parameters()) < 500_000
    x = torch.randn(2, 3, cfg.input_size, cfg.input_size)
    with torch.no_grad():
        logits = model(x).logits
    assert logits.shape == (2, 10) and logits.abs().max() > 1e-2  # not the ~0 of transformers' own init


def test_unknown_corpus_name_suggests_the_close_one():
    from edge.loading import build_model

    with pytest.raises(EdgeError, match="Did you mean 'mobilevit'"):
        build_model("hf:mobilevitt")


@pytest.fixture(scope="module")
def pretrained_folder(tmp_path_factory):
    from edge.corpus.hf import instantiate

    folder = tmp_path_factory.mktemp("hf") / "my-vit"
    instantiate(CORPUS["vit"]).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "do_resize": True,
                "size": {"height": 32, "width": 32},
                "resample": 2,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5],
                "image_processor_type": "ViTImageProcessor",
            }
        )
    )
    return folder


def test_save_pretrained_folder_loads_with_its_preprocessing(pretrained_folder):
    from edge.corpus.hf import instantiate
    from edge.loading import build_model, model_config

    model = build_model(str(pretrained_folder))
    cfg = model_config(model)
    assert (cfg.name, cfg.input_size, cfg.mean, cfg.std, cfg.interpolation) == (
        "my-vit",
        32,
        (0.5, 0.5, 0.5),
        (0.5, 0.5, 0.5),
        "bilinear",
    )
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x).logits, instantiate(CORPUS["vit"])(x).logits)  # the saved weights, not new ones


def test_save_pretrained_folder_exports_from_the_cli(pretrained_folder, tmp_path, capsys):
    from edge.cli import main

    assert main(["export", str(pretrained_folder), "--target", "onnx", "-o", str(tmp_path), "--json"]) == 0
    manifest = json.loads((tmp_path / "my-vit-onnx-fp32.json").read_text())
    assert manifest["parity"]["status"] == "passed"
    assert manifest["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
    assert manifest["outputs"][0]["source"] == "the 'logits' entry of the model's output"


def test_folder_without_weights_is_one_edge_error(tmp_path):
    from edge.corpus.hf import instantiate
    from edge.loading import build_model

    instantiate(CORPUS["vit"]).config.save_pretrained(tmp_path)
    with pytest.raises(EdgeError, match="no model.safetensors"):
        build_model(str(tmp_path))


def test_near_zero_outputs_are_judged_by_absolute_error():
    """transformers' own init gives MobileViT logits of ~0: cosine cannot judge them, absolute error can."""
    from common.compare import NEAR_ZERO, compare, summarize

    ref = torch.randn(10).numpy() * 1e-40
    ok = summarize([compare(ref, ref * 0.0)], "fp32")
    assert ok["status"] == "passed" and ok["near_zero"]["samples"] == 1
    wrong = summarize([compare(ref, ref + 10 * NEAR_ZERO)], "fp32")
    assert wrong["status"] == "failed"
    real = summarize([compare(torch.ones(10).numpy(), torch.zeros(10).numpy() + 1e-3)], "fp32")
    assert real["status"] == "passed" and "near_zero" not in real


BAD = """
import torch
from torch import nn

class Fft(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
    def forward(self, x):
        return torch.fft.rfft2(self.conv(x)).abs().mean((2, 3))

class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
    def forward(self, x):
        y = self.conv(x).mean((2, 3))
        return y * 2 if y.sum() > 0 else y

class NoLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
    def forward(self, x):
        return {"scores": self.conv(x).mean((2, 3))}

def fft(**kw): return Fft()
def branchy(**kw): return Branchy()
def no_logits(**kw): return NoLogits()
"""


@pytest.mark.parametrize("factory,says", [("fft", "fft"), ("branchy", "data-dependent"), ("no_logits", "no 'logits'")])
def test_cli_refuses_unexportable_models_in_one_line(factory, says, tmp_path, monkeypatch, capsys):
    from edge.cli import main

    (tmp_path / "bad_models_h14.py").write_text(textwrap.dedent(BAD))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(
        [
            "export",
            f"bad_models_h14:{factory}",
            "--target",
            "xnnpack",
            "--input-size",
            "32",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    err = [line for line in lines if line.startswith("edge: error:")]
    assert code == 2 and len(err) == 1 and lines[-1] == err[0], lines
    assert not any("Traceback" in line for line in lines)
    assert says in err[0].lower() and "unexpected" not in err[0]
    assert not (tmp_path / "out").exists()


def test_a_raw_lowering_failure_names_backend_op_module_and_source(monkeypatch, tmp_path):
    """Any exception inside the pipeline leaves it as one ExportError with the FX node's context."""
    from torch import nn

    import edge.targets.xnnpack.layout as layout
    from edge.export import export

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return torch.softmax(self.proj(x), dim=1).mean((2, 3))

    def broken(x, dim):
        raise ValueError("Cannot view a tensor with shape [4, 256, 4, 16]\nsecond line")

    monkeypatch.setattr(layout, "softmax_on_rows", broken)
    with pytest.raises(ExportError) as info:
        export(Head(), torch.randn(1, 3, 32, 32), target="xnnpack", out_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message and "second line" not in message
    for part in ("xnnpack", "aten.softmax", "ValueError: Cannot view a tensor", "test_foreign_loading.py:"):
        assert part in message, message
    assert not any(tmp_path.iterdir())


def test_a_converters_terminal_colours_do_not_reach_the_error_line():
    from edge.diagnose import first_line

    coloured = RuntimeError("Failed to decompose. \x1b[96mThis is step 2/3\x1b[0m of exporting\nTraceback ...")
    assert first_line(coloured) == "Failed to decompose. This is step 2/3 of exporting"
