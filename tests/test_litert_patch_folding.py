"""A model no one here wrote that folds patches (transformers' MobileViTV2: F.unfold, a linear attention
with `expand_as`, F.fold) runs on LiteRT verified and fully inside XNNPACK. Before: the converter refused
the expand, then the runtime refused F.fold's STABLEHLO_SCATTER and the one-hot kernel's STABLEHLO_IOTA."""

import pytest

pytest.importorskip("transformers")
pytest.importorskip("litert_torch")


def test_mobilevitv2_runs_on_litert_verified_and_fully_delegated(tmp_path):
    from edge.export import export_targets

    (result,) = export_targets("hf:mobilevitv2", targets="litert", out_dir=tmp_path)
    manifest = result.manifest
    assert manifest["parity"]["status"] == "passed" and manifest["parity"]["cosine"] >= 0.9999
    assert manifest["coverage"]["max_tensor_rank"] <= 4
    xnnpack = manifest["coverage"]["xnnpack"]
    assert xnnpack["non_delegated_nodes"] == 0, xnnpack["non_delegated_ops"]


def test_constants_folded_for_litert_are_dense():
    """litert-torch writes a constant's storage as it lies; a folded strip of a 9x9 depthwise kernel is a
    strided slice, and written as it lay it gave cosine -0.30 on iFormer-T (tests/test_app_io.py)."""
    import torch

    from edge.lowering import apply_lowerings
    from edge.prepare import export_program
    from edge.targets import TARGETS

    model = torch.nn.Conv2d(8, 8, 9, padding=4, groups=8).eval()
    program, _ = apply_lowerings(export_program(model, (torch.randn(1, 8, 16, 16),)), TARGETS["litert"])
    constants = [t for t in list(program.state_dict.values()) + list(program.constants.values())]
    assert len(constants) > 2  # the kernel was cut into strips, and they were folded
    assert all(t.is_contiguous() for t in constants if isinstance(t, torch.Tensor))
