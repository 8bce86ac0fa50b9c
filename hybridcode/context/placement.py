"""Placing generated code into a file: pure functions from text to text; the caller writes.

Guarantees:

- **Byte safety.** Every byte outside the changed range is kept: CRLF, tabs, a BOM, trailing
  whitespace, a missing final newline, non-ASCII text (offsets are UTF-8 byte offsets, see
  ``symbols``). New code takes the file's line endings and indentation unit, re-indented to the
  target's column; lines inside multi-line strings are never re-indented.
- **Syntax.** New code must parse on its own (``check_syntax``), and the result must not contain
  a syntax error the file did not already have. A file tree-sitter already misreads stays
  editable (grammars lag the languages), but no placement makes it worse.
- **Replacing keeps what the code leaves out.** A symbol is replaced part by part (attached
  comments, decorators, ``export``, definition; see ``symbols``): a part the new code supplies
  replaces the file's, a part it omits is kept. So a model that returns a method without its
  ``@app.route`` keeps the route; it cannot remove a decorator through ``replace_symbol``. When
  the new code holds more than the one definition (helpers, or a whole overload group) it
  replaces the target's whole range as written.
- **Same-name groups.** Code with several definitions of the name replaces the whole group
  (overload stubs + implementation, getter + setter). Code with one definition replaces the
  member with the same role (``@x.setter`` replaces the setter, ``@property`` the getter, an
  ``@overload`` stub the last stub), otherwise the implementation: overload stubs are kept.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence

from hybridcode.context.extract import referenced_names
from hybridcode.context.symbols import (
    CLASS_KINDS, MEMBER_OWNERS, Symbol, decode, encode, error_ranges, find_symbols, first_error,
    list_symbols, module_values, parse,
)
from hybridcode.errors import PlacementError

_STRING_TYPES = frozenset({"string", "template_string", "raw_string_literal",
                           "interpreted_string_literal"})
_IMPORT_TYPES = frozenset({"import_statement", "import_from_statement",
                           "future_import_statement", "import_declaration", "package_clause"})
_WRAP = b"class __HybridMembers__ {\n"
_GO_GROUP = b"type (\n"
_DEFAULT_BLANKS = {"python": (2, 1)}  # (top level, inside a class); others (1, 1)


def check_syntax(text: str, language: str, *, wrap_members: bool = False) -> None:
    """Raise ``PlacementError`` with the line and an excerpt of the first syntax error."""
    _Snippet(text, language, wrap_members, dedent=False).check()


def create_file(content: str, language: str) -> str:
    """``content`` checked and ending in exactly one newline (the content's own kind)."""
    check_syntax(content, language)
    newline = "\r\n" if "\r\n" in content else "\n"
    body = content.rstrip()
    return body + newline if body else ""


def replace_symbol(text: str, language: str, qualified_name: str, new_code: str) -> str:
    """``text`` with the definition ``qualified_name`` replaced by ``new_code``."""
    data = encode(text)
    symbols = list_symbols(data, language)
    group = find_symbols(symbols, qualified_name, PlacementError)
    go_spec = language == "go" and not data[group[0].definition_byte:].startswith(b"type") \
        and group[0].kind in ("struct", "interface", "type")
    snippet = _Snippet(new_code, language, _is_member(group[0], symbols), go_spec=go_spec)
    snippet.check()
    style = _Style.of(data, language)
    formatted, to_out = snippet.format(group[0].indent, style.unit)
    new_defs = [s for s in snippet.top_level() if s.name == group[0].name]
    if not new_defs:
        found = ", ".join(s.qualified_name for s in snippet.top_level()) or "nothing"
        raise PlacementError(f"the new code for {group[0].qualified_name} defines {found}",
                             f"return the definition of {group[0].name!r} itself")
    first, last = new_defs[0], new_defs[-1]
    whole = formatted[to_out(first.start_byte):to_out(last.end_byte)]
    sole = not formatted.replace(whole, b"", 1).strip(b" \t\n;")
    if len(new_defs) > 1 or not sole:
        start, end, code = group[0].start_byte, group[-1].end_byte, formatted.strip()
    else:
        old = _pick(group, first.role)
        start, end = old.start_byte, old.end_byte
        code = _merge_parts(data, old, formatted, first, to_out, language)
    result = data[:start] + style.newlines(code) + data[end:]
    _no_new_errors(data, result, language, start, end, group[0].qualified_name)
    return decode(result)


def insert_symbol(text: str, language: str, new_code: str, into_class: str | None = None,
                  after: str | None = None, near: Sequence[str] = (),
                  ahead_of: str | None = None) -> str:
    """``text`` with ``new_code`` added after ``after``, or beside the code it belongs with.

    Without ``after``, code for ``into_class`` goes after the last class member named in
    ``near`` (the symbols a spec lists as its context), else at the end of the class's body.
    Top-level code goes after its *related* definitions — those named in ``near`` and those
    the code uses (a function it calls, a type it takes; in Go also that type's methods) —
    else after the last top-level definition (so module code below may use it); and never
    before a module-level constant or variable it uses. ``ahead_of`` (a top-level symbol: the
    class of the method these helpers serve) puts top-level code right before that symbol
    instead, unless the code uses something defined after it. Python's ``if __name__ ==
    "__main__":`` block stays last. Top-level code keeps the file's own spacing: the blank
    lines the file puts between its definitions separate the new ones too.

    Inserting code whose definitions all exist already with the same text is a no-op;
    a different definition of an existing name raises (use ``replace_symbol``).
    """
    data = encode(text)
    tree = parse(data, language)
    symbols = list_symbols(data, language, tree)
    owner = _owner(symbols, into_class, language)
    snippet = _Snippet(new_code, language, owner is not None)
    snippet.check()
    scope = f"{owner.qualified_name}." if owner else ""
    existing = {s.qualified_name: s for s in symbols}
    clashes = [existing[scope + s.qualified_name] for s in snippet.top_level()
               if scope + s.qualified_name in existing]
    if clashes:
        if all(_same_code(data[c.start_byte:c.end_byte], snippet.data) for c in clashes):
            return text
        raise PlacementError(f"{clashes[0].qualified_name} is already defined "
                             f"(line {clashes[0].start_line})", "use replace_symbol to change it")
    style = _Style.of(data, language)
    siblings = _top_level(symbols, language) if owner is None else [
        s for s in symbols if s.parent == owner.qualified_name]
    # (the specs of a Go ``type ( ... )`` group sit on consecutive lines: not a spacing)
    spaced = [s for s in siblings if language != "go" or s.kind not in CLASS_KINDS
              or data[s.definition_byte:].startswith(b"type")]
    blanks = style.blank_lines(spaced, inside_class=owner is not None)
    if after is None and owner is not None:
        members = [existing[scope + n.removeprefix(scope)] for n in near
                   if scope + n.removeprefix(scope) in existing]
        after = max(members, key=lambda s: s.end_byte).qualified_name if members else None
    if after is not None:
        anchor = find_symbols(symbols, f"{scope}{after}" if scope and not after.startswith(
            scope) and f"{scope}{after}" in existing else after, PlacementError)[-1]
        indent = anchor.indent
        return _insert_after(data, language, anchor.end_byte, indent, snippet, style, blanks)
    if owner is not None:
        return _insert_into(data, language, tree, owner, snippet, style, blanks)
    at = _top_level_anchor(data, tree, language, siblings, snippet, near)
    if ahead_of is not None:
        target = find_symbols(symbols, ahead_of, PlacementError)[0]
        start = data.rfind(b"\n", 0, target.start_byte) + 1
        uses = _top_level_anchor(data, tree, language, siblings, snippet, near, fallback=False)
        if target.parent is None and (uses is None or uses <= start):
            return _insert_before(data, language, start, snippet, style, blanks)
    if at is not None:
        return _insert_after(data, language, at, "", snippet, style, blanks)
    return _insert_at_end(data, language, tree, snippet, style, blanks)


def _top_level(symbols: list[Symbol], language: str) -> list[Symbol]:
    """The file's top-level definitions (a Go method is one: Go has no class bodies)."""
    return [s for s in symbols if s.parent is None or (language == "go" and s.kind == "method")]


def _top_level_anchor(data: bytes, tree, language: str, tops: list[Symbol], snippet: _Snippet,
                      near: Sequence[str], fallback: bool = True) -> int | None:
    """Where top-level code goes (see ``insert_symbol``): the end of a top-level statement,
    or None for the end of the file (``fallback=False``: None when the code relates to
    nothing in the file)."""
    limit = _main_guard(tree, data, language)
    tops = [s for s in tops if s.start_byte < limit]
    used = referenced_names(decode(snippet.data), language)
    related = [s for s in tops if s.parent is None and (s.name in used or s.qualified_name in near)]
    if language == "go":  # a Go type's methods follow it: code using the type follows them
        types = {s.name for s in related if s.kind in CLASS_KINDS}
        related += [s for s in tops if s.parent in types]
    ends = [_statement_end(tree, s) for s in related]
    if not ends and tops and fallback:
        ends = [_statement_end(tree, tops[-1])]
    ends += [_statement_end(tree, v) for v in module_values(data, language, tree)
             if v.name in used and v.start_byte < limit]
    return max(ends) if ends else None


def _statement_end(tree, symbol: Symbol) -> int:
    """The end of the top-level statement holding ``symbol`` (a Go type spec inside a
    ``type ( ... )`` group ends with the group)."""
    for child in tree.root_node.children:
        if child.start_byte <= symbol.definition_byte < child.end_byte:
            return max(child.end_byte, symbol.end_byte)
    return symbol.end_byte


# --- the new code ------------------------------------------------------------------------------

class _Snippet:
    """Model-written code, dedented to column 0 and parsed (inside a class when it is a member
    of a JavaScript/TypeScript class: a bare method does not parse at top level there)."""

    def __init__(self, code: str, language: str, member: bool, dedent: bool = True,
                 go_spec: bool = False) -> None:
        self.language = language
        lines = code.replace("\r\n", "\n").lstrip("\ufeff").split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        self.raw = [encode(ln) for ln in "\n".join(lines).rstrip().split("\n")]
        self.common = _code_indent(self.raw) if dedent else b""
        self.lines = [ln[len(self.common):] if ln.startswith(self.common) else ln
                      for ln in self.raw]
        self.lines[0] = self.lines[0].lstrip(b" \t") if dedent else self.lines[0]
        self.data = b"\n".join(self.lines)
        # A bare method parses only inside a class in JavaScript/TypeScript, and a Go type spec
        # from a ``type ( ... )`` group only inside one.
        head = b""
        if member and language in ("javascript", "typescript", "tsx"):
            head, tail = _WRAP, b"\n}"
        elif go_spec and not _starts_with_keyword(self.lines, b"type"):
            head, tail = _GO_GROUP, b"\n)"
        self.shift = len(head)
        self.rows = 1 if head else 0
        self.source = head + self.data + (tail if head else b"")
        self.scope = "__HybridMembers__" if head == _WRAP else None
        # Go wants a newline after the last declaration; code arrives stripped.
        self.tree = parse(self.source + b"\n", language)

    def check(self) -> None:
        node = first_error(self.tree.root_node)
        if node is None:
            return
        row = min(max(node.start_point.row - self.rows, 0), len(self.lines) - 1)
        excerpt = decode(self.lines[row]).strip()[:80]
        what = f"missing {node.type!r}" if node.is_missing else "syntax error"
        raise PlacementError(f"the code does not parse as {self.language}: {what} at line "
                             f"{row + 1}: {excerpt}", "fix that line and return the whole code",
                             line=row + 1, excerpt=excerpt)

    def top_level(self) -> list[Symbol]:
        for child in self.tree.root_node.children:
            if child.type in _IMPORT_TYPES:
                raise PlacementError(
                    "the code contains imports or a package clause",
                    "pass imports to add_imports and return only the definition",
                    line=child.start_point.row + 1 - self.rows,
                    excerpt=decode(self.source[child.start_byte:child.end_byte]).split("\n")[0])
        found = [s for s in list_symbols(self.source, self.language, self.tree)
                 if s.parent == self.scope or self.language == "go"]
        shift = self.shift
        return [dataclasses.replace(
            s, parent=None if self.scope else s.parent,
            qualified_name=s.name if self.scope else s.qualified_name,
            start_byte=s.start_byte - shift,
            decorators_byte=s.decorators_byte - shift, modifiers_byte=s.modifiers_byte - shift,
            definition_byte=s.definition_byte - shift, end_byte=s.end_byte - shift)
            for s in found]

    def protected_rows(self) -> set[int]:
        """Rows that start inside a multi-line string other than a docstring: their
        indentation is content, so they keep their original bytes."""
        rows: set[int] = set()
        stack = [self.tree.root_node]
        offset = self.rows
        while stack:
            node = stack.pop()
            if node.start_point.row == node.end_point.row:
                continue
            if node.type in _STRING_TYPES:
                bare = node.parent is not None and node.parent.type == "expression_statement" \
                    and self.language == "python"
                if not bare:
                    rows.update(range(node.start_point.row + 1 - offset,
                                      node.end_point.row + 1 - offset))
            else:
                stack.extend(node.children)
        return rows

    def format(self, indent: str, unit: bytes | None):
        """The code at ``indent`` (first line unindented: it goes after the target's own
        indentation), in ``unit``; and a map from snippet byte offsets to formatted ones."""
        own = _indent_unit(self.lines)
        prefix = encode(indent)
        identity = prefix == self.common and not _mismatch(own, unit)
        protected = self.protected_rows()
        out: list[bytes] = []
        starts: list[int] = []
        out_starts: list[int] = []
        shifts: list[tuple[int, int]] = []
        position = out_position = 0
        for row, (raw, line) in enumerate(zip(self.raw, self.lines)):
            ws = line[: len(line) - len(line.lstrip(b" \t"))]
            if row and (row in protected or identity):
                new, shift = raw, (0, len(raw) - len(line))
            elif not line.strip():
                new, shift = b"", (0, 0)
            else:
                head = (prefix if row else b"") + _convert(ws, own, unit)
                new, shift = head + line[len(ws):], (len(ws), len(head))
            starts.append(position)
            out_starts.append(out_position)
            shifts.append(shift)
            out.append(new)
            position += len(line) + 1
            out_position += len(new) + 1

        def to_out(offset: int) -> int:
            row = bisect_right(starts, offset) - 1
            old_ws, new_ws = shifts[row]
            return out_starts[row] + new_ws + (offset - starts[row] - old_ws)

        return b"\n".join(out), to_out


def _starts_with_keyword(lines: list[bytes], keyword: bytes) -> bool:
    code = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(b"//")]
    return bool(code) and code[0].split(b" ", 1)[0] == keyword


