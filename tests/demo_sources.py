"""Read the demo apps' Kotlin and Swift sources with tree-sitter: wire classes, enums, constants.

tests/test_demos.py compares what this finds with edge's JSON schemas, so the apps' manifest and
record types cannot drift from the one definition. Only what the apps use is understood:
kotlinx.serialization data classes and enums (@SerialName), Swift Codable structs (CodingKeys,
@NullEncoded) and String-backed enums, `const val` and `static let` string constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANDROID_SOURCES = REPO / "android_demo" / "app" / "src" / "main" / "java" / "org" / "edge" / "demo"
IOS_SOURCES = REPO / "ios_demo" / "Sources" / "EdgeDemoKit"

# Language types, reduced to the JSON they read or write.
_SCALARS = {
    "String": "string",
    "Int": "integer",
    "Long": "integer",
    "Double": "number",
    "Float": "number",
    "Boolean": "boolean",
    "Bool": "boolean",
    "JsonObject": "object",
}


@dataclass
class TypeRef:
    kind: str  # string integer number boolean object | array | map | named
    nullable: bool = False
    name: str | None = None  # for "named": the class or enum
    item: TypeRef | None = None  # for array and map: the element / value type


@dataclass
class Field:
    key: str  # the JSON key
    type: TypeRef
    has_default: bool = False
    null_encoded: bool = False  # Swift @NullEncoded: nil is written as null


@dataclass
class WireClass:
    name: str
    fields: dict[str, Field] = field(default_factory=dict)


@dataclass
class Declarations:
    language: str  # "kotlin" or "swift"
    classes: dict[str, WireClass]
    enums: dict[str, list[str]]  # enum name -> JSON values


@cache
def parser(language: str):
    import tree_sitter

    if language == "kotlin":
        import tree_sitter_kotlin as grammar
    else:
        import tree_sitter_swift as grammar
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def parse(path: Path):
    return parser("swift" if path.suffix == ".swift" else "kotlin").parse(path.read_bytes())


def syntax_errors(path: Path) -> list[str]:
    """ERROR and MISSING nodes as 'line:column text', empty when the file parses cleanly."""
    found = []

    def walk(node):
        if node.type == "ERROR" or node.is_missing:
            found.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1} {node.text.decode()[:60]!r}")
        for child in node.children:
            walk(child)

    walk(parse(path).root_node)
    return found


def _text(node) -> str:
    return node.text.decode()


def _named(node, *types):
    return [c for c in node.named_children if c.type in types]


def _string_value(node) -> str:
    """The content of a Kotlin string_literal or Swift line_string_literal (no templates used here)."""
    return "".join(_text(c) for c in node.named_children if c.type in ("string_content", "line_str_text"))


# ---- Kotlin ----------------------------------------------------------------------------------


def _kotlin_annotation(modifiers, name: str):
    """The annotation node @name(...) among a declaration's modifiers, or None."""
    for annotation in _named(modifiers, "annotation") if modifiers else []:
        for child in annotation.named_children:
            target = _named(child, "user_type")[0] if child.type == "constructor_invocation" else child
            if target.type == "user_type" and _text(target) == name:
                return annotation
    return None


def _kotlin_serial_name(modifiers) -> str | None:
    annotation = _kotlin_annotation(modifiers, "SerialName")
    if annotation is None:
        return None
    literal = next(n for n in _walk(annotation) if n.type == "string_literal")
    return _string_value(literal)


def _walk(node):
    yield node
    for child in node.named_children:
        yield from _walk(child)


def _kotlin_type(node) -> TypeRef:
    if node.type == "nullable_type":
        inner = _kotlin_type(node.named_children[0])
        inner.nullable = True
        return inner
    name = _text(_named(node, "identifier")[0])
    args = [
        _kotlin_type(p.named_children[0]) for a in _named(node, "type_arguments") for p in _named(a, "type_projection")
    ]
    if name == "List":
        return TypeRef("array", item=args[0])
    if name == "Map":
        return TypeRef("map", item=args[1])
    if name in _SCALARS:
        return TypeRef(_SCALARS[name])
    return TypeRef("named", name=name)


def kotlin_declarations(*paths: Path) -> Declarations:
    classes, enums = {}, {}
    for path in paths:
        for decl in _named(parse(path).root_node, "class_declaration"):
            modifiers = next(iter(_named(decl, "modifiers")), None)
            if _kotlin_annotation(modifiers, "Serializable") is None:
                continue
            name = _text(_named(decl, "identifier")[0])
            body = next(iter(_named(decl, "enum_class_body")), None)
            if body is not None:
                enums[name] = [
                    _kotlin_serial_name(next(iter(_named(e, "modifiers")), None)) or _text(_named(e, "identifier")[0])
                    for e in _named(body, "enum_entry")
                ]
                continue
            wire = classes[name] = WireClass(name)
            for ctor in _named(decl, "primary_constructor"):
                for params in _named(ctor, "class_parameters"):
                    for param in _named(params, "class_parameter"):
                        kids = param.named_children
                        type_at = next(i for i, k in enumerate(kids) if k.type in ("user_type", "nullable_type"))
                        prop = _text(next(k for k in kids if k.type == "identifier"))
                        key = _kotlin_serial_name(next(iter(_named(param, "modifiers")), None)) or prop
                        wire.fields[key] = Field(key, _kotlin_type(kids[type_at]), has_default=type_at + 1 < len(kids))
    return Declarations("kotlin", classes, enums)


