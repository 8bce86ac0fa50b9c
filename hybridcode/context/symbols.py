"""The definitions in one source file, with qualified names and exact byte ranges.

Conventions (extraction and placement rely on them):

- **Qualified names** join enclosing scopes with dots: ``Outer.Inner.method``, ``outer.helper``
  for a nested function, ``N.h`` inside a TypeScript namespace, ``default`` for an anonymous
  ``export default``. A Go method is ``Type.Method`` whatever its receiver: ``(s *Server[T])
  Start`` is ``Server.Start`` — the pointer and type parameters are not part of what a spec names.
- **A symbol's range is made of parts**, in this order, each possibly empty:
  ``[start_byte, decorators_byte)`` attached comments (the comment lines directly above, with no
  blank line between — Go and JSDoc doc comments live there), ``[decorators_byte,
  modifiers_byte)`` decorators, ``[modifiers_byte, definition_byte)`` ``export``/``export
  default``, ``[definition_byte, end_byte)`` the definition itself. Placement swaps parts one by
  one, so code without its decorators keeps the file's decorators.
- **Same-name groups**: overload stubs and their implementation, or a property's getter, setter
  and deleter, are separate symbols sharing one qualified name; ``role`` tells them apart
  (``overload``, ``getter``, ``setter``, ``deleter`` or empty).
- Tree-sitter works in UTF-8 bytes, so every offset here is a byte offset into
  ``encode(text)``; only ``Symbol.indent`` and ``Symbol.signature`` are text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from hybridcode.context.languages import get_language, get_parser
from hybridcode.errors import ContextError

if TYPE_CHECKING:
    from tree_sitter import Node, Query, Tree

BRACE_LANGUAGES = frozenset({"javascript", "typescript", "tsx", "go"})
CLASS_KINDS = frozenset({"class", "interface", "struct", "enum", "namespace", "type"})
MEMBER_OWNERS = frozenset({"class", "interface", "struct"})  # their functions are methods


@dataclass(frozen=True)
class Symbol:
    """One definition. Byte offsets index ``encode(text)``; lines are 1-based and inclusive."""

    name: str
    qualified_name: str
    kind: str  # function, method, class, interface, struct, type, enum, namespace
    start_byte: int
    decorators_byte: int
    modifiers_byte: int
    definition_byte: int
    end_byte: int
    start_line: int
    end_line: int
    indent: str  # the whitespace that starts the symbol's first line
    signature: str  # header on one line: "def f(a: int) -> str:", "func (s *S) Run() error"
    parent: str | None = None
    role: str = ""
    body: tuple[int, int] | None = None  # byte range of the body (elided by skeletons)
    docstring_end: int | None = None  # Python: end of the body's docstring statement

    @property
    def is_scope(self) -> bool:
        return self.kind in CLASS_KINDS


def encode(text: str) -> bytes:
    # surrogateescape keeps undecodable bytes of a file read the same way byte-identical.
    return text.encode("utf-8", "surrogateescape")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def parse(data: bytes, language: str) -> Tree:
    return get_parser(language).parse(data)


def first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node in document order, descending only into broken subtrees."""
    if not node.has_error:
        return None
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        found = first_error(child)
        if found is not None:
            return found
    return node


def error_ranges(node: Node) -> list[tuple[int, int]]:
    """Byte ranges of every outermost ERROR/MISSING node."""
    if not node.has_error:
        return []
    if node.is_error or node.is_missing:
        return [(node.start_byte, node.end_byte)]
    found = [r for child in node.children for r in error_ranges(child)]
    return found or [(node.start_byte, node.end_byte)]


# --- which nodes are definitions ---------------------------------------------------------------