def _code_indent(lines: list[bytes]) -> bytes:
    """The indentation the code was written at, as seen on its lines after the first.

    The first line is a def, decorator or comment — never string content — so its indentation
    is the code's own; but a caller that stripped the code leaves it at column 0 while the rest
    keeps its indentation. When the first line opens no block, the next line is at its level;
    when it opens one, a closing brace on the last line is.
    """
    first = lines[0]
    own = first[: len(first) - len(first.lstrip(b" \t"))]
    rest = [ln[: len(ln) - len(ln.lstrip(b" \t"))] for ln in lines[1:] if ln.strip()]
    opens = first.rstrip().endswith((b":", b"{", b"(", b"[", b"=>", b"=", b","))
    if rest and not opens and len(rest[0]) > len(own) and rest[0].startswith(own):
        return rest[0]
    last = lines[-1].lstrip(b" \t")
    if opens and rest and last[:1] in (b"}", b")", b"]") and len(rest[-1]) > len(own):
        return rest[-1]  # a closing brace sits at the code's own level
    return own


def _common_prefix(items: list[bytes]) -> bytes:
    if not items:
        return b""
    low, high = min(items), max(items)
    size = 0
    while size < len(low) and low[size] == high[size]:
        size += 1
    return low[:size]


def _indent_unit(lines: list[bytes]) -> bytes | None:
    """Tab, or the most common step in spaces between successive indented lines."""
    tabs = spaces = 0
    steps: Counter[int] = Counter()
    previous = b""
    for line in lines[:3000]:
        body = line.lstrip(b" \t")
        if not body.strip():
            continue
        ws = line[: len(line) - len(body)]
        tabs += ws.startswith(b"\t")
        spaces += ws.startswith(b" ")
        if len(ws) > len(previous) and ws.startswith(previous) and not ws[len(previous):].strip(b" "):
            steps[len(ws) - len(previous)] += 1
        previous = ws
    if tabs > spaces:
        return b"\t"
    return b" " * steps.most_common(1)[0][0] if steps else None


