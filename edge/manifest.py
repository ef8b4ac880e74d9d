"""The manifest written beside every artifact: its schema is edge/schemas/manifest.schema.json."""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from common.errors import EdgeError

SCHEMA_PATH = Path(__file__).parent / "schemas" / "manifest.schema.json"
SCHEMA_ID = "edge.manifest/1"


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_manifest(manifest: dict, target=None) -> None:
    """Raise jsonschema.ValidationError when the manifest does not match the schema. The schema names
    the built-in backends; a registered one (`target`, an edge.targets Target) is accepted beside them."""
    import jsonschema

    schema = load_schema()
    if target is not None:
        for enum, value in (
            (schema["properties"]["target"]["properties"]["name"]["enum"], target.name),
            (schema["properties"]["artifact"]["properties"]["format"]["enum"], target.suffix.lstrip(".")),
        ):
            if value not in enum:
                enum.append(value)
    jsonschema.validate(manifest, schema)


def sha256_of(path: Path) -> str:
    """Hash of a file, or of a folder's relative paths and bytes in sorted order (.mlpackage)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            h.update(f.read_bytes())
    else:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def tool_versions(packages: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pkg in ("edge", "torch", *packages):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def preprocessing_of(config) -> dict:
    return {
        "color": "RGB",
        "resize_shorter_to": int(config.input_size / config.crop_pct),
        "center_crop": config.input_size,
        "interpolation": config.interpolation,
        "scale": 1 / 255,
        "mean": list(config.mean),
        "std": list(config.std),
    }


def value_range_of(config) -> list[float]:
    lows = [(0 - m) / s for m, s in zip(config.mean, config.std)]
    highs = [(1 - m) / s for m, s in zip(config.mean, config.std)]
    return [round(min(lows), 6), round(max(highs), 6)]


def write_json(path: Path, data: dict) -> None:
    """Plain write, for a temporary name the caller renames (edge.transaction)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written manifest."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def find_manifest(
    artifact: Path, needed_for: str = "the apps read preprocessing, inputs and labels from it"
) -> tuple[Path, Path]:
    """(artifact, manifest) from either path: ARTIFACT's `<stem>.json` or a manifest naming its artifact."""
    if not artifact.exists():
        raise EdgeError(
            f"{str(artifact)!r} does not exist; give an artifact written by `edge export` "
            f"(<model>-<target>-<quant>.<ext>) or its .json manifest."
        )
    if artifact.suffix == ".json":
        data = read_json(artifact)
        name = data.get("artifact", {}).get("file") if isinstance(data, dict) else None
        if not isinstance(name, str):
            raise EdgeError(
                f"{str(artifact)!r} is not an edge manifest (no artifact.file); give the artifact or its "
                f"manifest written by `edge export`."
            )
        return artifact.parent / name, artifact
    manifest = artifact.with_suffix(".json")
    if not manifest.is_file():
        raise EdgeError(
            f"no manifest {manifest.name!r} beside {artifact.name!r}: {needed_for}. Use an artifact "
            f"written by `edge export`, which writes one beside it."
        )
    return artifact, manifest


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise EdgeError(f"cannot read {str(path)!r} ({e.strerror}).") from None
    except UnicodeDecodeError:
        raise EdgeError(f"{str(path)!r} is not UTF-8 JSON; re-export to rewrite it.") from None
    except json.JSONDecodeError as e:
        raise EdgeError(f"{str(path)!r} is not JSON ({e.msg} at line {e.lineno}); re-export to rewrite it.") from None


def load_manifest(path: Path) -> dict:
    """The manifest, checked against edge/schemas/manifest.schema.json: what the apps decode."""
    import jsonschema

    manifest = read_json(path)
    try:
        validate_manifest(manifest)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise EdgeError(
            f"{path.name!r} is not a valid edge manifest: at {where}: {e.message[:160]}. "
            f"Re-export with this edge version."
        ) from None
    return manifest


def manifest_entry(manifest: dict, artifact: Path) -> dict:
    """The manifest's entry for this file: the artifact itself or a companion such as the .ort."""
    main = manifest["artifact"]
    if main["file"] == artifact.name:
        return main
    for entry in main["extra_files"].values():
        if entry["file"] == artifact.name:
            return entry
    raise EdgeError(
        f"the manifest beside {artifact.name!r} describes {main['file']!r}, not this file; "
        f"use the artifact the export wrote with it."
    )
