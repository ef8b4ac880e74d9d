"""Recipes: the shipped ones load; unknown keys and wrong types are named; the CLI runs a recipe."""

import json
from pathlib import Path

import pytest

from common.errors import EdgeError
from edge.cli import main
from edge.recipe import load_recipe

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipes_load(path):
    recipe = load_recipe(path)
    assert recipe.model.spec == path.stem and recipe.targets and recipe.quant == "fp32"


def test_the_three_families_have_recipes():
    assert {p.stem.split("_")[0] for p in RECIPES} >= {"mobilevit", "fasternet", "iformer"}


@pytest.mark.parametrize(
    "text,match",
    [
        ("model: {name: fasternet_t0}\ntargts: [onnx]\n", r"unknown key recipe\.targts\. Did you mean 'targets'"),
        ("model: {name: fasternet_t0, input_sise: 64}\n", r"unknown key recipe\.model\.input_sise"),
        ("model: {name: fasternet_t0, input_size: big}\n", r"recipe\.model\.input_size must be an integer, got str"),
        ("model: {name: fasternet_t0}\nquant: 8\n", r"recipe\.quant must be a string, got int"),
        (
            "model: {name: fasternet_t0}\nquantization: {tune_latency: true}\n",
            r"recipe\.quantization\.tune_latency must be a string, got bool",
        ),
        ("model: {name: fasternet_t0}\ntargets: {a: 1}\n", r"recipe\.targets must be a list of str, got dict"),
        ("model: {name: a, factory: 'b:c'}\n", "exactly one of 'name'"),
        ("- just\n- a list\n", "recipe must be a mapping"),
        ("model: [unclosed\n", "not valid YAML"),
        (
            "model: {name: fasternet_t0}\ninput_form: nhwc\n",
            r"input_form must be one of nchw-float, nhwc-float, nhwc-uint8",
        ),
    ],
)
def test_bad_recipes_name_the_problem(tmp_path, text, match):
    with pytest.raises(EdgeError, match=match):
        load_recipe(write(tmp_path, text))


def test_relative_weights_are_relative_to_the_recipe(tmp_path):
    recipe = load_recipe(write(tmp_path, "model: {name: fasternet_t0, weights: w.safetensors}\n"))
    assert recipe.model.weights == str(tmp_path / "w.safetensors")


def test_cli_exports_a_recipe_and_options_override_it(tmp_path, capsys):
    path = write(
        tmp_path,
        f"model: {{name: fasternet_t0, input_size: 64, num_classes: 10}}\n"
        f"targets: [onnx, litert]\nout_dir: {tmp_path / 'from_recipe'}\n",
    )
    code = main(["export", str(path), "--target", "onnx", "-o", str(tmp_path / "cli"), "--json"])
    results = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["target"] for r in results] == ["onnx"]
    assert Path(results[0]["artifact"]).parent == tmp_path / "cli"
    assert not (tmp_path / "from_recipe").exists()


def test_absolute_paths_in_a_recipe_are_kept(tmp_path):
    """An absolute weights or labels path was silently dropped (read as 'not given')."""
    from edge.recipe import load_recipe

    weights, labels = tmp_path / "w.safetensors", tmp_path / "labels.txt"
    (tmp_path / "sub").mkdir()
    recipe = tmp_path / "sub" / "r.yaml"
    recipe.write_text(f"model: {{name: fasternet_t0, weights: {weights}, labels: {labels}}}\n")
    r = load_recipe(recipe)
    assert r.model.weights == str(weights) and r.model.labels == str(labels)


def test_recipe_input_form_and_credits_reach_the_export_request(tmp_path):
    from edge.cli import build_parser
    from edge.cli_export import export_request

    path = write(tmp_path, "model: {name: fasternet_t0, author: Me, license: MIT}\ninput_form: nhwc-uint8\n")
    request = export_request(build_parser().parse_args(["export", str(path)]))
    assert (request["input_form"], request["author"], request["license"]) == ("nhwc-uint8", "Me", "MIT")
    request = export_request(build_parser().parse_args(["export", str(path), "--input-form", "nhwc-float"]))
    assert request["input_form"] == "nhwc-float"  # the command line wins