def _mismatch(own: bytes | None, unit: bytes | None) -> bool:
    """Only tabs against spaces matter: Python rejects the mix; space widths are style."""
    return own is not None and unit is not None and (own == b"\t") != (unit == b"\t")


def _convert(ws: bytes, own: bytes | None, unit: bytes | None) -> bytes:
    if not _mismatch(own, unit):
        return ws
    if own == b"\t":
        levels = len(ws) - len(ws.lstrip(b"\t"))
        return unit * levels + ws[levels:]
    width = len(ws.replace(b"\t", own))
    levels, rest = divmod(width, len(own))
    return unit * levels + b" " * rest


# --- the file ----------------------------------------------------------------------------------

@dataclasses.dataclass
class _Style:
    newline: bytes
    unit: bytes | None
    language: str

    @classmethod
    def of(cls, data: bytes, language: str) -> _Style:
        first = data.find(b"\n")
        crlf = first > 0 and data[first - 1:first] == b"\r"
        unit = _indent_unit(data.split(b"\n")) or (b"\t" if language == "go" else None)
        return cls(b"\r\n" if crlf else b"\n", unit, language)

    def newlines(self, code: bytes) -> bytes:
        return code.replace(b"\n", self.newline) if self.newline != b"\n" else code

    def blank_lines(self, siblings: list[Symbol], inside_class: bool) -> int:
        """The file's own spacing between definitions, else PEP 8 / one blank line."""
        gaps = Counter(b.start_line - a.end_line - 1 for a, b in zip(siblings, siblings[1:])
                       if b.start_line > a.end_line)
        if gaps:
            return gaps.most_common(1)[0][0]
        top, inner = _DEFAULT_BLANKS.get(self.language, (1, 1))
        return inner if inside_class else top


