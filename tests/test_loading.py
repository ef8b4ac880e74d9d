"""Models by name, by factory, as modules; weights from safetensors or state_dict, never pickles."""

import pytest
import torch
from safetensors.torch import save_file

from common.errors import EdgeError
from edge import build_model, models
from edge.loading import model_config, read_state_dict

NAME, SIZE = "fasternet_t0", 64


@pytest.fixture
def trained_state():
    return models.create(NAME, num_classes=5, input_size=SIZE).state_dict()


def _same_weights(model, state):
    return all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_safetensors_weights_load(tmp_path, trained_state):
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in trained_state.items()}, str(path))
    assert _same_weights(build_model(NAME, num_classes=5, input_size=SIZE, weights=path), trained_state)


def test_state_dict_weights_load(tmp_path, trained_state):
    path = tmp_path / "w.pt"
    torch.save(trained_state, path)
    assert _same_weights(build_model(NAME, num_classes=5, weights=path), trained_state)


def test_checkpoint_wrapper_is_unwrapped(tmp_path, trained_state):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": trained_state, "epoch": torch.tensor(3)}, path)
    assert _same_weights(build_model(NAME, num_classes=5, weights=path), trained_state)


class Payload:
    """Stands for an arbitrary pickled object; loading must refuse it, not run it."""


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    with pytest.raises(EdgeError, match="pickled objects"):
        read_state_dict(path)


def test_whole_module_pickle_is_refused(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(models.create(NAME, num_classes=5), path)
    with pytest.raises(EdgeError, match="pickled objects"):
        read_state_dict(path)


@pytest.mark.parametrize("content", [b"", b"not a weights file at all", b"\x80\x04garbage"])
def test_unreadable_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(EdgeError, match="broken.pt"):
        read_state_dict(path)


def test_truncated_safetensors_is_a_clear_error(tmp_path, trained_state):
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in trained_state.items()}, str(path))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(EdgeError, match="safetensors"):
        read_state_dict(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(EdgeError, match="does not exist"):
        read_state_dict(tmp_path / "nope.safetensors")


def test_mismatched_weights_name_the_first_bad_key(tmp_path, trained_state):
    path = tmp_path / "w.pt"
    torch.save(trained_state, path)
    with pytest.raises(EdgeError, match=r"shape mismatches \(first: classifier\.weight.*--num-classes"):
        build_model(NAME, num_classes=1000, weights=path)


def test_weights_of_another_architecture_are_rejected(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(models.create("iformer_t").state_dict(), path)
    with pytest.raises(EdgeError, match="do not match fasternet_t0"):
        build_model(NAME, weights=path)


def tiny_factory(num_classes=3, input_size=None):
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, num_classes)
    )


def test_factory_spec_builds_module():
    model = build_model("tests.test_loading:tiny_factory", num_classes=6)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 6)


@pytest.mark.parametrize(
    "spec,match",
    [
        ("tests.no_such_module:f", "cannot import"),
        ("tests.test_loading:no_such_fn", "no callable"),
        ("tests.test_loading:NAME", "no callable"),
    ],
)
def test_bad_factory_is_a_clear_error(spec, match):
    with pytest.raises(EdgeError, match=match):
        build_model(spec)


def test_foreign_module_gets_a_config_with_its_class_count():
    cfg = model_config(tiny_factory(num_classes=9), input_size=48)
    assert (cfg.family, cfg.num_classes, cfg.input_size) == ("custom", 9, 48)
