"""The CLI skeleton: list, info, version, help, and one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest
import torch

from edge import models
from edge.cli import main
from tests.test_models import ATTENTION_IN_REFERENCE, REFERENCE


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's --help/--version exit through SystemExit
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_has_models_within_bounds_and_targets(capsys):
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert code == 0
    by_name = {m["name"]: m for m in data["models"]}
    assert set(by_name) == set(REFERENCE)
    for name, (params, gmacs) in REFERENCE.items():
        assert abs(by_name[name]["params"] - params) / params <= 0.01
        key = "gmacs" if ATTENTION_IN_REFERENCE[by_name[name]["family"]] else "gmacs_without_attention"
        assert abs(by_name[name][key] - gmacs) / gmacs <= 0.03
    targets = {t["name"]: t for t in data["targets"]}
    assert set(targets) == {"xnnpack", "litert", "coreml", "onnx"}
    assert all({"can_export", "can_run", "reason"} <= set(t) for t in targets.values())


def test_list_table_shows_every_variant(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and all(name in out for name in REFERENCE) and "1,272,024" in out


def test_version(capsys):
    from edge import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


@pytest.mark.parametrize("command", [[], ["list"], ["info"]])
def test_help_on_every_command(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "usage: edge" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["info", "mobilevit_xx"], "Did you mean 'mobilevit_xxs'"),
        (["lst"], "Did you mean 'list'"),
        (["list", "--family", "fasterne"], "Did you mean 'fasternet'"),
        (["info", "fasternet_t0", "--weights", "/nonexistent/w.safetensors"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_pickled_weights_via_cli(capsys, tmp_path):
    path = tmp_path / "model.pt"
    torch.save(models.create("fasternet_t0"), path)  # a whole pickled module, not a state_dict
    code, _, err = run(capsys, "info", "fasternet_t0", "--weights", str(path))
    assert code == 2 and "pickled objects" in err and len(err.strip().splitlines()) == 1


def test_mismatched_weights_via_cli(capsys, tmp_path):
    path = tmp_path / "w.pt"
    torch.save(models.create("fasternet_t0", num_classes=10).state_dict(), path)
    code, _, err = run(capsys, "info", "fasternet_t0", "--weights", str(path))
    assert code == 2 and "do not match fasternet_t0" in err and len(err.strip().splitlines()) == 1


def test_info_json_loads_matching_weights(capsys, tmp_path):
    path = tmp_path / "w.pt"
    torch.save(models.create("fasternet_t0", num_classes=10).state_dict(), path)
    code, out, _ = run(capsys, "info", "fasternet_t0", "--num-classes", "10", "--weights", str(path), "--json")
    assert code == 0 and json.loads(out)["num_classes"] == 10


def test_console_script_is_installed():
    """The `edge` entry point itself (not only main()) answers, with exit code 2 on a bad name."""
    result = subprocess.run([sys.executable, "-m", "edge.cli", "info", "nosuchmodel"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("edge: error: unknown model")


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["exprot", "x"], "unknown command 'exprot'. Did you mean 'export'?"),
        (["export", "fasternet_t0", "--quant", "int4"], "argument --quant: invalid choice: 'int4'"),
        (
            ["export", "fasternet_t0", "--coreml-ios", "16"],
            "argument --coreml-ios: invalid choice: 16 (choose from 17, 18)",
        ),
    ],
)
def test_a_bad_choice_names_the_command_or_the_option_it_belongs_to(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