_DEFINITION_TYPES = {
    "python": ("function_definition", "class_definition"),
    "go": ("function_declaration", "method_declaration", "type_declaration"),
}
_JS_TYPES = (
    "function_declaration", "generator_function_declaration", "function_signature",
    "class_declaration", "abstract_class_declaration", "interface_declaration",
    "type_alias_declaration", "enum_declaration", "internal_module", "method_definition",
    "method_signature", "abstract_method_signature", "public_field_definition", "field_definition",
    "lexical_declaration", "variable_declaration", "export_statement",
)
_JS_KINDS = {
    "class_declaration": "class", "abstract_class_declaration": "class", "class": "class",
    "interface_declaration": "interface", "type_alias_declaration": "type",
    "enum_declaration": "enum", "internal_module": "namespace",
}
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function",
                              "generator_function"})
_CLASS_BODIES = frozenset({"class_body", "interface_body"})


@lru_cache(maxsize=None)
def _query(language: str) -> Query:
    from tree_sitter import Query

    lang = get_language(language)
    types = _DEFINITION_TYPES.get(language, _JS_TYPES)
    present = [t for t in types if lang.id_for_node_kind(t, True)]
    return Query(lang, " ".join(f"({t}) @d" for t in present))


def list_symbols(text: str | bytes, language: str, tree: Tree | None = None) -> list[Symbol]:
    """Every definition in the file, in source order. Parts that do not parse are skipped."""
    from tree_sitter import QueryCursor

    data = text if isinstance(text, bytes) else encode(text)
    tree = tree or parse(data, language)
    nodes = QueryCursor(_query(language)).captures(tree.root_node).get("d", [])
    cores: dict[tuple[int, int, str], tuple[Node, str, str]] = {}
    for node in sorted(nodes, key=lambda n: n.start_byte):
        for core, name, kind in _definitions(node, language, data):
            cores[_key(core)] = (core, name, kind)
    result = []
    for core, name, kind in cores.values():
        scopes = _enclosing_names(core, cores)
        if language == "go" and kind == "method":
            scopes = [_go_receiver(core, data)]
        if kind == "function" and scopes and cores[scopes[-1][1]][2] in MEMBER_OWNERS:
            kind = "method"
        names = [s if isinstance(s, str) else s[0] for s in scopes]
        result.append(_build(core, name, kind, names, language, data))
    return sorted(result, key=lambda s: (s.start_byte, -s.end_byte))


def _key(node: Node) -> tuple[int, int, str]:
    return (node.start_byte, node.end_byte, node.type)


def _text(node: Node | None, data: bytes) -> str:
    return "" if node is None else decode(data[node.start_byte:node.end_byte])


def _definitions(node: Node, language: str, data: bytes) -> Iterator[tuple[Node, str, str]]:
    """(core node, name, kind) for a captured node; several for a grouped Go ``type (...)``."""
    t = node.type
    if language == "python":
        yield node, _text(node.child_by_field_name("name"), data), (
            "class" if t == "class_definition" else "function")
    elif language == "go":
        if t == "type_declaration":
            specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
            grouped = any(c.type == "(" for c in node.children)
            for spec in specs:
                kind = {"struct_type": "struct", "interface_type": "interface"}.get(
                    getattr(spec.child_by_field_name("type"), "type", ""), "type")
                yield (spec if grouped else node), _text(spec.child_by_field_name("name"), data), kind
        else:
            yield node, _text(node.child_by_field_name("name"), data), (
                "method" if t == "method_declaration" else "function")
    elif t in ("lexical_declaration", "variable_declaration"):
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        if len(declarators) == 1:
            value = declarators[0].child_by_field_name("value")
            name = declarators[0].child_by_field_name("name")
            if value is not None and value.type in _FUNCTION_VALUES and name is not None \
                    and name.type == "identifier":
                yield node, _text(name, data), "function"
    elif t in ("public_field_definition", "field_definition"):
        value = node.child_by_field_name("value")
        name = node.child_by_field_name("name") or node.child_by_field_name("property")
        if value is not None and value.type in _FUNCTION_VALUES and name is not None:
            yield node, _text(name, data), "method"
    elif t == "export_statement":
        value = node.child_by_field_name("value")
        if value is not None and value.type in _FUNCTION_VALUES | {"class"}:
            name = value.child_by_field_name("name")
            yield value, _text(name, data) or "default", _JS_KINDS.get(value.type, "function")
    elif t in ("method_signature", "abstract_method_signature"):
        if node.parent is not None and node.parent.type == "class_body":
            yield node, _text(node.child_by_field_name("name"), data), "method"
    else:
        name = node.child_by_field_name("name")
        if name is not None:
            kind = _JS_KINDS.get(t, "method" if t == "method_definition" else "function")
            yield node, _text(name, data), kind


