"""Precise extraction: a symbol's source, a file's skeleton, the scope around a line, and the
names a snippet uses — what a small model needs for one spec item and nothing more.

Files with syntax errors are read as far as they parse (tree-sitter recovers around errors).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridcode.context.languages import language_for_path
from hybridcode.context.symbols import (
    BRACE_LANGUAGES, Symbol, decode, encode, find_symbols, list_symbols, parse,
)
from hybridcode.errors import ContextError

__all__ = ["Extract", "enclosing_scope", "referenced_names", "resolve_names", "skeleton",
           "source_of"]


@dataclass(frozen=True)
class Extract:
    """A definition's source: comments and decorators included, first line indented as in the
    file. A same-name group (overloads, property accessors) comes whole."""

    qualified_name: str
    kind: str
    language: str
    text: str
    start_line: int
    end_line: int
    signature: str
    path: str | None = None

    def numbered(self) -> str:
        """The text with its file line numbers, as a prompt shows it."""
        width = len(str(self.end_line))
        return "\n".join(f"{n:>{width}} | {line}".rstrip() for n, line in
                         enumerate(self.text.splitlines(), self.start_line))


def source_of(path_or_text: str | os.PathLike[str], qualified_name: str,
              language: str | None = None) -> Extract:
    """The source of ``qualified_name``. A ``Path`` is read from disk; a ``str`` is source text
    (then ``language`` is required). A unique dotted suffix (``method``, ``Inner.method``) works
    as a name too."""
    path = None
    if isinstance(path_or_text, os.PathLike):
        path = Path(path_or_text)
        language = language or language_for_path(path)
        try:
            text = path.read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise ContextError(f"cannot read {path}: {exc.strerror}",
                               "check the path exists and is readable") from exc
    else:
        text = path_or_text
    if language is None:
        raise ContextError("the language of the source is unknown",
                           "pass language= (python, javascript, typescript, tsx, go)")
    data = encode(text)
    group = find_symbols(list_symbols(data, language), qualified_name)
    first, last = group[0], group[-1]
    line_start = data.rfind(b"\n", 0, first.start_byte) + 1
    if data[line_start:first.start_byte].strip():
        line_start = first.start_byte  # something else precedes it on its line
    return Extract(
        qualified_name=first.qualified_name, kind=first.kind, language=language,
        text=decode(data[line_start:last.end_byte]), start_line=first.start_line,
        end_line=last.end_line, signature=last.signature,
        path=str(path) if path is not None else None)


def enclosing_scope(text: str, language: str, line: int) -> Symbol | None:
    """The innermost definition whose lines include 1-based ``line``."""
    around = [s for s in list_symbols(text, language) if s.start_line <= line <= s.end_line]
    return max(around, key=lambda s: (s.start_byte, -s.end_byte), default=None)


def skeleton(text: str, language: str, line_numbers: bool = False) -> str:
    """The file with function and method bodies elided: imports, module code, class headers,
    signatures and docstrings stay. Bodies become ``...`` (Python, after the docstring) or
    ``{ … }``. With ``line_numbers`` each line shows its line number in the file."""
    data = encode(text)
    newline = b"\r\n" if b"\r\n" in data[:data.find(b"\n") + 1] else b"\n"
    cuts: list[tuple[int, int, bytes]] = []
    covered = -1
    for symbol in list_symbols(data, language):
        if symbol.kind not in ("function", "method") or symbol.body is None:
            continue
        if symbol.start_byte < covered:
            continue  # inside a body already elided
        cut = _elision(data, symbol, language, newline)
        if cut is not None:
            cuts.append(cut)
            covered = symbol.end_byte
    pieces: list[tuple[int, bytes]] = []
    position = 0
    for start, end, placeholder in cuts:
        pieces += [(position, data[position:start]), (start, placeholder)]
        position = end
    pieces.append((position, data[position:]))
    if not line_numbers:
        return decode(b"".join(piece for _, piece in pieces))
    return _numbered(data, pieces, {start for start, _, _ in cuts})


def _elision(data: bytes, symbol: Symbol, language: str,
             newline: bytes) -> tuple[int, int, bytes] | None:
    assert symbol.body is not None
    start, end = symbol.body
    if language in BRACE_LANGUAGES:
        if data[start:start + 1] == b"{":
            return start, end, "{ … }".encode()
        return (start, end, "…".encode()) if b"\n" in data[start:end] else None
    if symbol.docstring_end is None:
        return start, end, b"..."
    if symbol.docstring_end >= end:
        return None  # the docstring is the whole body
    line_start = data.rfind(b"\n", 0, start) + 1
    indent = data[line_start:start]
    if indent.strip():
        return symbol.docstring_end, end, b"; ..."
    return symbol.docstring_end, end, newline + indent + b"..."


def _numbered(data: bytes, pieces: list[tuple[int, bytes]], placeholders: set[int]) -> str:
    out: list[bytes] = [b""]
    numbers = [1]
    for origin, piece in pieces:
        line = data.count(b"\n", 0, origin) + 1
        for i, part in enumerate(piece.split(b"\n")):
            if i:
                out.append(b"")
                numbers.append(line + (1 if origin in placeholders else i))
            out[-1] += part
    if len(out) > 1 and not out[-1]:
        out.pop()  # the empty "line" after the final newline
    width = len(str(numbers[-1]))
    return "\n".join(f"{n:>{width}} | {decode(line).rstrip()}".rstrip()
                     for n, line in zip(numbers, out))


# --- names a snippet uses ----------------------------------------------------------------------

_USE_TYPES = {
    "python": {"identifier"},
    "go": {"identifier", "type_identifier", "package_identifier"},
}
_JS_USES = {"identifier", "type_identifier", "shorthand_property_identifier"}
_BINDINGS = {
    "python": {
        ("function_definition", "name"), ("class_definition", "name"), ("parameters", None),
        ("lambda_parameters", None), ("default_parameter", "name"),
        ("typed_default_parameter", "name"), ("typed_parameter", None), ("assignment", "left"),
        ("for_statement", "left"), ("for_in_clause", "left"), ("as_pattern", "alias"),
        ("named_expression", "name"), ("type_parameter", None), ("aliased_import", "alias"),
    },
    "js": {
        ("variable_declarator", "name"), ("function_declaration", "name"),
        ("generator_function_declaration", "name"), ("class_declaration", "name"),
        ("abstract_class_declaration", "name"), ("interface_declaration", "name"),
        ("type_alias_declaration", "name"), ("enum_declaration", "name"),
        ("required_parameter", "pattern"), ("optional_parameter", "pattern"),
        ("formal_parameters", None), ("arrow_function", "parameter"),
        ("catch_clause", "parameter"), ("for_in_statement", "left"), ("type_parameter", "name"),
        ("function_expression", "name"), ("class", "name"),
    },
    "go": {
        ("function_declaration", "name"), ("parameter_declaration", "name"),
        ("variadic_parameter_declaration", "name"), ("short_var_declaration", "left"),
        ("var_spec", "name"), ("const_spec", "name"), ("range_clause", "left"),
        ("type_spec", "name"), ("type_alias", "name"), ("type_parameter_declaration", "name"),
        ("labeled_statement", "label"),
    },
}
_PATTERNS = frozenset({
    "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "list_splat_pattern",
    "dictionary_splat_pattern", "parenthesized_expression", "as_pattern_target",
    "object_pattern", "array_pattern", "rest_pattern", "expression_list",
    "shorthand_property_identifier_pattern",
})
_PATTERN_FIELDS = {"assignment_pattern": "left", "pair_pattern": "value",
                   "object_assignment_pattern": "left"}
_IMPORTS = frozenset({"import_statement", "import_from_statement", "future_import_statement",
                      "import_declaration"})
_KNOWN = {
    "python": set(dir(builtins)) | {"self", "cls"},
    "js": {"console", "Math", "JSON", "Object", "Array", "Promise", "String", "Number",
           "Boolean", "Error", "TypeError", "Map", "Set", "Date", "RegExp", "Symbol", "undefined",
           "NaN", "Infinity", "window", "document", "globalThis", "process", "require",
           "module", "exports", "parseInt", "parseFloat", "setTimeout", "clearTimeout",
           "setInterval", "clearInterval", "Record", "Partial", "Readonly", "Pick", "Omit",
           "ReturnType", "Required", "Awaited"},
    "go": {"append", "cap", "clear", "close", "complex", "copy", "delete", "imag", "len",
           "make", "max", "min", "new", "panic", "print", "println", "real", "recover", "bool",
           "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
           "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32",
           "uint64", "uintptr", "any", "comparable", "nil", "true", "false", "iota", "_"},
}


def referenced_names(snippet: str, language: str) -> set[str]:
    """Names ``snippet`` uses but does not define: calls, attribute bases, type names, and
    members reached through ``self``/``cls``/``this``. Builtins and globals are left out.
    Scopes are not modelled: a name bound anywhere in the snippet counts as local."""
    family = "js" if language not in _USE_TYPES else language
    use_types = _USE_TYPES.get(language, _JS_USES)
    data = encode(snippet)
    root = parse(data, language).root_node
    used: set[str] = set()
    bound: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "package_clause":
            continue
        if node.type in _IMPORTS:
            bound |= _import_bindings(node, data)
            continue
        for i, child in enumerate(node.children):
            field = node.field_name_for_child(i)
            if (node.type, field) in _BINDINGS[family]:
                bound |= _pattern_names(child, data, use_types)
            if child.type in use_types and not _is_label(node, field, child):
                used.add(decode(data[child.start_byte:child.end_byte]))
            elif _member_of_self(node, field, data):
                used.add(decode(data[child.start_byte:child.end_byte]))
            stack.append(child)
    return used - bound - _KNOWN[family]


def _is_label(parent, field: str | None, child) -> bool:
    """Identifiers that name a member or an argument rather than refer to something."""
    return ((parent.type == "attribute" and field == "attribute")
            or (parent.type == "keyword_argument" and field == "name")
            or (parent.type == "qualified_type" and field == "name")
            or (parent.type == "selector_expression" and field == "field"))


def _member_of_self(parent, field: str | None, data: bytes) -> bool:
    if parent.type not in ("attribute", "member_expression") or field not in (
            "attribute", "property"):
        return False
    base = parent.child_by_field_name("object")
    return base is not None and data[base.start_byte:base.end_byte] in (b"self", b"cls", b"this")


def _pattern_names(node, data: bytes, use_types: set[str]) -> set[str]:
    if node.type in use_types or node.type == "shorthand_property_identifier_pattern":
        return {decode(data[node.start_byte:node.end_byte])}
    if node.type in _PATTERN_FIELDS:
        inner = node.child_by_field_name(_PATTERN_FIELDS[node.type])
        return _pattern_names(inner, data, use_types) if inner is not None else set()
    if node.type in _PATTERNS:
        return {n for c in node.named_children for n in _pattern_names(c, data, use_types)}
    return set()


def _import_bindings(node, data: bytes) -> set[str]:
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        alias = current.child_by_field_name("alias")
        name = current.child_by_field_name("name")
        if current.type in ("aliased_import", "import_specifier", "import_spec"):
            target = alias or name
            if target is not None:
                names.add(decode(data[target.start_byte:target.end_byte]).split(".")[0])
            elif current.type == "import_spec":  # bound to the path's last element
                path = current.child_by_field_name("path")
                names.add(decode(data[path.start_byte:path.end_byte]).strip('"`').rsplit("/")[-1])
            continue
        if current.type == "dotted_name" and current.parent is not None and \
                current.parent.type == "import_statement":
            names.add(decode(data[current.start_byte:current.end_byte]).split(".")[0])
        elif current.type == "dotted_name" and current.parent is not None and \
                current.parent.child_by_field_name("module_name") != current:
            names.add(decode(data[current.start_byte:current.end_byte]))
        elif current.type == "identifier" and current.parent is not None and \
                current.parent.type in ("import_clause", "namespace_import"):
            names.add(decode(data[current.start_byte:current.end_byte]))
        stack.extend(current.named_children)
    return names


def resolve_names(names: set[str] | Sequence[str],
                  definitions: Mapping[str, Sequence[Any]]) -> dict[str, list]:
    """Where each name is defined, from any name → definitions mapping (e.g. the repo map's
    ``RepoIndex.definitions``). Names with no definition are left out."""
    return {name: list(definitions[name]) for name in sorted(names) if definitions.get(name)}