def kotlin_constants(path: Path, holder: str) -> dict[str, str | int]:
    """`const val NAME = "text"` (or an integer) inside `object holder` or class holder's companion."""
    found = {}
    for obj in _named(parse(path).root_node, "object_declaration", "class_declaration"):
        if _text(_named(obj, "identifier")[0]) != holder:
            continue
        for prop in _walk(obj):
            if prop.type != "property_declaration":
                continue
            name = _text(_named(_named(prop, "variable_declaration")[0], "identifier")[0])
            value = prop.named_children[-1]
            if value.type == "string_literal":
                found[name] = _string_value(value)
            elif value.type == "number_literal":
                found[name] = int(_text(value))
    return found


# ---- Swift -----------------------------------------------------------------------------------


def _swift_type(node) -> TypeRef:
    if node.type == "type_annotation":
        return _swift_type(node.named_children[-1])
    if node.type == "optional_type":
        inner = _swift_type(node.named_children[0])
        inner.nullable = True
        return inner
    if node.type == "array_type":
        return TypeRef("array", item=_swift_type(node.named_children[0]))
    if node.type == "dictionary_type":
        return TypeRef("map", item=_swift_type(node.named_children[1]))
    name = _text(node)
    return TypeRef(_SCALARS[name]) if name in _SCALARS else TypeRef("named", name=name)


def _swift_inherits(decl) -> list[str]:
    return [_text(s.named_children[0]) for s in _named(decl, "inheritance_specifier")]


def _swift_enum_cases(body) -> list[tuple[str, str]]:
    """(case name, raw value) in order; a case without `= "raw"` uses its name."""
    cases = []
    for entry in _named(body, "enum_entry"):
        for child in entry.named_children:
            if child.type == "simple_identifier":
                cases.append((_text(child), _text(child)))
            elif child.type == "line_string_literal" and cases:
                cases[-1] = (cases[-1][0], _string_value(child))
    return cases


def swift_declarations(*paths: Path) -> Declarations:
    classes, enums = {}, {}
    for path in paths:
        for decl in _named(parse(path).root_node, "class_declaration"):
            name = _text(_named(decl, "type_identifier")[0])
            inherits = _swift_inherits(decl)
            body = next(iter(_named(decl, "enum_class_body", "class_body")), None)
            if body is None:
                continue
            if body.type == "enum_class_body":
                if "String" in inherits:
                    enums[name] = [raw for _, raw in _swift_enum_cases(body)]
                continue
            if not {"Codable", "Decodable", "Encodable"} & set(inherits):
                continue
            keys = {}
            for nested in _named(body, "class_declaration"):
                if _text(_named(nested, "type_identifier")[0]) == "CodingKeys":
                    keys = dict(_swift_enum_cases(_named(nested, "enum_class_body")[0]))
            wire = classes[name] = WireClass(name)
            for prop in _named(body, "property_declaration"):
                modifiers = next(iter(_named(prop, "modifiers")), None)
                if modifiers is not None and "static" in _text(modifiers).split():
                    continue
                annotation = next(iter(_named(prop, "type_annotation")), None)
                if annotation is None or _named(prop, "computed_property"):
                    continue  # computed: not stored, not coded
                prop_name = _text(_named(_named(prop, "pattern")[0], "simple_identifier")[0])
                if keys and prop_name not in keys:
                    continue  # left out of CodingKeys: not coded
                wrapper = modifiers is not None and any(
                    _text(a).startswith("@NullEncoded") for a in _named(modifiers, "attribute")
                )
                has_default = any(
                    c.type not in ("modifiers", "value_binding_pattern", "pattern", "type_annotation")
                    for c in prop.named_children
                )
                key = keys.get(prop_name, prop_name)
                wire.fields[key] = Field(key, _swift_type(annotation), has_default=has_default, null_encoded=wrapper)
    return Declarations("swift", classes, enums)


def swift_constants(path: Path, holder: str) -> dict[str, str]:
    """`static let name = "text"` anywhere inside the type `holder` (nested types included)."""
    found = {}
    for decl in _walk(parse(path).root_node):
        if decl.type != "class_declaration" or _text(_named(decl, "type_identifier")[0]) != holder:
            continue
        for prop in _walk(decl):
            if prop.type == "property_declaration" and prop.named_children[-1].type == "line_string_literal":
                name = _text(_named(_named(prop, "pattern")[0], "simple_identifier")[0])
                found[name] = _string_value(prop.named_children[-1])
    return found
