"""An export's files appear under their final names together, or not at all.

Everything is written under temporary names (`.<stem>.partial-<pid><suffix>`) in the output
folder; `commit` then moves any older files of the same names aside, renames the new set into
place (the manifest last) and drops the old ones, or on any failure puts the old ones back and
removes the new. A process killed outright (SIGKILL, power) leaves only hidden partial files,
which the next export into that folder removes once their process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from common.errors import EdgeError

_PARTIAL = re.compile(r"^\..+\.(?:partial|old)-(\d+)")


def writable_folder(out: Path) -> Path:
    """EdgeError unless `out` (or, when it does not exist yet, its nearest existing parent) can be
    written; nothing is created, so a request that fails early leaves no empty folder behind."""
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise EdgeError(
            f"cannot write to output folder {str(out)!r}: {str(probe)!r} is a file; choose another with -o."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise EdgeError(
            f"cannot write to output folder {str(out)!r} ({str(probe)!r} is not writable); choose another with -o."
        )
    return out


def remove_stale_partials(folder: Path) -> list[Path]:
    """Partial files of edge processes that no longer exist (killed mid-export)."""
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _PARTIAL.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_finals(finals: list[Path]) -> None:
    """A folder where a file goes (or a file where a .mlpackage folder goes) would make the commit fail."""
    for final in finals:
        wants_dir = final.suffix == ".mlpackage"
        if final.exists() and final.is_dir() != wants_dir:
            what = "folder" if final.is_dir() else "file"
            raise EdgeError(f"a {what} sits where the export writes {str(final)!r}; move it away or choose another -o.")


def commit(pairs: list[tuple[Path, Path]]) -> None:
    """Rename each (temporary, final) into place, all or none; the last pair (the manifest) goes last."""
    backups: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for _, final in pairs:
            if final.exists() or final.is_symlink():
                old = final.with_name(f".{final.name}.old-{os.getpid()}")
                os.replace(final, old)
                backups.append((old, final))
        for tmp, final in pairs:
            os.replace(tmp, final)
            placed.append(final)
    except BaseException:
        for final in placed:
            _remove(final)
        for old, final in backups:
            os.replace(old, final)
        raise
    for old, _ in backups:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
