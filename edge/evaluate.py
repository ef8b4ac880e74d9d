"""Top-1 of an exported artifact and of its eager fp32 model, side by side, on a folder of labelled images.

The folder holds one sub-folder per class (DIR/<class>/*.png|jpg|...). Every image goes through the
preprocessing recorded in the artifact's manifest, then through the artifact in its runtime and
through the eager model rebuilt from the manifest (zoo name, classes, input size) plus the weights
given. How a folder name becomes a class index (written in `edge eval --help` too):
  1. the manifest has labels: the folder named like a label is that label's index;
  2. else every folder name is a number: that number is the index (folders 0..9 for digits);
  3. else the folders in sorted order are indices 0, 1, ... (one folder per class needed).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from common.errors import EdgeError
from edge.models.registry import ModelConfig

CHUNK = 64  # images preprocessed and run per step: memory stays flat on large folders


def evaluate(
    artifact: str | Path,
    data_dir: str | Path,
    weights: str | Path | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    allow_modified: bool = False,
) -> dict:
    """Top-1 (percent) of the artifact and of the eager fp32 model on data_dir, their drop and agreement."""
    from edge.cli_profile import user_errors
    from edge.manifest import find_manifest, load_manifest, manifest_entry
    from runtimes import detect_format

    if limit is not None and limit < 1:
        raise EdgeError(f"--limit must be at least 1 image; got {limit}.")
    artifact, manifest_path = find_manifest(
        Path(artifact), needed_for="edge eval reads the model, its preprocessing and labels from it"
    )
    manifest = load_manifest(manifest_path)
    manifest_entry(manifest, artifact)
    from edge.integrity import check_artifact

    check_artifact(artifact, allow_modified)
    with user_errors():
        fmt = detect_format(artifact)
    if fmt == "mlpackage" and platform.system() != "Darwin":
        raise EdgeError(
            f"{artifact.name!r} is a Core ML model, which runs only on macOS/iOS; evaluate the "
            "onnx, xnnpack or litert artifact of the same export here, or run edge eval on a Mac."
        )
    if manifest["outputs"][0]["kind"] != "logits":
        raise EdgeError(
            f"{artifact.name!r} does not output class logits (its manifest says "
            f"{manifest['outputs'][0]['kind']!r}), so it has no top-1; evaluate a classifier's artifact."
        )
    config = config_of(manifest)
    samples, rule = labelled_images(Path(data_dir), manifest["labels"], config.num_classes)
    if limit is not None:
        samples = samples[:limit]
    eager = eager_model(manifest, weights)
    from edge.io_form import input_form

    form = input_form(manifest.get("app", {}).get("input_form"))  # the artifact's own input form
    with user_errors():
        from runtimes import open_session

        session = open_session(artifact)
        art_preds, eager_preds, cosines = [], [], []
        for start in range(0, len(samples), CHUNK):
            chunk = samples[start : start + CHUNK]
            x = torch.cat([_preprocess(path, config, data_dir) for path, _ in chunk])
            art_logits = np.stack(
                [
                    _flat(
                        session.run([form.feed(xi[None], config.mean, config.std).numpy()])[0],
                        config.num_classes,
                        artifact,
                    )
                    for xi in x
                ]
            )
            with torch.no_grad():
                eager_logits = eager(x).numpy()
            for who, logits in (("the eager model", eager_logits), (artifact.name, art_logits)):
                if not np.isfinite(logits).all():
                    raise EdgeError(
                        f"{who} outputs NaN or Inf on images of {str(data_dir)!r}"
                        f"{' (weights ' + repr(str(weights)) + ')' if weights else ''}; check the weights "
                        "it was built from."
                    )
            art_preds.append(art_logits.argmax(1))
            eager_preds.append(eager_logits.argmax(1))
            cosines.append(_cosine_rows(art_logits, eager_logits))
            if progress:
                progress(start + len(chunk), len(samples))
    y = np.array([label for _, label in samples])
    art, ref = np.concatenate(art_preds), np.concatenate(eager_preds)
    art_top1, eager_top1 = float((art == y).mean() * 100), float((ref == y).mean() * 100)
    mean_cosine = float(np.concatenate(cosines).mean())
    notes = []
    if weights is None:
        notes.append(
            "no --weights: the eager model has random weights, so its top-1 and the agreement say "
            "nothing; pass the weights the artifact was exported from"
        )
    elif mean_cosine < 0.9:
        notes.append(
            f"artifact and eager logits differ a lot (mean cosine {mean_cosine:.3f}): were --weights the "
            "ones the artifact was exported from?"
        )
    return {
        "artifact": str(artifact),
        "format": fmt,
        "model": config.name,
        "target": manifest["target"]["name"],
        "quant": manifest["quant"]["scheme"],
        "data": str(data_dir),
        "images": len(samples),
        "classes": len({label for _, label in samples}),
        "class_rule": rule,
        "weights": str(weights) if weights is not None else None,
        "artifact_top1": round(art_top1, 4),
        "eager_top1": round(eager_top1, 4),
        "drop_points": round(eager_top1 - art_top1, 4),
        "agreement": round(float((art == ref).mean() * 100), 4),
        "mean_cosine": round(mean_cosine, 6),
        "notes": notes,
    }


def config_of(manifest: dict) -> ModelConfig:
    """The ModelConfig recorded in a manifest (model.config is ModelConfig.to_dict())."""
    raw = dict(manifest["model"]["config"])
    try:
        for key in ("mean", "std"):
            raw[key] = tuple(raw[key])
        return ModelConfig(**raw)
    except (KeyError, TypeError, ValueError) as e:
        raise EdgeError(
            f"the manifest's model.config cannot be read ({e}); re-export with this edge version."
        ) from None


def labelled_images(data_dir: Path, labels: list[str] | None, num_classes: int) -> tuple[list[tuple[Path, int]], str]:
    """(image path, class index) for every image under data_dir/<class>/, interleaved across classes
    (so a --limit keeps every class), and the rule used to map folder names to indices."""
    from common.preprocess import IMAGE_SUFFIXES

    if not data_dir.is_dir():
        raise EdgeError(
            f"data folder {str(data_dir)!r} does not exist; give a folder with one sub-folder of images "
            "per class (DIR/<class>/*.png)."
        )
    folders = sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise EdgeError(
            f"{str(data_dir)!r} has no class sub-folders; put each class's images in "
            f"{str(data_dir / '<class>')!r} (e.g. {str(data_dir / '0')!r}, {str(data_dir / '1')!r})."
        )
    index, rule = _class_indices([f.name for f in folders], labels, num_classes, data_dir)
    per_class = [
        [(p, index[f.name]) for p in sorted(f.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        for f in folders
    ]
    if not any(per_class):
        raise EdgeError(
            f"no images in the class folders of {str(data_dir)!r}; add .png/.jpg files "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}) to them."
        )
    longest = max(len(c) for c in per_class)
    return [c[i] for i in range(longest) for c in per_class if i < len(c)], rule


def _class_indices(
    names: list[str], labels: list[str] | None, num_classes: int, data_dir: Path
) -> tuple[dict[str, int], str]:
    if len(names) > num_classes:
        raise EdgeError(
            f"{str(data_dir)!r} has {len(names)} class folders but the model has {num_classes} classes; "
            "give a folder with at most one sub-folder per class of this model."
        )
    if labels:
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise EdgeError(
                f"class folder {unknown[0]!r} is not one of the manifest's labels ({_few(labels)}); "
                "name the class folders after the labels."
            )
        return {n: labels.index(n) for n in names}, "manifest labels"
    if all(n.isdigit() for n in names):
        too_big = [n for n in names if int(n) >= num_classes]
        if too_big:
            raise EdgeError(
                f"class folder {too_big[0]!r} is not a class index of this {num_classes}-class model "
                f"(0..{num_classes - 1}); rename or remove it."
            )
        return {n: int(n) for n in names}, "numeric folder names"
    if len(names) != num_classes:
        raise EdgeError(
            f"{str(data_dir)!r} has {len(names)} class folders and the model {num_classes} classes; "
            "in sorted order every class needs its folder (or name the folders by class index, or "
            "export with --labels)."
        )
    return {n: i for i, n in enumerate(names)}, "sorted folder names"


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


def eager_model(manifest: dict, weights: str | Path | None) -> torch.nn.Module:
    """The manifest's zoo model, fp32, with `weights` (random init without)."""
    from edge import models
    from edge.loading import build_model

    config = manifest["model"]["config"]
    name = manifest["model"]["name"]
    if name not in models.list_models():
        raise EdgeError(
            f"the artifact's model {name!r} is not a zoo model, so edge eval cannot rebuild its eager "
            "fp32 twin; evaluate an export of a zoo model (see 'edge list')."
        )
    return build_model(name, num_classes=config["num_classes"], input_size=config["input_size"], weights=weights)


