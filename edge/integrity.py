"""One integrity check of an artifact, shared by profile, eval, inspect and bundle.

Header and structure first (runtimes.formats: magic, length, the ONNX checker), then the manifest
beside it, when there is one: valid against the schema, describing this very file, and with the
same sha256. A file that differs from its manifest is refused unless the user says they changed it
on purpose (`--allow-modified`): parity, preprocessing and labels were recorded for other bytes.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import EdgeError


def check_artifact(path: str | Path, allow_modified: bool = False, warn=None) -> dict | None:
    """EdgeError when `path` is not an intact artifact; returns its manifest (or None without one)."""
    from edge.manifest import load_manifest, sha256_of
    from runtimes.formats import ArtifactError, check_complete, detect_format

    path = Path(path)
    try:
        fmt = detect_format(path)
        check_complete(path, fmt)
    except ArtifactError as e:
        raise EdgeError(str(e)) from None
    except OSError as e:
        raise EdgeError(f"cannot read {str(path)!r} ({e.strerror or e}).") from None
    manifest_path = manifest_path_of(path)
    if manifest_path is None:
        return None
    if manifest_path.is_dir():
        raise EdgeError(f"{str(manifest_path)!r} beside the artifact is a folder, not its manifest; remove it.")
    manifest = load_manifest(manifest_path)
    entry = _entry_for(manifest, path, fmt)
    if fmt != "mlpackage" and sha256_of(path) != entry["sha256"]:
        size = path.stat().st_size
        if size < entry["size_bytes"]:
            raise EdgeError(
                f"{str(path)!r} is truncated: {size} bytes, its manifest says {entry['size_bytes']}; "
                "copy or export it again."
            )
        if not allow_modified:
            raise EdgeError(
                f"{path.name!r} does not match its manifest {manifest_path.name!r} (sha256 differs): the "
                "file was changed or the manifest belongs to another export. Re-export them together, or pass "
                "--allow-modified to use the file anyway."
            )
        if warn:
            warn(
                f"{path.name} differs from its manifest (sha256); --allow-modified: its recorded parity does not apply"
            )
    return manifest


def manifest_path_of(path: Path) -> Path | None:
    """`<stem>.json` beside the artifact (`x.onnx` and its `x.ort` share one), when it exists."""
    candidate = path.with_suffix(".json")
    return candidate if candidate.exists() else None


def _entry_for(manifest: dict, path: Path, fmt: str) -> dict:
    """The manifest's entry for this file, by name, else by role (a copy renamed with its manifest)."""
    from edge.manifest import manifest_entry

    names = [manifest["artifact"]["file"]] + [e["file"] for e in manifest["artifact"]["extra_files"].values()]
    if path.name in names:
        return manifest_entry(manifest, path)
    if manifest["artifact"]["format"] == fmt:
        return manifest["artifact"]
    if fmt in manifest["artifact"]["extra_files"]:
        return manifest["artifact"]["extra_files"][fmt]
    return manifest_entry(manifest, path)  # raises: the manifest describes another file
