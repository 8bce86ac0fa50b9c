"""Definitions and references per file, from tree-sitter tag queries.

The queries are the grammar wheels' own ``queries/tags.scm`` (TypeScript's extends
JavaScript's, as editors combine them), plus a few patterns each wheel lacks: Python class
bases, imports and annotations as references; TypeScript type aliases, enums and class-field
arrow functions; exported JavaScript/TypeScript constants and variables; Go interface
methods and package-level constants and variables. A file with syntax errors still yields every tag in the
parts that parse — tree-sitter recovers locally, so a typo costs one function, not the file.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from hybridcode.context.languages import get_language, get_parser, query_source

if TYPE_CHECKING:
    from tree_sitter import Node, Query

MAX_SIGNATURE = 200

# Exported module bindings (``export const ZodIssueCode = util.arrayToEnum([...])``, ``export
# let``/``var``): the wheels' JavaScript and TypeScript queries only tag function-valued ones.
# Unexported ones are private to their module, so the map leaves them out. (Go's package-level
# ``const``/``var`` are all tagged: the whole package sees the lower-case ones too.)
_EXPORTED_BINDINGS = """
(export_statement declaration: (lexical_declaration "const"
  (variable_declarator name: (identifier) @name) @definition.constant))
(export_statement declaration: (lexical_declaration "let"
  (variable_declarator name: (identifier) @name) @definition.variable))
(export_statement declaration: (variable_declaration
  (variable_declarator name: (identifier) @name) @definition.variable))
"""

_EXTRA: dict[str, str] = {
    "python": """
(class_definition superclasses: (argument_list [(identifier) @name
  (attribute attribute: (identifier) @name)])) @reference.class
(import_from_statement name: (dotted_name (identifier) @name .)) @reference.import
(import_from_statement name: (aliased_import name: (dotted_name (identifier) @name .)))
  @reference.import
(type (identifier) @name) @reference.type
(decorator (identifier) @name) @reference.call
""",
    "javascript": """
(field_definition property: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method
(class_heritage (identifier) @name) @reference.class
(import_specifier name: (identifier) @name) @reference.import
""" + _EXPORTED_BINDINGS,
    "typescript": """
(public_field_definition name: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(extends_clause value: (identifier) @name) @reference.class
(implements_clause (type_identifier) @name) @reference.class
(import_specifier name: (identifier) @name) @reference.import
""" + _EXPORTED_BINDINGS,
    "go": """
(method_elem name: (field_identifier) @name) @definition.method
(type_alias name: (type_identifier) @name) @definition.type
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @name)
  @definition.variable)))
""",
}
# Kinds a binding gets from these patterns; a function-valued binding (``export const f = () =>
# …``) is a function first (the wheels' own patterns), so these never replace another kind.
_BINDING_KINDS = frozenset({"constant", "variable"})


class Definition(NamedTuple):
    """One definition: ``line``/``end_line`` are 1-based; ``qualname`` nests (``Outer.Inner.m``)."""

    path: str
    name: str
    kind: str
    qualname: str
    line: int
    end_line: int
    signature: str


# What the cache stores per file: definitions without the path (a file can move without
# re-parsing), and reference counts by name.
RawDef = tuple[str, str, str, int, int, str]
RawTags = tuple[list[RawDef], dict[str, int]]


@lru_cache(maxsize=None)
def _query(language: str) -> Query:
    from tree_sitter import Query

    if language in ("typescript", "tsx"):
        source = (query_source("javascript") or "") + (query_source(language) or "")
        extra = _EXTRA["typescript"]
    else:
        source = query_source(language) or ""
        extra = _EXTRA.get(language, "")
    return Query(get_language(language), source + extra)


@lru_cache(maxsize=None)
def _roles(language: str) -> dict[str, str]:
    """Capture name → ``""`` for a reference, the definition kind for a definition.

    Classifying each capture once per query (not with ``startswith`` per match) matters: Django
    yields ~250k matches, and this loop is the Python share of the tag step.
    """
    query = _query(language)
    roles: dict[str, str] = {}
    for i in range(query.capture_count):
        key = query.capture_name(i)
        if key.startswith("reference."):
            roles[key] = ""
        elif key.startswith("definition."):
            roles[key] = key[11:]
    return roles


def extract(language: str, source: bytes) -> RawTags:
    """Definitions and reference counts of one file's ``source``."""
    from tree_sitter import QueryCursor

    tree = get_parser(language).parse(source)
    roles = _roles(language)
    # Each pattern has one role capture; learn it from the pattern's first match, so the loop
    # over Django's ~240k matches does one dict lookup per match instead of a scan of its
    # captures.
    pattern_role: dict[int, tuple[str, str] | None] = {}
    found: dict[tuple[int, str], tuple[Node, str, str]] = {}
    referenced: list[bytes] = []  # names as bytes: counted in C, decoded once per name
    append = referenced.append
    for pattern, caps in QueryCursor(_query(language)).matches(tree.root_node):
        role = pattern_role.get(pattern, False)
        if role is False:
            role = pattern_role[pattern] = next(
                ((key, roles[key]) for key in caps if key in roles), None)
        if role is None:
            continue
        names = caps.get("name")
        if not names:
            continue
        first = names[0]
        key, kind = role
        if not kind:
            append(source[first.start_byte:first.end_byte])
        else:
            nodes = caps.get(key)
            if not nodes:
                continue
            name = source[first.start_byte:first.end_byte].decode("utf-8", "replace")
            at = (nodes[0].start_byte, name)
            held = found.get(at)
            if held is None or (held[2] in _BINDING_KINDS and kind not in _BINDING_KINDS):
                found[at] = (nodes[0], name, kind)
    refs: dict[str, int] = {}
    for raw, count in Counter(referenced).items():  # first-seen order, as before
        name = raw.decode("utf-8", "replace")
        refs[name] = refs.get(name, 0) + count
    return _nest(language, source, sorted(found.values(), key=_order)), refs