def _preprocess(path: Path, config: ModelConfig, data_dir) -> torch.Tensor:
    from common.preprocess import preprocess_image

    try:
        return preprocess_image(path, config)
    except EdgeError as e:
        raise EdgeError(f"{e} Remove or replace it in {str(data_dir)!r}.") from None


def _flat(out: np.ndarray, num_classes: int, artifact: Path) -> np.ndarray:
    logits = np.asarray(out, dtype=np.float32).reshape(-1)
    if logits.size != num_classes:
        raise EdgeError(
            f"{artifact.name!r} returns {logits.size} values per image, its manifest says "
            f"{num_classes} classes; re-export so the two are written together."
        )
    return logits


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(denom > 0, (a * b).sum(1) / np.where(denom > 0, denom, 1), 1.0)


def load_labelled(data_dir, config, labels: list[str] | None, limit: int | None = None):
    """The labelled images of --eval-data, preprocessed, as quant.plan's sensitivity search takes them."""
    from quant.plan import LabelledSet

    samples, _ = labelled_images(Path(data_dir), labels, config.num_classes)
    samples = samples[:limit] if limit else samples
    inputs = [_preprocess(path, config, data_dir) for path, _ in samples]
    return LabelledSet(inputs, torch.tensor([y for _, y in samples]), str(data_dir))