def _enclosing_names(core: Node, cores: dict) -> list[tuple[str, tuple[int, int, str]]]:
    names = []
    parent = core.parent
    while parent is not None:
        found = cores.get(_key(parent))
        if found is not None:
            names.append((found[1], _key(parent)))
        parent = parent.parent
    return names[::-1]


def _go_receiver(core: Node, data: bytes) -> str:
    receiver = core.child_by_field_name("receiver")
    node = receiver.named_children[0].child_by_field_name("type") if receiver and \
        receiver.named_children else None
    while node is not None and node.type in ("pointer_type", "generic_type",
                                             "parenthesized_type"):
        node = node.child_by_field_name("type") or (node.named_children or [None])[0]
    return _text(node, data)


# --- ranges, signatures, roles -----------------------------------------------------------------

def _build(core: Node, name: str, kind: str, scopes: list[str], language: str,
           data: bytes) -> Symbol:
    outer = core
    modifiers = definition = core.start_byte
    decorators: int | None = None
    parent = core.parent
    if parent is not None and parent.type == "decorated_definition":
        outer, decorators = parent, parent.start_byte
    elif parent is not None and parent.type == "export_statement":
        outer = parent
        keyword = next(c for c in parent.children if c.type == "export")
        modifiers = keyword.start_byte
        decos = [c for c in parent.children if c.type == "decorator"
                 and c.start_byte < modifiers]
        decorators = decos[0].start_byte if decos else None
    if decorators is None:  # decorators inside the definition (TS class, field) or before it
        lead = [c for c in core.children if c.type == "decorator"]
        if lead and lead[0].start_byte == core.start_byte and outer is core:
            decorators = core.start_byte
            rest = [c for c in core.children if c.type not in ("decorator", "comment")]
            modifiers = definition = rest[0].start_byte if rest else core.start_byte
        first = outer
        while first.prev_sibling is not None and first.prev_sibling.type == "decorator":
            first = first.prev_sibling
        if first is not outer:
            decorators = first.start_byte
            outer_start_node = first
        else:
            outer_start_node = outer
    else:
        outer_start_node = outer
    decorators = modifiers if decorators is None else decorators
    start_node = _attached_comments(outer_start_node, data)
    end = outer.end_byte
    after = outer.next_sibling
    if after is not None and after.type == ";" and after.start_point.row == outer.end_point.row:
        end = after.end_byte  # TS members end their ';' outside the node
    body, doc_end = _body(core, language)
    line_start = data.rfind(b"\n", 0, start_node.start_byte) + 1
    prefix = decode(data[line_start:start_node.start_byte])
    indent = prefix[: len(prefix) - len(prefix.lstrip(" \t"))]
    return Symbol(
        name=name, qualified_name=".".join([*scopes, name]), kind=kind,
        start_byte=start_node.start_byte, decorators_byte=decorators, modifiers_byte=modifiers,
        definition_byte=definition, end_byte=end, start_line=start_node.start_point.row + 1,
        end_line=outer.end_point.row + 1, indent=indent,
        signature=_signature(core, data, modifiers, body, language),
        parent=".".join(scopes) or None, role=_role(core, outer, language, data),
        body=body, docstring_end=doc_end,
    )