def _order(item: tuple[Node, str, str]) -> tuple[int, int]:
    return item[0].start_byte, -item[0].end_byte


def _nest(language: str, source: bytes, defs: list[tuple[Node, str, str]]) -> list[RawDef]:
    """Qualified names from containment: a definition inside another takes its name as prefix."""
    out: list[RawDef] = []
    stack: list[tuple[int, str, str]] = []  # (end_byte, qualname, kind) of open scopes
    python, go = language == "python", language == "go"
    for node, name, kind in defs:
        start_byte = node.start_byte
        while stack and stack[-1][0] <= start_byte:
            stack.pop()
        parent = stack[-1] if stack else None
        node_type = node.type  # a new str per access: read it once
        decorators = None
        if python and node_type in _DECORATABLE:
            decorators = _decorators(source, node)
        if python and kind == "function":
            kind = _python_kind(decorators or [], parent)
        if go and node_type == "method_declaration":
            receiver = _go_receiver(source, node)
            qualname = f"{receiver}.{name}" if receiver else name
        elif go and node_type == "type_spec":
            kind = {"struct_type": "struct", "interface_type": "interface"}.get(
                getattr(node.child_by_field_name("type"), "type", ""), "type")
            qualname = name
        else:
            qualname = f"{parent[1]}.{name}" if parent else name
        out.append((name, kind, qualname, node.start_point[0] + 1, node.end_point[0] + 1,
                    signature(language, source, node, decorators=decorators)))
        stack.append((node.end_byte, qualname, kind))
    return out


_PROPERTY = re.compile(r"@(?:\w+\.)*(?:cached_)?property$|@[\w.]+\.(?:setter|getter|deleter)$")
_ARGUMENTS = re.compile(r"\(.*", re.DOTALL)
_DECORATABLE = frozenset({"function_definition", "class_definition"})


def _decorators(source: bytes, node: Node) -> list[str]:
    parent = node.parent
    if parent is None or parent.type != "decorated_definition":
        return []
    # "@app.route('/x', methods=[...])" → "@app.route(...)": the name, not the arguments.
    return [_ARGUMENTS.sub("(...)", " ".join(_text(source, d).split()))
            for d in parent.children if d.type == "decorator"]


def _python_kind(decorators: list[str], parent: tuple[int, str, str] | None) -> str:
    if parent is None or parent[2] != "class":
        return "function"
    if any(_PROPERTY.match(d) for d in decorators):
        return "property"
    return "method"


