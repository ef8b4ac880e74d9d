"""`edge eval`: a digits model exported to ONNX, evaluated on the digits test folder against its eager model."""

import json
import re
import shutil

import pytest

from edge.cli import main
from edge.digits import DIGITS_DIR, write_image_folder
from edge.evaluate import evaluate

MODEL = "fasternet_t0"
WEIGHTS = DIGITS_DIR / f"{MODEL}.safetensors"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The committed digits FasterNet-T0 as fp32 ONNX, and the digits test images as a class folder."""
    pytest.importorskip("onnxruntime", reason="edge eval runs the .onnx in onnxruntime (pip install 'edge[onnx]')")
    from edge.export import export

    out = tmp_path_factory.mktemp("eval")
    result = export(MODEL, target="onnx", num_classes=10, input_size=64, weights=WEIGHTS, out_dir=out)
    return result.path, write_image_folder(out / "digits")


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse errors exit through SystemExit
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_prints_both_top1s_and_they_agree(capsys, exported):
    artifact, data = exported
    code, out, err = run(capsys, "eval", artifact, "--data", data, "--weights", WEIGHTS)
    assert code == 0, err
    artifact_top1 = float(re.search(r"top-1 artifact\s+([\d.]+)%", out).group(1))
    eager_top1 = float(re.search(r"top-1 eager fp32\s+([\d.]+)%", out).group(1))
    assert abs(artifact_top1 - eager_top1) <= 0.5 and eager_top1 >= 95
    assert "359 images of 10 classes" in out and "drop" in out and "agree on" in out


def test_eval_api_reports_drop_and_agreement(exported):
    artifact, data = exported
    result = evaluate(artifact, data, weights=WEIGHTS, limit=120)
    assert result["images"] == 120 and result["class_rule"] == "numeric folder names"
    assert result["drop_points"] == pytest.approx(result["eager_top1"] - result["artifact_top1"])
    assert result["agreement"] >= 99.5 and result["mean_cosine"] > 0.9999 and result["notes"] == []


def test_limit_takes_the_classes_in_turn(capsys, exported):
    artifact, data = exported
    code, out, _ = run(capsys, "eval", artifact, "--data", data, "--weights", WEIGHTS, "--limit", 20, "--json")
    result = json.loads(out)
    assert code == 0 and result["images"] == 20 and result["classes"] == 10


def test_without_weights_the_output_says_eager_is_random(exported):
    result = evaluate(exported[0], exported[1], limit=10)
    assert result["weights"] is None and "random weights" in result["notes"][0]


def _copy_export(artifact, dest, **manifest_changes):
    dest.mkdir()
    copy = shutil.copy(artifact, dest / artifact.name)
    manifest = json.loads(artifact.with_suffix(".json").read_text())
    manifest.update(manifest_changes)
    (dest / artifact.with_suffix(".json").name).write_text(json.dumps(manifest))
    return copy


def _renamed_folder(data, dest, rename):
    shutil.copytree(data, dest)
    for c in range(10):
        (dest / str(c)).rename(dest / rename(c))
    return dest


def test_folders_named_by_manifest_labels(exported, tmp_path):
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    artifact = _copy_export(exported[0], tmp_path / "labelled", labels=words)
    data = _renamed_folder(exported[1], tmp_path / "words", lambda c: words[c])  # sorted order would differ
    result = evaluate(artifact, data, weights=WEIGHTS, limit=50)
    assert result["class_rule"] == "manifest labels" and result["artifact_top1"] >= 90


def test_other_folder_names_map_in_sorted_order(exported, tmp_path):
    data = _renamed_folder(exported[1], tmp_path / "named", lambda c: f"class-{c}")
    result = evaluate(exported[0], data, weights=WEIGHTS, limit=50)
    assert result["class_rule"] == "sorted folder names" and result["artifact_top1"] >= 90


def _no_manifest(artifact, data, tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    return shutil.copy(artifact, lone / artifact.name), data


def _coreml(artifact, data, tmp_path):
    manifest = json.loads(artifact.with_suffix(".json").read_text())
    package = tmp_path / "m.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{}")
    manifest["artifact"].update(file=package.name, format="mlpackage", extra_files={})
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    return package, data


def _folder(make):
    def spoil(artifact, data, tmp_path):
        folder = tmp_path / "data"
        folder.mkdir()
        make(folder, data)
        return artifact, folder

    return spoil


def _bad_png(folder, data):
    shutil.copytree(data / "3", folder / "3")
    (folder / "3" / "broken.png").write_bytes(b"not a png at all")


def _eleven_classes(folder, data):
    for c in range(11):
        (folder / f"c{c}").mkdir()


@pytest.mark.parametrize(
    "spoil, needle",
    [
        (lambda a, d, t: (t / "nope.onnx", d), "does not exist"),
        (_no_manifest, "no manifest"),
        (_coreml, "runs only on macOS"),
        (lambda a, d, t: (a, t / "missing"), "does not exist; give a folder"),
        (_folder(lambda f, d: None), "has no class sub-folders"),
        (
            _folder(lambda f, d: (f / "image.png").write_bytes((d / "0").iterdir().__next__().read_bytes())),
            "has no class sub-folders",
        ),
        (_folder(lambda f, d: [(f / str(c)).mkdir() for c in range(10)]), "no images in the class folders"),
        (_folder(_bad_png), "is not a readable image"),
        (_folder(_eleven_classes), "11 class folders but the model has 10 classes"),
        (_folder(lambda f, d: (f / "12").mkdir()), "'12' is not a class index"),
        (_folder(lambda f, d: [(f / n).mkdir() for n in ("cat", "dog")]), "every class needs its folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, exported, tmp_path, spoil, needle):
    artifact, data = spoil(*exported, tmp_path)
    code, out, err = run(capsys, "eval", artifact, "--data", data, "--weights", WEIGHTS)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--weights", DIGITS_DIR / "iformer_t.safetensors"], "do not match fasternet_t0"),
        (["--limit", "0"], "--limit: must be between 1"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(capsys, exported, argv, needle):
    code, out, err = run(capsys, "eval", exported[0], "--data", exported[1], *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