def _is_member(symbol: Symbol, symbols: list[Symbol]) -> bool:
    parent = next((s for s in symbols if s.qualified_name == symbol.parent), None)
    return parent is not None and parent.kind in MEMBER_OWNERS


def _pick(group: list[Symbol], role: str) -> Symbol:
    # Without a role of its own the code is the implementation, or a property's getter
    # whose ``@property`` the model left out.
    for wanted in (role, "", "getter"):
        found = [s for s in group if s.role == wanted]
        if found:
            return found[-1]
    return group[-1]


def _merge_parts(data: bytes, old: Symbol, formatted: bytes, new: Symbol, to_out,
                 language: str) -> bytes:
    old_cuts = (old.start_byte, old.decorators_byte, old.modifiers_byte, old.definition_byte,
                old.end_byte)
    new_cuts = [to_out(c) for c in (new.start_byte, new.decorators_byte, new.modifiers_byte,
                                    new.definition_byte, new.end_byte)]
    parts = []
    for i in range(4):
        mine = formatted[new_cuts[i]:new_cuts[i + 1]]
        parts.append(mine if mine.strip() else data[old_cuts[i]:old_cuts[i + 1]])
    old_def = data[old.definition_byte:old.end_byte]
    if language == "go" and parts[3].startswith(b"type ") and not old_def.startswith(b"type"):
        parts[3] = parts[3][5:].lstrip()  # a spec inside ``type ( ... )`` has no keyword
    return b"".join(parts)


