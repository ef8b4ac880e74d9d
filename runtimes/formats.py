"""Recognise an artifact's format from its bytes before any runtime touches it.

Runtimes are native code: handing one a truncated or mislabelled file can crash the process.
Checking the header first turns that into a clear error.
"""

from __future__ import annotations

from pathlib import Path


class ArtifactError(ValueError):
    """A file that is not a readable artifact of the format its name claims."""


def _read_head(path: Path, n: int = 16) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def detect_format(path: str | Path) -> str:
    """'pte' | 'tflite' | 'onnx' | 'ort' | 'mlpackage', or ArtifactError naming the problem."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact {str(path)!r} does not exist.")
    if path.is_dir():
        if path.suffix == ".mlpackage" and (path / "Manifest.json").is_file():
            return "mlpackage"
        raise ArtifactError(f"{str(path)!r} is a folder, not an artifact (a .mlpackage needs its Manifest.json).")
    size = path.stat().st_size
    head = _read_head(path)
    if len(head) < 8:
        raise ArtifactError(f"artifact {str(path)!r} is truncated ({size} bytes).")
    magic = head[4:8]
    if magic[:2] == b"ET" and magic[2:4].isdigit():
        fmt = "pte"
    elif magic == b"TFL3":
        fmt = "tflite"
    elif magic == b"ORTM":
        fmt = "ort"
    elif head[0] == 0x08 and path.suffix == ".onnx":  # protobuf field 1 (ir_version), varint
        fmt = "onnx"
    else:
        raise ArtifactError(
            f"{str(path)!r} is not a .pte, .tflite, .onnx, .ort or .mlpackage artifact "
            f"(unrecognised header {head[:8].hex()})."
        )
    expected = {"pte": ".pte", "tflite": ".tflite", "ort": ".ort", "onnx": ".onnx"}[fmt]
    if path.suffix != expected:
        raise ArtifactError(
            f"{str(path)!r} holds a {fmt} model but is named {path.suffix or 'without suffix'}; "
            f"rename it to {expected}."
        )
    return fmt


def check_complete(path: str | Path, fmt: str) -> None:
    """Cheap structural checks that catch truncation before a native runtime reads the file."""
    path = Path(path)
    if fmt == "pte":
        # extended header: 'eh00' at 8, header length, then program size and segment offsets
        data = path.read_bytes()
        if data[8:12] == b"eh00":
            program_size = int.from_bytes(data[16:24], "little")
            segment_base = int.from_bytes(data[24:32], "little")
            segment_size = int.from_bytes(data[32:40], "little") if len(data) >= 40 else 0
            needed = max(program_size, segment_base + segment_size if segment_base else 0)
            if len(data) < needed:
                raise ArtifactError(f"{str(path)!r} is truncated: {len(data)} bytes, the header says {needed}.")
    elif fmt == "onnx":
        import onnx

        try:
            onnx.checker.check_model(str(path))
        except Exception as e:  # onnx raises several unrelated types for a bad file
            raise ArtifactError(f"{str(path)!r} is not a valid ONNX model ({str(e).splitlines()[0][:200]}).") from None
