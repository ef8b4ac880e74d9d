"""`edge bundle`: an exported artifact and its manifest copied into a demo app's model folder, and every
bad input (stale, missing or garbled manifest, wrong header, wrong app folder) refused in one line."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import jsonschema
import pytest

from common.errors import EdgeError
from edge import demo_assets
from edge.manifest import load_schema as manifest_schema
from edge.manifest import sha256_of, size_of
from tests.demo_sources import REPO

ANDROID, IOS = REPO / "android_demo", REPO / "ios_demo"

HEADERS = {
    ".pte": b"\0\0\0\0ET12" + bytes(24),
    ".tflite": b"\0\0\0\0TFL3" + bytes(24),
    ".ort": b"\0\0\0\0ORTM" + bytes(24),
}
TARGET = {".pte": ("xnnpack", "pte"), ".tflite": ("litert", "tflite"), ".mlpackage": ("coreml", "mlpackage")}


def make_export(folder: Path, suffix: str, stem: str = "tiny-model-fp32") -> Path:
    """A stand-in for `edge export`'s output: an artifact with the right header and a valid manifest."""
    artifact = folder / f"{stem}{suffix}"
    if suffix == ".mlpackage":
        (artifact / "Data").mkdir(parents=True)
        (artifact / "Manifest.json").write_text("{}")
        (artifact / "Data" / "model.mlmodel").write_bytes(b"spec")
    else:
        artifact.write_bytes(HEADERS[suffix])
    target, fmt = TARGET[suffix]
    manifest = {
        "schema": "edge.manifest/1",
        "artifact": {
            "file": artifact.name,
            "format": fmt,
            "sha256": sha256_of(artifact),
            "size_bytes": size_of(artifact),
            "extra_files": {},
        },
        "model": {"name": "tiny", "family": "fasternet", "params": 10, "gmacs": 0.01, "config": {}},
        "target": {"name": target, "runtime": target, "description": "test"},
        "quant": {"scheme": "fp32"},
        "inputs": [
            {"name": "input", "shape": [1, 3, 8, 8], "dtype": "float32", "layout": "NCHW", "value_range": [0.0, 1.0]}
        ],
        "outputs": [{"name": "logits", "shape": [1, 4], "dtype": "float32", "kind": "logits"}],
        "preprocessing": {
            "color": "RGB",
            "resize_shorter_to": 9,
            "center_crop": 8,
            "interpolation": "bilinear",
            "scale": 1 / 255,
            "mean": [0.5] * 3,
            "std": [0.25] * 3,
        },
        "labels": ["a", "b", "c", "d"],
        "parity": {"status": "passed", "cosine": 1.0},
        "coverage": {"backend": target},
        "fallbacks": [],
        "versions": {"edge": "0.1.0"},
    }
    jsonschema.validate(manifest, manifest_schema())
    artifact.with_suffix(".json").write_text(json.dumps(manifest))
    return artifact


@pytest.fixture
def apps(tmp_path):
    android, ios_app = tmp_path / "android_demo", tmp_path / "ios_demo"
    android.mkdir()
    ios_app.mkdir()
    (android / "settings.gradle.kts").write_text("")
    (ios_app / "project.yml").write_text("")
    return {"android": android, "ios": ios_app}


def run_bundle(*argv: str):
    parser = argparse.ArgumentParser(prog="edge")
    from edge.cli_demo import register

    register(parser.add_subparsers())
    args = parser.parse_args(["bundle", *argv])
    return args.func(args)


@pytest.mark.parametrize(
    "app, suffix, folder",
    [
        ("android", ".pte", "app/src/main/assets/models"),
        ("android", ".tflite", "app/src/main/assets/models"),
        ("ios", ".mlpackage", "Models"),
        ("ios", ".pte", "Models"),
    ],
)
def test_bundle_copies_artifact_and_manifest_into_the_app(tmp_path, apps, capsys, app, suffix, folder):
    artifact = make_export(tmp_path, suffix)
    assert run_bundle(str(artifact), "--app", app, "--demo-dir", str(apps[app])) == 0
    copied = apps[app] / folder / artifact.name
    assert sha256_of(copied) == sha256_of(artifact)
    assert json.loads(copied.with_suffix(".json").read_text())["artifact"]["file"] == artifact.name
    assert f"copied {copied}" in capsys.readouterr().out
    # again, from the manifest this time: replaced in place, no temporary files left behind
    result = demo_assets.bundle(artifact.with_suffix(".json"), app, apps[app])
    assert result.replaced and result.model == copied
    assert sorted(p.name for p in copied.parent.iterdir()) == sorted(
        [artifact.name, artifact.stem + ".json", artifact.stem + ".labels.txt"]
    )
    assert result.labels.read_text().splitlines() == ["a", "b", "c", "d"]


def test_bundle_default_folder_is_this_checkouts_app():
    assert demo_assets.default_demo_dir(demo_assets.APPS["android"]) == ANDROID
    assert demo_assets.default_demo_dir(demo_assets.APPS["ios"]) == IOS


def _stale(artifact: Path):
    artifact.write_bytes(artifact.read_bytes() + b"x")


def _no_manifest(artifact: Path):
    artifact.with_suffix(".json").unlink()


def _garbled_manifest(artifact: Path):
    artifact.with_suffix(".json").write_text("{not json")


def _invalid_manifest(artifact: Path):
    path = artifact.with_suffix(".json")
    path.write_text(json.dumps({**json.loads(path.read_text()), "labels": "cat"}))


def _wrong_header(artifact: Path):
    artifact.write_bytes(HEADERS[".tflite"])


@pytest.mark.parametrize(
    "app, suffix, spoil, needle",
    [
        ("android", ".pte", _stale, "sha256 differs"),
        ("android", ".pte", _no_manifest, "no manifest"),
        ("android", ".pte", _garbled_manifest, "is not JSON"),
        ("android", ".pte", _invalid_manifest, "not a valid edge manifest: at labels"),
        ("android", ".pte", _wrong_header, "holds a tflite model"),
        ("android", ".mlpackage", None, "does not run .mlpackage"),
        ("ios", ".tflite", None, "does not run .tflite"),
    ],
)
def test_bundle_rejects_bad_input_in_one_line(tmp_path, apps, app, suffix, spoil, needle):
    artifact = make_export(tmp_path, suffix)
    if spoil:
        spoil(artifact)
    with pytest.raises(EdgeError, match=re.escape(needle)) as caught:
        run_bundle(str(artifact), "--app", app, "--demo-dir", str(apps[app]))
    assert "\n" not in str(caught.value)
    assert not any(p.is_file() for p in apps[app].rglob("*") if p.name != demo_assets.APPS[app].marker)


def test_bundle_rejects_missing_artifact_and_wrong_app_folder(tmp_path, apps):
    with pytest.raises(EdgeError, match="does not exist"):
        run_bundle(str(tmp_path / "nope.pte"), "--app", "android", "--demo-dir", str(apps["android"]))
    artifact = make_export(tmp_path, ".pte")
    with pytest.raises(EdgeError, match="is not the ios_demo app"):
        run_bundle(str(artifact), "--app", "ios", "--demo-dir", str(apps["android"]))


def test_bundle_unknown_app_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as caught:
        run_bundle(str(tmp_path / "m.pte"), "--app", "windows")
    assert caught.value.code == 2
    with pytest.raises(EdgeError, match="unknown app"):
        demo_assets.bundle(tmp_path / "m.pte", "windows")