def _same_code(a: bytes, b: bytes) -> bool:
    return a.replace(b"\r\n", b"\n").split() == b.split()


def _no_new_errors(before: bytes, after: bytes, language: str, start: int, end: int,
                   what: str) -> None:
    old_tree = parse(before, language)
    new_tree = parse(after, language)
    if not new_tree.root_node.has_error:
        return
    delta = len(after) - len(before)
    known = set()
    for s, e in error_ranges(old_tree.root_node):
        if e <= start:
            known.add((s, e))
        elif s >= end:
            known.add((s + delta, e + delta))
    for s, e in error_ranges(new_tree.root_node):
        if (s, e) in known:
            continue
        line = after.count(b"\n", 0, s) + 1
        line_start = after.rfind(b"\n", 0, s) + 1
        excerpt = decode(after[line_start:after.find(b"\n", s) if b"\n" in after[s:] else None]
                         ).strip()[:80]
        hint = ("the file already has syntax errors; fix them first"
                if old_tree.root_node.has_error else "the code does not fit at this place")
        raise PlacementError(f"placing {what} would leave a syntax error at line {line}: "
                             f"{excerpt}", hint, line=line, excerpt=excerpt)


# --- insertion points ---------------------------------------------------------------------------

def _owner(symbols: list[Symbol], into_class: str | None, language: str) -> Symbol | None:
    if into_class is None:
        return None
    if language == "go":
        raise PlacementError("Go has no class bodies to insert into",
                             "insert a method at top level (into_class=None)")
    owner = find_symbols(symbols, into_class, PlacementError)[-1]
    if owner.kind not in MEMBER_OWNERS or owner.body is None:
        raise PlacementError(f"{owner.qualified_name} is a {owner.kind}, not a class",
                             "name the class to insert into")
    return owner


def _line_end(data: bytes, offset: int) -> int:
    end = data.find(b"\n", offset)
    if end < 0:
        return len(data)
    return end - 1 if end > 0 and data[end - 1:end] == b"\r" else end


def _insert_after(data: bytes, language: str, anchor_end: int, indent: str, snippet: _Snippet,
                  style: _Style, blanks: int) -> str:
    formatted, _ = snippet.format(indent, style.unit)
    if not indent:
        formatted = _respace(formatted, language, blanks)
    at = _line_end(data, anchor_end)
    code = b"\n" * (blanks + 1) + encode(indent) + formatted
    result = data[:at] + style.newlines(code) + data[at:]
    _no_new_errors(data, result, language, at, at, "the new code")
    return decode(result)


