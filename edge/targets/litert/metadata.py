"""TFLite Model Metadata on a .tflite: what MediaPipe Tasks and the LiteRT Support Library read.

No maintained writer installs and works here (mediapipe 1.2.2 and 1.2.3 ship their metadata writers
without the native `metadata_version` module they import; tflite-support 0.4.4 pins protobuf 3.20,
which breaks coremltools and onnx), so the few tables needed are written with the `flatbuffers`
Builder, field by field in the order of the published schema (tflite-support's
metadata_schema.fbs, file identifier "M001"). Only fields of schema version 1.0.0 are used, so
`min_parser_version` is "1.0.0". The buffer goes into the model's `metadata` list as
"TFLITE_METADATA"; the labels file is an associated file of the output tensor and travels in a zip
archive appended to the flatbuffer (stored, not compressed), where MediaPipe looks for it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers
import numpy as np

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = "labels.txt"

# enum and union values from metadata_schema.fbs
_RGB = 1
_TENSOR_AXIS_LABELS = 2
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2
_NORMALIZATION_OPTIONS = 1


@dataclass(frozen=True)
class ImageClassifierInfo:
    name: str
    description: str
    version: str
    author: str
    license: str
    image_is_nhwc: bool
    size: int
    mean: tuple[float, ...]  # on 0-255 pixels: what the app subtracts (all 0 when the graph normalizes)
    std: tuple[float, ...]  # on 0-255 pixels: what the app divides by (all 1 when the graph normalizes)
    input_range: tuple[float, float]
    input_description: str
    output_description: str
    labels: tuple[str, ...] | None


def attach_metadata(flatbuffer: bytes, info: ImageClassifierInfo) -> bytes:
    """The model with its metadata buffer (replacing any earlier one) and, with labels, the labels zip."""
    from common.tflite_graph import read_model, schema, write_model

    s = schema()
    model = read_model(flatbuffer)
    buffer = s.BufferT()
    buffer.data = np.frombuffer(metadata_buffer(info), dtype=np.uint8)
    model.buffers = list(model.buffers or []) + [buffer]
    entry = s.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_NAME, METADATA_NAME.encode())]
    model.metadata.append(entry)
    out = write_model(model, len(flatbuffer) + 4096)
    if info.labels:
        out = _with_zip(out, {LABELS_FILE: "\n".join(info.labels) + "\n"})
    return out


def metadata_buffer(info: ImageClassifierInfo) -> bytes:
    b = flatbuffers.Builder(1024)
    image = _tensor(
        b,
        "image",
        info.input_description,
        _image_properties(b, info.size) if info.image_is_nhwc else _feature_properties(b),
        _IMAGE_PROPERTIES if info.image_is_nhwc else _FEATURE_PROPERTIES,
        process_units=[_normalization(b, info.mean, info.std)],
        stats=(list(info.input_range[1:]) * len(info.mean), list(info.input_range[:1]) * len(info.mean)),
    )
    labels = (
        [_associated_file(b, LABELS_FILE, "class names, one per line, in output order", _TENSOR_AXIS_LABELS)]
        if info.labels
        else []
    )
    scores = _tensor(
        b, "scores", info.output_description, _feature_properties(b), _FEATURE_PROPERTIES, associated_files=labels
    )
    subgraph = _table(b, [(0, b.CreateString(info.name)), (2, _vector(b, [image])), (3, _vector(b, [scores]))])
    strings = [
        b.CreateString(s)
        for s in (info.name, info.description, info.version, info.author, info.license, MIN_PARSER_VERSION)
    ]
    subgraphs = _vector(b, [subgraph])
    root = _table(
        b,
        [
            (0, strings[0]),
            (1, strings[1]),
            (2, strings[2]),
            (3, subgraphs),
            (4, strings[3]),
            (5, strings[4]),
            (7, strings[5]),
        ],
    )
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def _table(b: flatbuffers.Builder, offsets: list[tuple[int, int]], scalars: list[tuple[int, str, object]] = ()):
    """A table from (slot, offset) pairs and (slot, kind, value) scalars; slots are the schema's field order."""
    slots = max([s for s, _ in offsets] + [s for s, _, _ in scalars] + [-1]) + 1
    b.StartObject(slots)
    for slot, kind, value in scalars:
        {"int8": b.PrependInt8Slot, "uint8": b.PrependUint8Slot, "uint32": b.PrependUint32Slot}[kind](slot, value, 0)
    for slot, offset in offsets:
        b.PrependUOffsetTRelativeSlot(slot, offset, 0)
    return b.EndObject()


def _vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def _floats(b: flatbuffers.Builder, values) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(list(values)):
        b.PrependFloat32(float(v))
    return b.EndVector()


def _image_properties(b, size: int) -> int:
    image_size = _table(b, [], [(0, "uint32", size), (1, "uint32", size)])  # ImageSize: width, height
    return _table(b, [(1, image_size)], [(0, "int8", _RGB)])  # ImageProperties: color_space, size


def _feature_properties(b) -> int:
    return _table(b, [])


def _normalization(b, mean, std) -> int:
    options = _table(b, [(0, _floats(b, mean)), (1, _floats(b, std))])  # NormalizationOptions: mean, std
    return _table(b, [(1, options)], [(0, "uint8", _NORMALIZATION_OPTIONS)])  # ProcessUnit: options_type, options


def _associated_file(b, name: str, description: str, kind: int) -> int:
    return _table(b, [(0, b.CreateString(name)), (1, b.CreateString(description))], [(2, "int8", kind)])


def _tensor(
    b,
    name: str,
    description: str,
    properties: int,
    properties_type: int,
    process_units=(),
    stats=None,
    associated_files=(),
) -> int:
    """TensorMetadata: name, description, dimension_names, content, process_units, stats, associated_files."""
    content = _table(b, [(1, properties)], [(0, "uint8", properties_type)])  # Content: properties_type, properties
    offsets = [(0, b.CreateString(name)), (1, b.CreateString(description)), (3, content)]
    if process_units:
        offsets.append((4, _vector(b, list(process_units))))
    if stats is not None:
        offsets.append((5, _table(b, [(0, _floats(b, stats[0])), (1, _floats(b, stats[1]))])))  # Stats: max, min
    if associated_files:
        offsets.append((6, _vector(b, list(associated_files))))
    return _table(b, offsets)


def _with_zip(flatbuffer: bytes, files: dict[str, str]) -> bytes:
    """Append a stored zip; the archive's offsets count from the start of the .tflite, as readers expect."""
    stream = io.BytesIO(flatbuffer)
    stream.seek(0, io.SEEK_END)
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return stream.getvalue()
