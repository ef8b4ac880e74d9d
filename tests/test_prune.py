"""Structured pruning (quant.prune): channels really go, hybrid blocks stay consistent, exports verify."""

import copy
import json

import pytest
import torch
from torch import nn

from edge import models
from edge.cli import main
from edge.export import export
from edge.models.iformer import SHMA
from edge.models.layers import PartialConv
from edge.models.mobilevit import MultiHeadSelfAttention
from edge.models.stats import count_params
from quant.prune import PruneError, prune
from quant.prune.units import PartialConvPruner, QKVAttentionPruner, SHMAPruner
from tests.foreign import FOREIGN_STYLES, TinyViT

SIZE = 64
FAMILIES = ["mobilevit_xxs", "fasternet_t0", "iformer_t"]


def x64(n=1):
    return torch.randn(n, 3, SIZE, SIZE)


@pytest.fixture(scope="module", params=FAMILIES)
def pruned(request):
    """(original, pruned, report) of one zoo variant at --prune 0.3, 10 classes, 64 px."""
    torch.manual_seed(0)
    model = models.create(request.param, num_classes=10, input_size=SIZE).eval()
    out, report = prune(model, x64(), ratio=0.3)
    return model, out, report


def widths(model):
    return {n: tuple(m.weight.shape[:2]) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def test_params_and_macs_drop_by_a_quarter_and_forward_works(pruned):
    model, out, report = pruned
    assert report["params_after"] == count_params(out) <= 0.75 * count_params(model) == 0.75 * report["params_before"]
    assert report["gmacs_after"] <= 0.75 * report["gmacs_before"]
    assert out(x64(2)).shape == (2, 10)


def test_kept_widths_are_multiples_of_round_to(pruned):
    """Every pruned width is a multiple of 8 (PConv's partial conv: a quarter of one, by its split ratio)."""
    model, out, _ = pruned
    before, after = widths(model), widths(out)
    changed = [
        (n, a[0] * (4 if n.endswith("spatial_mixing.conv") else 1)) for n, a in after.items() if a[0] != before[n][0]
    ]
    assert changed and all(w % 8 == 0 for _, w in changed), changed


def test_stem_and_classifier_keep_their_outputs(pruned):
    model, out, report = pruned
    first = next(m for m in out.modules() if isinstance(m, nn.Conv2d))
    last = [m for m in out.modules() if isinstance(m, nn.Linear)][-1]
    assert first.out_channels == next(m for m in model.modules() if isinstance(m, nn.Conv2d)).out_channels
    assert last.out_features == 10 and len(report["excluded"]) == 2


def test_hybrid_blocks_stay_consistent(pruned):
    """Heads equal and head_dim updated, PConv keeps its 1/4 split, SHMA's v_dim follows, concat halves add up."""
    _, out, report = pruned
    for m in out.modules():
        if isinstance(m, MultiHeadSelfAttention):
            dim = m.proj.in_features
            assert m.qkv.weight.shape == (3 * dim, dim) and dim % m.num_heads == 0
        if isinstance(m, PartialConv):
            assert (m.dim_conv + m.dim_untouched) == 4 * m.dim_conv == 4 * m.conv.in_channels
        if isinstance(m, SHMA):
            assert m.v_gate[0].out_channels == 2 * m.v_dim == 2 * m.proj[0].in_channels
            assert m.q[0].out_channels == m.k[0].out_channels
        if hasattr(m, "fusion"):  # MobileViT: fusion reads cat(input, from_tokens)
            assert m.fusion[0].in_channels == m.local[0].in_channels + m.from_tokens[0].out_channels
    assert all(a["head_dim_after"] <= a["head_dim_before"] for a in report["attention"])


def test_pruning_leaves_the_given_model_alone(pruned):
    model, _, _ = pruned
    assert count_params(model) == count_params(models.create(model.config.name, num_classes=10, input_size=SIZE))


def test_partial_conv_pruner_is_exact_on_removed_channels():
    pc = PartialConv(32, 4).eval()
    drop = [1, 5, 9, 20, 30]
    keep = [i for i in range(32) if i not in drop]
    x = x64()[:, :1].repeat(1, 32, 1, 1)[:, :, :8, :8] * torch.randn(1, 32, 1, 1)
    x[:, drop] = 0
    small = copy.deepcopy(pc)
    PartialConvPruner().prune(small, drop)
    assert small.dim_conv == 6 and small.dim_untouched == 21
    torch.testing.assert_close(small(x[:, keep]), pc(x)[:, keep])


def test_attention_pruner_removes_the_same_positions_in_every_head_exactly():
    attn = MultiHeadSelfAttention(32, 4).eval()
    drop = [p + h * 8 for h in range(4) for p in (2, 5)]
    keep = [i for i in range(32) if i not in drop]
    with torch.no_grad():  # removed dims carry nothing: zero q/k/v rows there
        for k in range(3):
            attn.qkv.weight[[i + k * 32 for i in drop]] = 0
            attn.qkv.bias[[i + k * 32 for i in drop]] = 0
    x = torch.randn(4, 9, 32)
    x[..., drop] = 0
    small = copy.deepcopy(attn)
    QKVAttentionPruner().prune(small, drop)
    assert small.proj.in_features == 24 and small.num_heads == 4
    torch.testing.assert_close(small(x[..., keep]), attn(x)[..., keep])


def test_shma_pruner_is_exact_on_removed_widths():
    """Embedding channels that carry zeros, q/k dims with zero q rows and v dims no output reads: removing them
    changes nothing, and v_dim (the reshape constant) follows."""
    shma = SHMA(32, 2).eval()
    for part in (shma.q, shma.k, shma.v_gate, shma.proj):
        part.fuse()
    drop_qk, drop_v, drop = [1, 7, 12], [0, 3, 9, 30], [2, 17, 31]
    with torch.no_grad():
        shma.q[0].weight[drop_qk] = 0
        shma.q[0].bias[drop_qk] = 0
        shma.proj[0].weight[:, drop_v] = 0

    def ranks(param, dim, idxs):  # the removed indices score lowest
        gone = drop_qk if param.shape[dim] == 16 else drop_v
        return torch.tensor([0.0 if i % 32 in gone else 1.0 for i in idxs])

    small = copy.deepcopy(shma)
    pruner = SHMAPruner()
    pruner.prune_inner(small, lambda n, chunks: n - (3 if n == 16 else 4), ranks)
    pruner.prune(small, drop)
    assert small.v_dim == 28 and small.q[0].out_channels == 13 and small.v_gate[0].out_channels == 56
    keep = [i for i in range(32) if i not in drop]
    x = torch.randn(1, 32, 6, 6)
    x[:, drop] = 0
    torch.testing.assert_close(small(x[:, keep]), shma(x)[:, keep])


def test_exclusions_keep_those_outputs():
    model = TinyViT(num_classes=10).eval()
    out, report = prune(model, torch.randn(1, 3, 32, 32), ratio=0.3, keep_stem=False, exclude=["layers.0.mlp.*"])
    assert out.layers[0]["mlp"][0].out_features == 128 and out.layers[1]["mlp"][0].out_features == 88
    assert {"layers.0.mlp.0", "layers.0.mlp.2", "head"} <= set(report["excluded"]) and "embed" not in report["excluded"]


def test_foreign_multihead_attention_prunes_consistently_and_exports(tmp_path):
    model = TinyViT(num_classes=10).eval()
    out, report = prune(model, torch.randn(1, 3, 32, 32), ratio=0.3, keep_stem=False)
    attn = out.layers[0]["attn"]
    assert attn.embed_dim == 48 and attn.num_heads == 4 and attn.head_dim == 12
    assert attn.in_proj_weight.shape == (144, 48) and attn.out_proj.weight.shape == (48, 48)
    assert report["attention"][0] == {
        "module": "layers.0.attn",
        "num_heads": 4,
        "head_dim_before": 16,
        "head_dim_after": 12,
    }
    result = export(out, torch.randn(1, 3, 32, 32), target="xnnpack", out_dir=tmp_path, name="tiny_vit_pruned")
    assert result.manifest["parity"]["status"] == "passed"
    assert result.manifest["coverage"]["non_delegated_nodes"] == 0


@pytest.mark.parametrize("style", ["sdpa_unfold", "manual_attention_unfold"])
def test_foreign_qkv_attention_loses_head_dims_evenly(style):
    """timm-style blocks reshape with C // heads of their input: embedding and inner width shrink together."""
    out, report = prune(FOREIGN_STYLES[style]().eval(), torch.randn(1, 3, 32, 32), ratio=0.3, keep_stem=False)
    block = out.block
    assert block.qkv.weight.shape == (72, 24) and block.proj.weight.shape == (24, 24) and block.heads == 4
    assert block.norm.normalized_shape == (24,) and out(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert report["attention"] == [{"module": "block", "num_heads": 4, "head_dim_before": 8, "head_dim_after": 6}]


def test_flops_target_is_reached_by_searching_the_ratio():
    model = TinyViT(num_classes=10).eval()
    _, report = prune(model, torch.randn(1, 3, 32, 32), flops=0.4, keep_stem=False)
    assert report["gmacs_after"] <= 0.6 * report["gmacs_before"] + 1e-4 and report["flops_target"] == 0.4
    assert 0 < report["ratio"] < 0.95


def test_taylor_importance_needs_calibration_data_and_uses_it():
    model = TinyViT(num_classes=10).eval()
    with pytest.raises(PruneError, match="calibration data"):
        prune(model, torch.randn(1, 3, 32, 32), ratio=0.3, importance="taylor", keep_stem=False)
    calib = (torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)))
    out, report = prune(model, torch.randn(1, 3, 32, 32), ratio=0.3, importance="taylor", calib=calib, keep_stem=False)
    assert report["importance"] == "taylor" and out.layers[0]["attn"].embed_dim == 48
    assert all(p.grad is None for p in out.parameters())