def _insert_before(data: bytes, language: str, at: int, snippet: _Snippet, style: _Style,
                   blanks: int) -> str:
    formatted = _respace(snippet.format("", style.unit)[0], language, blanks)
    code = formatted + b"\n" * (blanks + 1)
    result = data[:at] + style.newlines(code) + data[at:]
    _no_new_errors(data, result, language, at, at, "the new code")
    return decode(result)


def _insert_into(data: bytes, language: str, tree, owner: Symbol, snippet: _Snippet,
                 style: _Style, blanks: int) -> str:
    assert owner.body is not None
    body = tree.root_node.descendant_for_byte_range(owner.body[0], owner.body[1])
    while body is not None and body.start_byte >= owner.body[0] and body.parent is not None \
            and (body.parent.start_byte, body.parent.end_byte) == owner.body:
        body = body.parent
    members = [c for c in body.named_children if c.type != "comment"] if body else []
    if members:
        last = members[-1]
        end = last.end_byte
        after = last.next_sibling
        if after is not None and after.type == ";" and after.start_point.row == last.end_point.row:
            end = after.end_byte
        line_start = data.rfind(b"\n", 0, members[0].start_byte) + 1
        lead = decode(data[line_start:members[0].start_byte])
        indent = lead[: len(lead) - len(lead.lstrip(" \t"))]
        return _insert_after(data, language, end, indent, snippet, style, blanks)
    # an empty brace body: the code goes between the braces, on lines of its own
    indent = owner.indent + decode(style.unit or b"  ")
    formatted, _ = snippet.format(indent, style.unit)
    open_at, close_at = owner.body[0] + 1, owner.body[1] - 1
    code = b"\n" + encode(indent) + formatted + b"\n" + encode(owner.indent)
    result = data[:open_at] + style.newlines(code) + data[close_at:]
    _no_new_errors(data, result, language, open_at, close_at, "the new code")
    return decode(result)


def _respace(code: bytes, language: str, blanks: int) -> bytes:
    """Top-level ``code`` with ``blanks`` blank lines wherever its statements were apart (a
    comment directly above its definition, or a run of constants, stays together)."""
    root = parse(code + b"\n", language).root_node
    if root.has_error:
        return code
    out, position = [], 0
    children = root.children
    for before, child in zip(children, children[1:]):
        between = code[before.end_byte:child.start_byte]
        if between.count(b"\n") >= 2 and not between.strip():
            out.append(code[position:before.end_byte] + b"\n" * (blanks + 1))
            position = child.start_byte
    return b"".join(out) + code[position:]


def _main_guard(tree, data: bytes, language: str) -> int:
    """Start of a Python ``if __name__ == "__main__":`` block, else the end of the file."""
    if language == "python":
        for child in tree.root_node.children:
            if child.type == "if_statement" and b"__main__" in data[child.start_byte:
                                                                   child.start_byte + 60]:
                return child.start_byte
    return len(data)


def _insert_at_end(data: bytes, language: str, tree, snippet: _Snippet, style: _Style,
                   blanks: int) -> str:
    formatted = _respace(snippet.format("", style.unit)[0], language, blanks)
    at = _main_guard(tree, data, language)
    before = data[:at].replace(b"\r\n", b"\n")
    if not before.strip():
        lead = b""
    else:
        trailing = len(before) - len(before.rstrip(b"\n"))
        lead = b"\n" * max(0, blanks + 1 - trailing)
    if at < len(data):  # before the main guard
        code = lead + formatted + b"\n" * (blanks + 1)
    else:
        code = lead + formatted + b"\n"
    result = data[:at] + style.newlines(code) + data[at:]
    _no_new_errors(data, result, language, at, at, "the new code")
    return decode(result)


# --- imports ----------------------------------------------------------------------------------

def add_imports(text: str, language: str, imports: list[str]) -> str:
    """``text`` with the import statements it lacks, after the existing import block.

    An import is skipped when the file already binds the same names from the same module
    (``from x import a, b`` covers ``from x import a``; ``from x import *`` covers any
    ``from x import``); a partly covered statement is added with only its missing names. Go
    accepts ``"path"``, ``alias "path"`` or ``import "path"``.
    """
    data = encode(text)
    tree = parse(data, language)
    have = _bindings(tree.root_node, data, language)
    wanted: list[bytes] = []
    future: list[bytes] = []
    for request in imports:
        for line in _missing(request, language, have):
            (future if line.startswith(b"from __future__") else wanted).append(line)
    if not future and not wanted:
        return text
    style = _Style.of(data, language)
    if language == "go":
        return decode(_add_go(data, tree, wanted, style))
    for group, is_future in ((future, True), (wanted, False)):
        if group:
            data = _add_lines(data, language, group, style, is_future)
    if parse(data, language).root_node.has_error and not tree.root_node.has_error:
        raise PlacementError("the imports do not parse", "pass complete import statements")
    return decode(data)


