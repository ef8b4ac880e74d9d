"""The sweep's folder: artifacts and records written atomically, read back to resume.

    DIR/artifacts/<conversion key>/   the export's files (artifact, manifest, companions)
    DIR/conversions/<key>.json        what was converted, when, where, and how it ended (ok | error)
    DIR/timings/<key>.json            one timing: where and when, and the profile record (ok | error | skipped)

An artifact folder is renamed into place before its record is written, so a record always points at
complete files; a result that was being written when the sweep stopped leaves only a `.partial`
name, which the next run removes. Files travel between nodes as {relative path: bytes}, so no node
needs a shared filesystem.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from common.errors import EdgeError
from edge.manifest import sha256_of, write_json_atomic

CONVERSION_SCHEMA = "edge.sweep_conversion/1"
TIMING_SCHEMA = "edge.sweep_timing/1"


def pack(path: Path) -> dict[str, bytes]:
    """A file or folder as {relative path: bytes}."""
    path = Path(path)
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


def unpack(files: dict[str, bytes], into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return into


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        try:
            for sub in ("artifacts", "conversions", "timings"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise EdgeError(
                f"cannot write to sweep folder {str(self.root)!r} ({e.strerror or e}); choose another with -o."
            ) from None
        self.remove_partials()

    def remove_partials(self) -> list[Path]:
        """What an interrupted run was writing when it stopped."""
        found = [p for p in self.root.rglob("*") if ".partial" in p.name]
        for p in found:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        return found

    def artifact_dir(self, key: str) -> Path:
        return self.root / "artifacts" / key

    def conversion_path(self, key: str) -> Path:
        return self.root / "conversions" / f"{key}.json"

    def timing_path(self, key: str) -> Path:
        return self.root / "timings" / f"{key}.json"

    # conversions
    def save_conversion(self, key: str, result: dict) -> dict:
        """Files first (renamed into place), then the record that points at them."""
        files = result.pop("files", None)
        if files:
            final = self.artifact_dir(key)
            tmp = final.with_name(f".{key}.partial-{os.getpid()}")
            try:
                unpack(files, tmp)
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        record = {"schema": CONVERSION_SCHEMA, "key": key, **result}
        write_json_atomic(self.conversion_path(key), record)
        return record

    def load_conversion(self, key: str) -> dict | None:
        return _read(self.conversion_path(key))

    def finished_conversion(self, key: str, retry_failed: bool = False) -> dict | None:
        """The record of a conversion that need not run again: ok with its files intact, or an error that the
        same inputs would repeat (a worker that died is not such an error; retry_failed reruns every error)."""
        record = self.load_conversion(key)
        if not record or record.get("key") != key:
            return None
        if record.get("status") == "error":
            return None if retry_failed or record.get("retryable") else record
        if record.get("status") != "ok":
            return None
        artifact = self.artifact_dir(key) / record["artifact"]
        manifest = _read(self.artifact_dir(key) / record["manifest"])
        if not artifact.exists() or not manifest or manifest["artifact"]["sha256"] != sha256_of(artifact):
            return None
        return record

    def artifact_files(self, key: str) -> dict[str, bytes]:
        return pack(self.artifact_dir(key))

    # timings
    def save_timing(self, key: str, result: dict) -> dict:
        record = {"schema": TIMING_SCHEMA, "key": key, **result}
        write_json_atomic(self.timing_path(key), record)
        return record

    def load_timing(self, key: str) -> dict | None:
        return _read(self.timing_path(key))

    def finished_timing(self, key: str) -> dict | None:
        record = self.load_timing(key)
        if not record or record.get("key") != key or record.get("status") not in ("ok", "skipped"):
            return None
        if record["status"] == "ok":
            from runtimes.base import ProfileError
            from runtimes.record import validate_record

            try:
                validate_record(record["record"], "the stored record")
            except (ProfileError, KeyError, TypeError):
                return None
        return record


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
