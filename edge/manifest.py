"""The manifest written beside every artifact: its schema is edge/schemas/manifest.schema.json."""
from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SCHEMA_PATH = Path(__file__).parent / "schemas" / "manifest.schema.json"
SCHEMA_ID = "edge.manifest/1"


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_manifest(manifest: dict) -> None:
    """Raise jsonschema.ValidationError when the manifest does not match the schema."""
    import jsonschema
    jsonschema.validate(manifest, load_schema())


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
    return {"color": "RGB", "resize_shorter_to": int(config.input_size / config.crop_pct),
            "center_crop": config.input_size, "interpolation": config.interpolation, "scale": 1 / 255,
            "mean": list(config.mean), "std": list(config.std)}


def value_range_of(config) -> list[float]:
    lows = [(0 - m) / s for m, s in zip(config.mean, config.std)]
    highs = [(1 - m) / s for m, s in zip(config.mean, config.std)]
    return [round(min(lows), 6), round(max(highs), 6)]


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written manifest."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