def _bindings(root, data: bytes, language: str) -> set[tuple]:
    found: set[tuple] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("function_definition", "class_definition", "function_declaration",
                         "method_declaration", "class_declaration"):
            continue
        if node.type in ("import_statement", "import_from_statement", "future_import_statement",
                         "import_spec"):
            found.update(_keys(node, data, language))
        elif node.type == "lexical_declaration" and b"require(" in data[node.start_byte:
                                                                            node.end_byte]:
            found.add(("line", b" ".join(data[node.start_byte:node.end_byte].split())))
        else:
            stack.extend(node.named_children)
    return found


def _keys(node, data: bytes, language: str) -> list[tuple]:
    def text(n) -> str:
        return decode(data[n.start_byte:n.end_byte]) if n is not None else ""

    if language == "go":
        name = node.child_by_field_name("name")
        return [("go", text(node.child_by_field_name("path")).strip('"`'), text(name) or None)]
    if language == "python":
        if node.type == "import_statement":
            return [("import", text(n.child_by_field_name("name") or n),
                     text(n.child_by_field_name("alias")) or None)
                    for n in node.children_by_field_name("name")]
        module = "__future__" if node.type == "future_import_statement" else text(
            node.child_by_field_name("module_name"))
        keys = [("from", module, text(n.child_by_field_name("name") or n),
                 text(n.child_by_field_name("alias")) or None)
                for n in node.children_by_field_name("name")]
        if any(c.type == "wildcard_import" for c in node.children):
            keys.append(("from", module, "*", None))
        return keys
    source = next((text(c) for c in node.named_children if c.type == "string"), "")[1:-1]
    clause = next((c for c in node.named_children if c.type == "import_clause"), None)
    if clause is None:
        return [("side", source)]
    keys = []
    for part in clause.named_children:
        if part.type == "identifier":
            keys.append(("default", source, text(part)))
        elif part.type == "namespace_import":
            keys.append(("ns", source, text(part.named_children[0])))
        elif part.type == "named_imports":
            keys += [("named", source, text(s.child_by_field_name("name")),
                      text(s.child_by_field_name("alias")) or None)
                     for s in part.named_children if s.type == "import_specifier"]
    return keys


def _missing(request: str, language: str, have: set[tuple]) -> list[bytes]:
    """The lines to add for one requested statement (none when ``have`` covers it)."""
    request = request.strip()
    if language == "go":
        spec = request.removeprefix("import").strip()
        request = f'import {spec if chr(34) in spec or "`" in spec else chr(34) + spec + chr(34)}'
        source = encode("package p\n" + request)
    else:
        source = encode(request)
    tree = parse(source, language)
    if tree.root_node.has_error or not tree.root_node.named_children:
        raise PlacementError(f"not an import statement: {request!r}",
                             "pass one complete import statement per entry")
    lines: list[bytes] = []
    for node in tree.root_node.named_children:
        if node.type in ("comment", "package_clause"):
            continue
        if node.type == "import_declaration":
            specs = [s for s in _walk(node) if s.type == "import_spec"]
            for spec in specs:
                path, alias = _keys(spec, source, language)[0][1:]
                if not any(k[0] == "go" and k[1] == path and (alias is None or k[2] == alias)
                           for k in have):
                    have.add(("go", path, alias))
                    lines.append(source[spec.start_byte:spec.end_byte])
            continue
        stmt = source[node.start_byte:node.end_byte]
        if node.type not in ("import_statement", "import_from_statement",
                             "future_import_statement"):
            if b"require(" not in stmt or language == "python":
                raise PlacementError(f"not an import statement: {request!r}",
                                     "pass one complete import statement per entry")
            key = ("line", b" ".join(stmt.split()))
            if key not in have:
                have.add(key)
                lines.append(stmt)
            continue
        keys = _keys(node, source, language)
        absent = [k for k in keys if k not in have and not (
            k[0] == "from" and ("from", k[1], "*", None) in have)]
        have.update(absent)
        if len(absent) == len(keys):
            lines.append(stmt)
        elif absent:
            lines.append(_rebuild(absent, stmt, language))
    return lines


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def _rebuild(keys: list[tuple], original: bytes, language: str) -> bytes:
    """An import statement binding only ``keys`` (all from one statement)."""
    def named(name: str, alias: str | None) -> str:
        return f"{name} as {alias}" if alias else name

    if language == "python":
        if keys[0][0] == "import":
            return encode("\n".join(f"import {named(k[1], k[2])}" for k in keys))
        return encode(f"from {keys[0][1]} import {', '.join(named(k[2], k[3]) for k in keys)}")
    text = decode(original)
    quote = "'" if "'" in text.rsplit("from", 1)[-1] else '"'
    parts = [k[2] for k in keys if k[0] == "default"]
    parts += [f"* as {k[2]}" for k in keys if k[0] == "ns"]
    names = [named(k[2], k[3]) for k in keys if k[0] == "named"]
    if names:
        parts.append("{ " + ", ".join(names) + " }")
    kind = "type " if text.startswith("import type") else ""
    semi = ";" if text.rstrip().endswith(";") else ""
    return encode(f"import {kind}{', '.join(parts)} from {quote}{keys[0][1]}{quote}{semi}")


