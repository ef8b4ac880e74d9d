"""Compare the apps' wire types (tests/demo_sources.py) with edge's JSON schemas, and build sample
JSON from those types, so what the apps decode and encode is checked against the one definition.

direction "decode": the app reads documents valid under the schema (the manifest) — every field it
requires must be required and non-null in the schema, and its enums must cover the schema's.
direction "encode": the app writes documents that must validate (the profile record) — every
required key must be written, nulls only where allowed, enum values only from the schema's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from tests.demo_sources import Declarations, TypeRef, WireClass


class _Context(NamedTuple):
    decl: Declarations
    written: dict[str, str]


def _resolve(root: dict, node: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _types(node: dict) -> set[str]:
    kind = node.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def allows_null(root: dict, node: dict) -> bool:
    node = _resolve(root, node)
    if "null" in _types(node) or None in node.get("enum", []):
        return True
    return any(allows_null(root, branch) for branch in node.get("oneOf", []))


def _non_null(root: dict, node: dict) -> dict:
    node = _resolve(root, node)
    branches = [b for b in node.get("oneOf", []) if _resolve(root, b).get("type") != "null"]
    return _resolve(root, branches[0]) if branches else node


def _enum_values(node: dict) -> list | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return [v for v in node["enum"] if v is not None]
    return None


def schema_problems(
    decl: Declarations, root_class: str, schema: dict, direction: str, written_strings: dict[str, str] | None = None
) -> list[str]:
    """Every disagreement between the class tree under `root_class` and `schema`, one line each.
    `written_strings` gives, by path, the constant an encoder writes into a plain String field
    whose schema is an enum or const (e.g. the record's "schema" id, read from the source)."""
    problems: list[str] = []
    context = _Context(decl, written_strings or {})
    _walk_class(context, decl.classes[root_class], schema, schema, direction, root_class, problems)
    return problems


def _walk_class(context, cls: WireClass, node: dict, root: dict, direction: str, path: str, problems: list[str]):
    decl = context.decl
    props, required = node.get("properties", {}), set(node.get("required", []))
    for key, fld in cls.fields.items():
        where = f"{path}.{key}"
        if key not in props:
            problems.append(f"{where}: {cls.name} has this key but the schema does not")
            continue
        nullable, may_be_null = fld.type.nullable, allows_null(root, props[key])
        if direction == "decode":
            if not nullable and not fld.has_default and key not in required:
                problems.append(f"{where}: the app requires it but the schema makes it optional")
            if not nullable and may_be_null:
                problems.append(f"{where}: the schema allows null but the app's type is not nullable")
        else:
            if nullable and not may_be_null:
                problems.append(f"{where}: the app may write null but the schema does not allow it")
            if nullable and key in required and not fld.null_encoded and decl.language == "swift":
                problems.append(
                    f"{where}: required by the schema, but Swift omits a nil optional; mark it @NullEncoded"
                )
        _check_type(context, fld.type, _non_null(root, props[key]), root, direction, where, problems)
    if direction == "encode":
        for key in sorted(required - set(cls.fields)):
            problems.append(f"{path}.{key}: required by the schema but {cls.name} never writes it")


def _check_type(context, ref: TypeRef, node: dict, root: dict, direction: str, where: str, problems: list[str]):
    decl, written = context.decl, context.written
    types, values = _types(node), _enum_values(node)
    if ref.kind == "named" and ref.name in decl.enums:
        app = decl.enums[ref.name]
        if values is None:
            problems.append(f"{where}: the app uses enum {ref.name} but the schema has no enum here")
        elif direction == "decode" and set(values) - set(app):
            problems.append(f"{where}: schema values {sorted(set(values) - set(app))} are missing from {ref.name}")
        elif direction == "encode" and set(app) - set(values):
            problems.append(f"{where}: {ref.name} values {sorted(set(app) - set(values))} are not in the schema's enum")
    elif ref.kind == "named":
        if ref.name not in decl.classes:
            problems.append(f"{where}: type {ref.name} is neither a wire class nor an enum of the app")
        elif types and "object" not in types:
            problems.append(f"{where}: the app reads an object, the schema says {sorted(types)}")
        elif "properties" in node:
            _walk_class(context, decl.classes[ref.name], node, root, direction, where, problems)
        # else: a free-form object in the schema (e.g. delegates.detail): any keys are valid
    elif ref.kind == "string":
        if direction == "encode" and values is not None and where in written:
            if written[where] not in values:
                problems.append(f"{where}: the app writes {written[where]!r}, the schema allows only {values}")
        elif direction == "encode" and values is not None:
            problems.append(f"{where}: the schema allows only {values}; write it from an enum type so it is checked")
        elif "string" not in types and not (values and all(isinstance(v, str) for v in values)):
            problems.append(f"{where}: the app has a string, the schema says {sorted(types)}")
    elif ref.kind in ("integer", "number", "boolean", "object", "array", "map"):
        json_kind = {"map": "object"}.get(ref.kind, ref.kind)
        accepted = (
            {"number": {"number", "integer"}}.get(json_kind, {json_kind}) if direction == "decode" else {json_kind}
        )
        if ref.kind == "integer" and direction == "encode":
            accepted = {"integer", "number"}
        if not types & accepted:
            problems.append(f"{where}: the app has {ref.kind}, the schema says {sorted(types) or 'no type'}")
        elif ref.kind == "array" and "items" in node:
            _check_type(context, ref.item, _non_null(root, node["items"]), root, direction, f"{where}[]", problems)
        elif ref.kind == "map" and isinstance(node.get("additionalProperties"), dict):
            _check_type(
                context,
                ref.item,
                _non_null(root, node["additionalProperties"]),
                root,
                direction,
                f"{where}{{}}",
                problems,
            )


def sample_document(decl: Declarations, root_class: str, nulls: bool, examples: dict[str, object]) -> dict:
    """JSON built the way the app's types encode: every field, enums from the app's own values,
    nullables all null (nulls=True; Swift drops a nil unless @NullEncoded) or all filled;
    `examples` gives values by dotted path."""

    def value(ref: TypeRef, path: str):
        if path in examples:
            return examples[path]
        if ref.nullable and nulls:
            return None
        if ref.kind == "named" and ref.name in decl.enums:
            return decl.enums[ref.name][0]
        if ref.kind == "named":
            return build(decl.classes[ref.name], path)
        if ref.kind == "array":
            return [value(ref.item, path + "[]")]
        if ref.kind == "map":
            return {"key": value(ref.item, path + "{}")}
        return {"string": "text", "integer": 1, "number": 1.5, "boolean": False, "object": {}}[ref.kind]

    def omitted(f) -> bool:  # synthesized Swift Encodable drops a nil optional unless it is @NullEncoded
        return decl.language == "swift" and nulls and f.type.nullable and not f.null_encoded

    def build(cls: WireClass, path: str) -> dict:
        return {key: value(f.type, f"{path}.{key}".lstrip(".")) for key, f in cls.fields.items() if not omitted(f)}

    return build(decl.classes[root_class], "")


def summarize_like_the_apps(samples_ms: list[float]) -> dict:
    """A line-for-line port of the apps' LatencyStats.summarize (LatencyStats.kt, LatencyStats.swift):
    the apps cannot run here, so this port is what is compared with runtimes/record.py."""

    def round4(value: float) -> float:  # Kotlin roundToLong and Swift rounded(): halves away from zero
        return math.floor(value * 10_000 + 0.5) / 10_000

    def percentile(ordered: list[float], q: float) -> float:
        position = q / 100 * (len(ordered) - 1)
        lower = math.floor(position)
        upper = min(lower + 1, len(ordered) - 1)
        return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)

    ordered = sorted(samples_ms)
    n = len(ordered)
    cut = int(n * 0.1)
    middle = ordered[cut : n - cut]
    mean = sum(ordered) / n
    stdev = math.sqrt(sum((x - mean) * (x - mean) for x in ordered) / (n - 1)) if n > 1 else 0.0
    return {
        "min": round4(ordered[0]),
        "max": round4(ordered[-1]),
        "p10": round4(percentile(ordered, 10)),
        "p50": round4(percentile(ordered, 50)),
        "p90": round4(percentile(ordered, 90)),
        "mean": round4(mean),
        "trimmed_mean": round4(sum(middle) / len(middle)),
        "stdev": round4(stdev),
    }