def test_finetune_hook_receives_the_pruned_model():
    seen = []
    out, report = prune(
        TinyViT(num_classes=10).eval(),
        torch.randn(1, 3, 32, 32),
        ratio=0.3,
        keep_stem=False,
        finetune=lambda m: seen.append(count_params(m)),
    )
    assert seen == [count_params(out)] and report["finetuned"] and seen[0] < count_params(TinyViT())


def test_pruned_zoo_model_exports_to_xnnpack_fully_delegated_and_verified(tmp_path):
    torch.manual_seed(0)
    r = export(
        "fasternet_t0", target="xnnpack", input_size=SIZE, num_classes=10, out_dir=tmp_path, prune={"ratio": 0.3}
    )
    m = json.loads(r.manifest_path.read_text())
    assert r.path.name == "fasternet_t0-pruned30-xnnpack-fp32.pte"
    assert m["parity"]["status"] == "passed" and m["coverage"]["non_delegated_nodes"] == 0
    p = m["pruning"]
    assert p["params_after"] == m["model"]["params"] < 0.75 * p["params_before"]
    assert p["gmacs_after"] < 0.75 * p["gmacs_before"] and p["ratio"] == 0.3 and p["round_to"] == 8


class Detaching(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3)
        self.gate = nn.Conv2d(16, 16, 1)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        y = self.conv(x)
        with torch.no_grad():
            y = self.gate(y)
        return self.head(y.mean((2, 3)))


