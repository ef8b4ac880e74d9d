"""A backend is one folder plus one registration: the toy .pt2 backend exports, verifies and writes a manifest."""

import json

import pytest
import torch

from edge.export import export
from edge.targets import TARGETS, register_target
from tests.toy_backend import TARGET


@pytest.fixture
def toy_registered():
    register_target(TARGET)
    yield TARGET
    del TARGETS[TARGET.name]


def test_a_toy_backend_exports_through_the_pipeline_and_is_verified(toy_registered, tmp_path):
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 10),
    ).eval()
    result = export(model, (torch.randn(1, 3, 32, 32),), target="pt2", out_dir=tmp_path)
    manifest = json.loads(result.manifest_path.read_text())
    assert result.path.suffix == ".pt2" and result.path.exists()
    assert manifest["target"] == {"name": "pt2", "runtime": "torch", "description": TARGET.description}
    assert manifest["parity"]["status"] == "passed" and manifest["parity"]["cosine"] >= 0.9999
    assert "torch" in manifest["versions"]
