"""Put an exported artifact and its manifest where a demo app bundles models (`edge bundle`).

The apps (android_demo/, ios_demo/) read only the artifact and the manifest beside it, so the copy
is checked first: the manifest must be a valid edge manifest that describes this very file (same
sha256), and the app must run the file's format. Files land under their final names atomically
(temporary name, then rename), so an interrupted copy never leaves half a model in an app.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from common.errors import EdgeError
from edge.manifest import find_manifest, load_manifest, manifest_entry

# The demo apps' identities, shared with their sources (tests/test_demos.py keeps them equal).
ANDROID_PACKAGE = "org.edge.demo"
ANDROID_BENCHMARK_ACTIVITY = f"{ANDROID_PACKAGE}/.BenchmarkActivity"
ANDROID_PUSH_DIR = f"/sdcard/Android/data/{ANDROID_PACKAGE}/files"
IOS_BUNDLE_ID = "org.edge.demo"


@dataclass(frozen=True)
class DemoApp:
    name: str
    folder: str  # the app's folder in this repository
    marker: str  # a file that shows a folder is that app
    models_dir: str  # where bundled models go, relative to the app folder
    formats: tuple[str, ...]  # artifact formats the app runs
    next_steps: tuple[str, ...]


APPS = {
    "android": DemoApp(
        "android",
        "android_demo",
        "settings.gradle.kts",
        "app/src/main/assets/models",
        ("pte", "tflite", "ort", "onnx"),
        ("cd {demo_dir} && ./gradlew :app:installRelease", f"adb shell am start -n {ANDROID_PACKAGE}/.MainActivity"),
    ),
    "ios": DemoApp(
        "ios",
        "ios_demo",
        "project.yml",
        "Models",
        ("pte", "mlpackage"),
        ("cd {demo_dir} && xcodegen generate", "open {demo_dir}/EdgeDemo.xcodeproj, pick your iPhone, Product > Run"),
    ),
}

_SUFFIX_FORMATS = {".pte": "pte", ".tflite": "tflite", ".ort": "ort", ".onnx": "onnx", ".mlpackage": "mlpackage"}


@dataclass
class BundleResult:
    app: str
    model: Path  # the copied artifact in the app
    manifest: Path  # the copied manifest beside it
    replaced: bool  # an earlier copy of the same name was replaced
    next_steps: list[str]
    labels: Path | None = None  # <stem>.labels.txt, one class name per line, when the manifest has labels


def default_demo_dir(app: DemoApp) -> Path:
    """The app folder of this checkout (beside the edge package), else the one in the working folder."""
    checkout = Path(__file__).resolve().parent.parent / app.folder
    return checkout if checkout.is_dir() else Path.cwd() / app.folder


def check_artifact(artifact: Path, manifest: dict, app: DemoApp) -> str:
    """The artifact's format, once its header, the app and the manifest's sha256 all agree."""
    from edge.manifest import sha256_of
    from runtimes.formats import ArtifactError, detect_format

    if not artifact.exists():
        raise EdgeError(
            f"artifact {str(artifact)!r} does not exist; check the path (`edge export` writes "
            f"<model>-<target>-<quant>.<ext>)."
        )
    claimed = _SUFFIX_FORMATS.get(artifact.suffix)
    if claimed is None:
        raise EdgeError(
            f"{artifact.name!r} is not an artifact the demo apps run (.pte, .tflite, .ort, .onnx, .mlpackage)."
        )
    if claimed not in app.formats:
        other = "ios" if app.name == "android" else "android"
        raise EdgeError(
            f"the {app.name} demo does not run .{claimed} files (it runs "
            f"{', '.join('.' + f for f in app.formats)}); use --app {other}, or export a target for "
            f"{app.name} (`edge export MODEL --target {app.name}`)."
        )
    try:
        fmt = detect_format(artifact)
    except ArtifactError as e:
        raise EdgeError(str(e)) from None
    from edge.integrity import check_artifact as check_integrity

    check_integrity(artifact)  # structure (truncation, the ONNX checker) and the sha256 beside it
    entry = manifest_entry(manifest, artifact)
    if sha256_of(artifact) != entry["sha256"]:
        raise EdgeError(
            f"{artifact.name!r} does not match its manifest (sha256 differs): one of the two comes from "
            f"another export. Re-export so they are written together."
        )
    return fmt


def _copy_atomically(source: Path, destination: Path) -> bool:
    """Copy a file or folder to a temporary name beside `destination`, then rename; True if it replaced one."""
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    old = destination.with_name(f".{destination.name}.old-{os.getpid()}")
    replaced = destination.exists()
    try:
        if source.is_dir():
            shutil.copytree(source, partial)
            if replaced:  # a folder cannot be replaced by rename while it exists
                os.replace(destination, old)
            os.replace(partial, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.copyfile(source, partial)
            os.replace(partial, destination)
    except OSError as e:
        raise EdgeError(f"cannot copy {source.name!r} into {str(destination.parent)!r} ({e.strerror or e}).") from None
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)
    return replaced


def bundle(artifact: str | Path, app: str, demo_dir: str | Path | None = None) -> BundleResult:
    """Copy ARTIFACT and its manifest into the app's bundled-model folder; EdgeError on any mistake."""
    if app not in APPS:
        raise EdgeError(f"unknown app {app!r}; use --app android or --app ios.")
    spec = APPS[app]
    root = Path(demo_dir) if demo_dir is not None else default_demo_dir(spec)
    if not (root / spec.marker).is_file():
        raise EdgeError(
            f"{str(root)!r} is not the {spec.folder} app (no {spec.marker}); pass --demo-dir with the "
            f"path of {spec.folder}/ from the edge repository."
        )
    artifact_path, manifest_path = find_manifest(Path(artifact))
    manifest = load_manifest(manifest_path)
    check_artifact(artifact_path, manifest, spec)
    models = root / spec.models_dir
    try:
        models.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EdgeError(f"cannot create {str(models)!r} ({e.strerror}).") from None
    model_target = models / artifact_path.name
    manifest_target = models / (artifact_path.stem + ".json")  # the apps look for <stem>.json beside the model
    replaced = _copy_atomically(artifact_path, model_target)
    _copy_atomically(manifest_path, manifest_target)
    labels_target = None
    if manifest["labels"]:  # the platform paths read labels from the artifact; other code can read this file
        labels_target = models / (artifact_path.stem + ".labels.txt")
        _write_atomically(labels_target, "".join(f"{label}\n" for label in manifest["labels"]))
    steps = [step.format(demo_dir=root) for step in spec.next_steps]
    return BundleResult(app, model_target, manifest_target, replaced, steps, labels_target)


def _write_atomically(destination: Path, text: str) -> None:
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, destination)
    except OSError as e:
        raise EdgeError(f"cannot write {str(destination)!r} ({e.strerror or e}).") from None
    finally:
        partial.unlink(missing_ok=True)