def _add_lines(data: bytes, language: str, lines: list[bytes], style: _Style,
               future: bool) -> bytes:
    root = parse(data, language).root_node
    imports = ("import_statement", "import_from_statement", "future_import_statement")
    anchor = lead = None
    leading = True  # still in the file's opening run of comments, docstring and imports
    for child in root.named_children:
        is_lead = child.type == "comment" or (child.type == "expression_statement"
                                              and child.named_child_count > 0
                                              and child.named_children[0].type == "string")
        wanted = ("future_import_statement",) if future else imports
        if child.type in wanted:
            anchor = child
        elif is_lead and leading:
            lead = lead if anchor else child
        elif language == "python" or future:
            break  # Python's import block ends at the first statement
        else:
            leading = False  # JavaScript hoists imports: the last one anywhere counts
    block = b"\n".join(lines)
    if anchor is not None:
        at = _line_end(data, anchor.end_byte)
        return data[:at] + style.newlines(b"\n" + block) + data[at:]
    if lead is not None:
        at = _line_end(data, lead.end_byte)
        return data[:at] + style.newlines(b"\n\n" + block) + data[at:]
    if not data.strip():
        return data + style.newlines(block + b"\n")
    first = root.named_children[0] if root.named_children else None
    gap = b"\n\n\n" if language == "python" and first is not None and first.type in (
        "function_definition", "class_definition", "decorated_definition") else b"\n\n"
    return style.newlines(block + gap) + data


def _add_go(data: bytes, tree, specs: list[bytes], style: _Style) -> bytes:
    root = tree.root_node
    decls = [c for c in root.named_children if c.type == "import_declaration"]
    groups = [d for d in decls if any(c.type == "import_spec_list" for c in d.named_children)]
    if groups:
        spec_list = next(c for c in groups[-1].named_children if c.type == "import_spec_list")
        existing = [c for c in spec_list.named_children if c.type == "import_spec"]
        indent = b"\t"
        if existing:
            start = data.rfind(b"\n", 0, existing[0].start_byte) + 1
            indent = data[start:existing[0].start_byte]
        for spec in sorted(specs, key=_go_path, reverse=True):
            later = [e for e in existing if _go_path(data[e.start_byte:e.end_byte]) >
                     _go_path(spec)]
            if later:  # gofmt keeps a group sorted by path
                at = data.rfind(b"\n", 0, later[0].start_byte) + 1
                insertion = indent + spec + b"\n"
            else:
                close = spec_list.end_byte - 1
                line_start = data.rfind(b"\n", 0, close) + 1
                if data[line_start:close].strip():  # ")" shares a line with the last spec
                    at, insertion = close, b"\n" + indent + spec + b"\n"
                else:
                    at, insertion = line_start, indent + spec + b"\n"
            data = data[:at] + style.newlines(insertion) + data[at:]
        return data
    block = (b"import " + specs[0]) if len(specs) == 1 else (
        b"import (\n" + b"".join(b"\t" + s + b"\n" for s in specs) + b")")
    anchor = decls[-1] if decls else next(
        (c for c in root.named_children if c.type == "package_clause"), None)
    if anchor is None:
        raise PlacementError("the Go file has no package clause", "add `package <name>` first")
    at = _line_end(data, anchor.end_byte)
    return data[:at] + style.newlines((b"\n" if decls else b"\n\n") + block) + data[at:]


def _go_path(spec: bytes) -> bytes:
    return spec.split()[-1].strip(b'"`')