def _go_receiver(source: bytes, node: Node) -> str:
    receiver = node.child_by_field_name("receiver")
    stack = [receiver] if receiver is not None else []
    while stack:  # the first type name inside "(s *Server)" or "(l List[T])"
        current = stack.pop(0)
        if current.type == "type_identifier":
            return _text(source, current)
        stack.extend(current.children)
    return ""


_BODY_FIELD_TYPES = frozenset({
    "function_definition", "class_definition",  # python
    "function_declaration", "generator_function_declaration", "class_declaration",
    "abstract_class_declaration", "interface_declaration", "method_definition", "class",
    "function_expression", "generator_function", "internal_module", "module",
    "enum_declaration",
    "method_declaration",  # go (function_declaration shared)
})
_VALUE_TYPES = frozenset({"variable_declarator", "pair", "assignment_expression",
                          "field_definition", "public_field_definition"})


def signature(language: str, source: bytes, node: Node, *,
              decorators: list[str] | None = None) -> str:
    """A one-line signature: the definition's header up to its body, whitespace collapsed.

    ``decorators`` saves reading a Python definition's decorators again when the caller has.
    """
    start, end = node.start_byte, node.end_byte
    node_type = node.type
    if node_type in ("const_spec", "var_spec") or (
            node_type == "variable_declarator"
            and getattr(node.child_by_field_name("value"), "type", "") not in _FUNCTION_VALUES):
        return _binding_signature(source, node)
    body = node.child_by_field_name("body") if node_type in _BODY_FIELD_TYPES else None
    if body is not None:
        end = body.start_byte
        if language == "python":  # stop at the header's ":" (a comment may follow it)
            colon = [c for c in node.children if c.type == ":"]
            end = colon[-1].end_byte if colon else end
    elif node_type in _VALUE_TYPES and (value := node.child_by_field_name("value")
                                        or node.child_by_field_name("right")) is not None:
        inner = value.child_by_field_name("body")
        end = inner.start_byte if inner is not None else value.start_byte
        if node_type == "variable_declarator" and node.parent is not None:
            start = node.parent.start_byte  # include "const" / "let"
            node = node.parent
    elif node_type in ("type_spec", "type_alias"):
        kind = node.child_by_field_name("type")
        if kind is not None and kind.type in ("struct_type", "interface_type"):
            return f"type {_text(source, node.child_by_field_name('name'))} " + \
                   kind.type.split("_")[0]
        return _clip("type " + " ".join(_text(source, node).split()))
    elif node_type == "assignment":  # a python module constant
        newline = source.find(b"\n", start, end)
        end = newline if newline != -1 else end
    parent = node.parent
    if parent is not None and parent.type == "export_statement":
        start = parent.start_byte
    text = " ".join(source[start:end].decode("utf-8", "replace").split())
    if language == "python" and node_type in _DECORATABLE:
        if decorators is None:
            decorators = _decorators(source, node)
        if decorators:
            text = " ".join([*decorators, text])
    return _clip(text)


_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function",
                              "generator_function", "class"})


def _binding_signature(source: bytes, node: Node) -> str:
    """``export const ZodIssueCode = util.arrayToEnum([`` or ``const ShellCompDirectiveNoFileComp
    ShellCompDirective``: the keyword and the binding's first line (one of several in its
    declaration); a Go constant that repeats the one before it (``iota``) shows that type."""
    first = _text(source, node).split("\n", 1)[0]
    declaration = node.parent
    if declaration is not None and declaration.type == "var_spec_list":
        declaration = declaration.parent
    if node.type == "const_spec" and node.child_by_field_name("type") is None \
            and node.child_by_field_name("value") is None:
        previous = node.prev_named_sibling
        while previous is not None and previous.type == "const_spec":
            kind = previous.child_by_field_name("type")
            if kind is not None:
                first += " " + _text(source, kind)
                break
            previous = previous.prev_named_sibling
    keyword = {"const_spec": "const", "var_spec": "var"}.get(node.type, "")
    if declaration is not None and not keyword:
        keyword = _text(source, declaration.children[0]) if declaration.children else ""
    text = f"{keyword} {first}".strip()
    if declaration is not None and getattr(declaration.parent, "type", "") == "export_statement":
        text = "export " + text
    return _clip(" ".join(text.split()))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SIGNATURE else text[:MAX_SIGNATURE - 1] + "…"


def _text(source: bytes, node: Node | None) -> str:
    if node is None:
        return ""
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")