def _attached_comments(node: Node, data: bytes) -> Node:
    """The first of the comment lines directly above ``node`` (no blank line between)."""
    first = node
    prev = node.prev_sibling
    while prev is not None and prev.type == "comment" \
            and prev.end_point.row >= first.start_point.row - 1 \
            and prev.end_point.row < first.start_point.row:
        line_start = data.rfind(b"\n", 0, prev.start_byte) + 1
        if data[line_start:prev.start_byte].strip():
            break  # a trailing comment of the previous statement
        first, prev = prev, prev.prev_sibling
    return first


def _body(core: Node, language: str) -> tuple[tuple[int, int] | None, int | None]:
    node = core
    if core.type in ("lexical_declaration", "variable_declaration"):
        node = next(c for c in core.named_children if c.type == "variable_declarator")
        node = node.child_by_field_name("value")
    elif core.type in ("public_field_definition", "field_definition"):
        node = core.child_by_field_name("value")
    body = node.child_by_field_name("body") if node is not None else None
    if body is None:
        return None, None
    doc_end = None
    if language == "python" and body.named_children:
        first = body.named_children[0]
        if first.type == "expression_statement" and first.named_children \
                and first.named_children[0].type == "string":
            doc_end = first.end_byte
    return (body.start_byte, body.end_byte), doc_end


def _signature(core: Node, data: bytes, modifiers: int, body: tuple[int, int] | None,
               language: str) -> str:
    if core.type in ("type_spec", "type_alias") or (language == "go"
                                                    and core.type == "type_declaration"):
        spec = core if core.type != "type_declaration" else core.named_children[0]
        head = decode(data[spec.start_byte:spec.end_byte]).split("{", 1)[0]
        return "type " + " ".join(head.split())
    end = body[0] if body else core.end_byte
    head = decode(data[modifiers:end])
    if body is None:
        head = head.split("\n", 1)[0]
    head = " ".join(head.split())
    if language in BRACE_LANGUAGES:
        head = head.rstrip("{ ;").rstrip()
    return head


def _role(core: Node, outer: Node, language: str, data: bytes) -> str:
    if language == "python":
        if outer.type != "decorated_definition":
            return ""
        for deco in outer.children:
            if deco.type != "decorator":
                continue
            text = _text(deco, data).lstrip("@").strip()
            if text in ("overload", "typing.overload", "typing_extensions.overload"):
                return "overload"
            if text in ("property", "functools.cached_property", "cached_property"):
                return "getter"
            for role in ("setter", "deleter"):
                if text.endswith("." + role):
                    return role
        return ""
    if core.type in ("function_signature", "method_signature"):
        return "overload"
    kinds = {c.type for c in core.children}
    return "getter" if "get" in kinds else "setter" if "set" in kinds else ""


# --- lookup --------------------------------------------------------------------------------------

def find_symbols(symbols: Sequence[Symbol], name: str,
                 error: type[ContextError] = ContextError) -> list[Symbol]:
    """The symbols a spec's name means: the exact qualified name, else a unique dotted suffix.

    Several results mean a same-name group (overloads, property accessors). An unknown name
    raises ``error`` with the closest names as the hint; a suffix that matches symbols of
    several qualified names raises it listing them.
    """
    exact = [s for s in symbols if s.qualified_name == name]
    if exact:
        return exact
    suffix = [s for s in symbols if s.qualified_name.endswith("." + name)]
    qualified = sorted({s.qualified_name for s in suffix})
    if len(qualified) == 1:
        return suffix
    if qualified:
        raise error(f"{name!r} is ambiguous", f"use one of: {', '.join(qualified)}")
    known = sorted({s.qualified_name for s in symbols})
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    close += [q for q in known if q.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]
              and q not in close]
    hint = f"did you mean: {', '.join(close)}?" if close else (
        "the file defines no symbols" if not known else
        f"defined here: {', '.join(known[:12])}{' …' if len(known) > 12 else ''}")
    raise error(f"no symbol {name!r} in the file", hint)