def detaching_net(num_classes=10, input_size=None):
    return Detaching()


def run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--prune", "1.5"], "strictly between 0 and 1. Got 1.5"),
        (["--prune", "0"], "strictly between 0 and 1"),
        (["--prune-flops", "-0.2"], "fraction of GFLOPs to remove must be a number strictly between 0 and 1"),
        (["--prune", "0.3", "--prune-flops", "0.5"], "exactly one of"),
        (["--prune", "0.3", "--prune-importance", "fisher"], "unknown pruning importance 'fisher'"),
        (["--prune-exclude", "head"], "need --prune R or --prune-flops F"),
        (["--prune", "0.3", "--prune-exclude", "layers.9"], "names no module 'layers.9'. Did you mean"),
        (["--prune", "0.3", "--prune-exclude", "*"], "nothing left to prune"),
    ],
)
def test_bad_pruning_requests_exit_2_with_one_line(capsys, tmp_path, args, needle):
    code, err = run(
        capsys,
        "export",
        "tests.foreign:tiny_vit",
        "--input-size",
        "32",
        "--target",
        "xnnpack",
        "-o",
        str(tmp_path),
        *args,
    )
    lines = [line for line in err.splitlines() if line.startswith("edge: error:")]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert not list(tmp_path.iterdir())


def test_model_whose_graph_cannot_be_traced_names_the_module(capsys, tmp_path):
    code, err = run(
        capsys,
        "export",
        "tests.test_prune:detaching_net",
        "--input-size",
        "32",
        "--target",
        "xnnpack",
        "-o",
        str(tmp_path),
        "--prune",
        "0.3",
    )
    assert code == 2 and "module 'gate' (Conv2d) cuts the autograd graph" in err


def test_recipe_prune_section_is_validated(tmp_path):
    from common.errors import EdgeError
    from edge.recipe import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text("model: {name: fasternet_t0}\nprune: {ratio: 0.3, exclude: 'head_conv,stages.4'}\n")
    recipe = load_recipe(path)
    assert recipe.prune.ratio == 0.3 and recipe.prune.exclude == ["head_conv", "stages.4"]
    path.write_text("model: {name: fasternet_t0}\nprune: {ratio: 0.3, round: 8}\n")
    with pytest.raises(EdgeError, match=r"unknown key recipe\.prune\.round\. Did you mean 'round_to'"):
        load_recipe(path)