# --- module-level values -------------------------------------------------------------------------

_VALUE_KINDS = {"const_declaration": "constant", "var_declaration": "variable",
                "lexical_declaration": "variable", "variable_declaration": "variable"}


def module_values(text: str | bytes, language: str, tree: Tree | None = None) -> list[Symbol]:
    """The module-level constants and variables of a file, one :class:`Symbol` per bound name
    (kind ``constant`` or ``variable``), in source order.

    A symbol's range is its whole statement with the comments attached above it: Python's
    ``NAME = ...`` / ``NAME: T = ...``, Go's ``const``/``var`` declarations (a grouped
    ``const ( a = 1; b = 2 )`` gives one symbol per name, all with the group's range), and
    JavaScript/TypeScript ``const``/``let``/``var`` (also exported, destructured names
    included). A declaration that is a definition already (``const f = () => ...``) is left to
    :func:`list_symbols`.
    """
    data = text if isinstance(text, bytes) else encode(text)
    tree = tree or parse(data, language)
    found: list[Symbol] = []
    for child in tree.root_node.children:
        for node, names, kind in _value_names(child, language, data):
            if language not in ("python", "go") and _is_function_value(node):
                continue
            start = _attached_comments(child, data)
            line_start = data.rfind(b"\n", 0, start.start_byte) + 1
            prefix = decode(data[line_start:start.start_byte])
            for name in names:
                found.append(Symbol(
                    name=name, qualified_name=name, kind=kind, start_byte=start.start_byte,
                    decorators_byte=child.start_byte, modifiers_byte=child.start_byte,
                    definition_byte=node.start_byte, end_byte=child.end_byte,
                    start_line=start.start_point.row + 1, end_line=child.end_point.row + 1,
                    indent=prefix[: len(prefix) - len(prefix.lstrip(" \t"))],
                    signature=name))
    return found


def _value_names(child: Node, language: str, data: bytes) -> Iterator[tuple[Node, list[str], str]]:
    if language == "python":
        node = child.named_children[0] if child.type == "expression_statement" \
            and child.named_children else None
        left = node.child_by_field_name("left") if node is not None \
            and node.type == "assignment" else None
        if left is not None and left.type == "identifier":
            name = _text(left, data)
            yield node, [name], "constant" if name.isupper() else "variable"
        return
    node = child
    if language != "go" and child.type == "export_statement":
        node = child.child_by_field_name("declaration") or child
    kind = _VALUE_KINDS.get(node.type)
    if kind is None:
        return
    if node.type == "lexical_declaration" and any(c.type == "const" for c in node.children):
        kind = "constant"
    names: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in ("const_spec", "var_spec", "variable_declarator"):
            for name in current.children_by_field_name("name"):
                names += _bound_identifiers(name, data)
        elif current is node or current.type == "var_spec_list":
            stack.extend(reversed(current.named_children))
    if names:
        yield node, names, kind


def _bound_identifiers(pattern: Node, data: bytes) -> list[str]:
    """The names a binding pattern binds: ``a``, ``{a, b: c}`` → a, c, ``[d, ...e]`` → d, e."""
    if pattern.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [_text(pattern, data)]
    found = []
    for index, part in enumerate(pattern.children):
        # ``{key: name}`` binds name; ``{name = fallback}`` binds name, not the fallback.
        if part.is_named and pattern.field_name_for_child(index) not in ("key", "right"):
            found += _bound_identifiers(part, data)
    return found


def _is_function_value(node: Node) -> bool:
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    if len(declarators) != 1:
        return False
    value = declarators[0].child_by_field_name("value")
    name = declarators[0].child_by_field_name("name")
    return value is not None and value.type in _FUNCTION_VALUES and name is not None \
        and name.type == "identifier"
