"""Reading the code for one item out of a model's answer: lenient in what it accepts, precise in
what it reports.

Small models wrap code in prose, answer with several fences (the code, then a usage example),
drop the fences, return the whole file instead of one function, put imports on top, think aloud
in ``<think>`` blocks. Each habit is undone here; what cannot be undone raises
:class:`OutputParseError` whose message is written to be fed back to the model verbatim.

What comes out (:class:`ParsedCode`): for an item with a symbol, the target definition plus the
helpers of the same scope it uses, directly or through each other (a private function it calls,
a module-level constant or variable — Python, Go and JavaScript/TypeScript alike; a Go method's
scope is its package), without imports —
those are returned apart so placement can merge them into the file's import block. Everything
else in the answer (other functions of a whole file, a module docstring, ``__main__`` code) is
dropped and ``from_whole_file`` says so. Helpers that already exist in the target file are
dropped later, by ``apply``, which knows the file. Items without a symbol (a new module, a doc,
a config file) get the chosen block as it is.

A method's helpers of module scope (a constant or a function outside its class that it uses)
come apart in ``module_code``, which ``apply`` places at the module's top level, ahead of the
class; Go methods need no such split (they are top-level declarations).

Contract addition: ``ParsedCode.claimed_path`` (default ``None``) carries a path the answer
names for its code (a ``# app/other.py`` header, a fence title); ``apply_item`` refuses the
code when that path is not the item's file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hybridcode.context.extract import referenced_names
from hybridcode.context.languages import language_for_path
from hybridcode.context.symbols import (
    Symbol, decode, encode, list_symbols, module_values, parse,
)
from hybridcode.errors import HybridError
from hybridcode.spec import SpecItem

__all__ = ["OutputParseError", "ParsedCode", "parse_code"]


class OutputParseError(HybridError):
    """The answer holds no usable code for the item. ``message`` is the feedback for a retry."""


@dataclass
class ParsedCode:
    code: str
    imports: list[str] = field(default_factory=list)
    from_whole_file: bool = False
    claimed_path: str | None = None
    module_code: str = ""  # a member's module-level helpers and constants (see the docstring)


_TAGS = {
    "python": {"python", "py", "python3", "py3"},
    "javascript": {"javascript", "js", "jsx", "node", "mjs", "cjs"},
    "typescript": {"typescript", "ts"},
    "tsx": {"tsx", "typescript", "ts"},
    "go": {"go", "golang"},
}
_IMPORT_TYPES = frozenset({"import_statement", "import_from_statement",
                           "future_import_statement", "import_declaration"})
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\n]*)$")
_PATHLIKE = r"[\w.\-]+(?:/[\w.\-]+)*\.[A-Za-z]{1,5}"
_HEADER_PATH = re.compile(
    rf"^\s*(?:#|//)\s*(?:(?:file(?:name)?|path)\s*[:=]\s*)?({_PATHLIKE})\s*$", re.IGNORECASE)
_LEAD_PATH = re.compile(rf"^\W*(?:file(?:name)?\s*[:=]\s*)?[`*]*({_PATHLIKE})[`*]*\s*:?\s*$",
                        re.IGNORECASE)
_CODE_START = {
    "python": re.compile(r"^(?:@\w|def |async def |class |import |from [\w.]+ import )"),
    "go": re.compile(r"^(?:package |import |func |type |var |const )"),
}
_JS_START = re.compile(r"^(?:export |import |function |async function |const |let |var |class "
                       r"|interface |type |enum |abstract class |declare |@\w)")
_KEYWORDS = frozenset(
    "def class import from return async await if elif else for while with try except finally "
    "raise assert pass del global nonlocal yield lambda not and or is in export function const "
    "let var interface type enum declare abstract namespace module package func go defer switch "
    "select case default break continue new".split())
_PROSE = re.compile(r"^([A-Za-z][\w'’]*),? +[A-Za-z][\w'’]*,? +[A-Za-z(]")
_VALUES = frozenset({"constant", "variable"})  # module_values kinds
_THINK_BLOCK = re.compile(r"<(think|thinking)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_TAG = re.compile(r"</?(?:think|thinking)>", re.IGNORECASE)


@dataclass
class _Fence:
    tag: str
    info: str
    body: str
    lead: str  # the line just before the fence, where a model may name the file


def parse_code(text: str, item: SpecItem) -> ParsedCode:
    """The code for ``item`` in a model's answer ``text``."""
    language = language_for_path(item.file)
    what = _what(item)
    fence_tag = _fence_tag(item.file, language)
    text = _without_thinking(text.replace("\r\n", "\n").replace("\r", "\n"), what, fence_tag)
    fences = _fences(text)
    if fences:
        chosen = _choose(fences, item, language)
        body, claimed = chosen.body, _claimed_path(chosen)
    else:
        body, claimed = _strip_prose(text, language, what, fence_tag), None
        claimed = _header_path(body)
    if not body.strip():
        raise OutputParseError(f"your answer contains an empty code block; return the complete "
                               f"{what} in one ```{fence_tag} block",
                               "the model's answer had no code in its code block")
    if language is None or not item.symbol:
        return ParsedCode(body.strip("\n") + "\n", [], False, claimed)
    return _extract(body, item, language, what, fence_tag, claimed)


# --- finding the block ------------------------------------------------------------------------

def _without_thinking(text: str, what: str, tag: str) -> str:
    text = _THINK_BLOCK.sub("", text)
    parts = re.split(r"</(?:think|thinking)>", text, flags=re.IGNORECASE)
    if len(parts) > 1:  # the opening tag was in the chat template, only the closing one came
        text = parts[-1]
    opened = re.search(r"<(?:think|thinking)>", text, re.IGNORECASE)
    if opened:  # never closed: the answer is before it if there is one there
        before = text[:opened.start()]
        text = before if "```" in before else _THINK_TAG.sub("", text)
    if not text.strip():
        raise OutputParseError(f"your answer holds only thinking and no code; after thinking, "
                               f"return the complete {what} in one ```{tag} block",
                               "the model's answer was empty once <think> blocks were removed")
    return text


def _fences(text: str) -> list[_Fence]:
    lines = text.split("\n")
    found: list[_Fence] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        marker, info = match.group(1), match.group(2).strip()
        close = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        # An unclosed fence runs to the end: the model stopped or forgot the closing marker.
        tag = re.split(r"[\s:{,]", info, maxsplit=1)[0].lower() if info else ""
        lead = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        found.append(_Fence(tag, info, "\n".join(lines[i + 1:j]), lead))
        i = j + 1
    return found


def _choose(fences: list[_Fence], item: SpecItem, language: str | None) -> _Fence:
    ours = _TAGS.get(language or "", set()) | {_fence_tag(item.file, language)}
    candidates = [f for f in fences if f.tag in ours or not f.tag] or fences
    if language is not None and item.symbol:
        defining = [f for f in candidates if _targets(f.body, language, item.symbol)]
        if defining:
            # A corrected version usually follows the first attempt; usage examples define
            # nothing, so they are never chosen here.
            return defining[-1]
    return max(candidates, key=lambda f: len(f.body.strip()))


def _strip_prose(text: str, language: str | None, what: str, tag: str) -> str:
    """Unfenced code: from the first line that starts code to the first line of prose after."""
    if language is None:
        return text.strip("\n")
    start_re = _CODE_START.get(language, _JS_START)
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if start_re.match(ln)), None)
    if start is None:
        raise OutputParseError(f"no code found in your answer; return the complete {what} in "
                               f"one ```{tag} block", "the model answered in prose only")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        line = lines[i]
        prose = _PROSE.match(line)
        if prose and not line[0].isspace() and prose.group(1) not in _KEYWORDS:
            end = i
            break
    return "\n".join(lines[start:end]).strip("\n")


def _claimed_path(fence: _Fence) -> str | None:
    titled = re.search(rf"(?:title|file(?:name)?)\s*=\s*\"?({_PATHLIKE})", fence.info)
    if titled:
        return titled.group(1)
    rest = fence.info[len(fence.tag):].strip(" :")
    if re.fullmatch(_PATHLIKE, rest or "-"):
        return rest
    header = _header_path(fence.body)
    if header:
        return header
    lead = _LEAD_PATH.match(fence.lead.strip())
    return lead.group(1) if lead and "/" in lead.group(1) else None


def _header_path(body: str) -> str | None:
    for line in [ln for ln in body.split("\n") if ln.strip()][:2]:
        match = _HEADER_PATH.match(line)
        if match:
            return match.group(1)
    return None


# --- cutting the item out of the block --------------------------------------------------------

def _targets(code: str, language: str, symbol: str) -> list[Symbol]:
    """The definitions of ``symbol`` in ``code``: the qualified name, a dotted suffix of it, or
    (for a method returned without its class) the bare name at top level."""
    symbols = list_symbols(code, language)
    for test in (lambda s: s.qualified_name == symbol,
                 lambda s: s.qualified_name.endswith("." + symbol),
                 lambda s: symbol.endswith("." + s.qualified_name)):
        found = [s for s in symbols if test(s)]
        if found:
            name = found[-1].qualified_name
            return [s for s in found if s.qualified_name == name]
    return []


def _extract(body: str, item: SpecItem, language: str, what: str, tag: str,
             claimed: str | None) -> ParsedCode:
    assert item.symbol is not None
    data = encode(body)
    tree = parse(data, language)
    symbols = list_symbols(data, language, tree)
    group = _targets(body, language, item.symbol)
    if not group:
        defined = ", ".join(f"`{s.qualified_name}`" for s in symbols if s.parent is None)
        seen = f" (it defines {defined})" if defined else ""
        raise OutputParseError(
            f"no definition of `{item.symbol}` found in your answer{seen}; return the complete "
            f"{what} in one ```{tag} block", "the answer did not define the item's symbol")
    target_name = group[0].qualified_name
    scope = group[0].parent
    own_module = _module_name(item.file)
    imports: list[str] = []
    other_statements = False
    for child in tree.root_node.children:
        text = decode(data[child.start_byte:child.end_byte])
        if child.type in _IMPORT_TYPES:
            if own_module is None or not _imports_from(text, own_module):
                imports.append(text)
        elif child.type not in ("comment", "package_clause") and not _is_definition(
                child, symbols, target_name, scope):
            other_statements = True
    # Go declares methods at top level: a method's helpers are the package's declarations too.
    top_level = scope is None or language == "go"
    siblings = [s for s in symbols if s.qualified_name != target_name
                and (s.parent == scope or (language == "go" and s.parent is None))]
    if top_level:
        siblings += module_values(data, language, tree)
    keep = _used_helpers(group, siblings, data, language)
    pieces = sorted(group + keep, key=lambda s: s.start_byte)
    first, last = group[0], group[-1]
    around = [s for s in symbols if s.qualified_name != target_name  # the classes it is in
              and s.start_byte <= first.start_byte and last.end_byte <= s.end_byte]
    module_code = ""
    module: list[Symbol] = []
    if not top_level:  # a member's module-level helpers and constants go to the module
        outside = [s for s in symbols if s.parent is None and s not in around]
        module = sorted(_used_helpers(group + keep, outside + module_values(data, language, tree),
                                      data, language), key=lambda s: s.start_byte)
        module_code = _join(data, module, "\n\n\n" if language == "python" else "\n\n")
    # Whatever is neither kept, inside a kept piece, nor the class around the target was cut.
    dropped = [s for s in symbols if not any(_within(s, p) for p in pieces + module)
               and s not in around]
    whole = bool(dropped) or other_statements
    gap = "\n\n\n" if language == "python" and scope is None else "\n\n"
    return ParsedCode(_join(data, pieces, gap), imports, whole, claimed, module_code)


def _join(data: bytes, pieces: list[Symbol], gap: str) -> str:
    merged = _merge_overlaps(pieces)
    code = ""
    for before, piece in zip([None, *merged], merged):
        if before is not None:  # constants next to each other keep their spacing
            between = decode(data[before.end_byte:piece.start_byte])
            code += between.rstrip(" \t") if before.kind in _VALUES and piece.kind in _VALUES \
                and not between.strip() else gap
        code += _piece(data, piece)
    return code + "\n" if code else ""


def _is_definition(node, symbols: list[Symbol], target: str, scope: str | None) -> bool:
    """Whether a top-level node is a definition, an assignment or a docstring (the kinds of
    statement an item's block holds) rather than module code such as ``if __name__ ...``."""
    if any(node.start_byte <= s.start_byte and s.end_byte <= node.end_byte for s in symbols):
        return True
    if node.type == "expression_statement" and node.named_children:
        first = node.named_children[0]
        if first.type == "assignment":
            return True
        if first.type == "string":
            return False  # a module docstring: the answer is a whole file
    return node.type in ("lexical_declaration", "variable_declaration", "var_declaration",
                         "const_declaration", "type_declaration")


def _used_helpers(group: list[Symbol], siblings: list[Symbol], data: bytes,
                  language: str) -> list[Symbol]:
    """Siblings the target uses, directly or through another kept sibling."""
    by_name: dict[str, list[Symbol]] = {}
    for s in siblings:
        by_name.setdefault(s.name, []).append(s)
    wanted = set().union(*(_names(data, s, language) for s in group))
    kept: list[Symbol] = []
    seen: set[str] = set()
    while wanted - seen:
        name = (wanted - seen).pop()
        seen.add(name)
        for s in by_name.get(name, []):
            if s not in kept:
                kept.append(s)
                wanted |= _names(data, s, language)
    return kept


def _names(data: bytes, symbol: Symbol, language: str) -> set[str]:
    return referenced_names(decode(data[symbol.start_byte:symbol.end_byte]), language)


def _within(inner: Symbol, outer: Symbol) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _merge_overlaps(pieces: list[Symbol]) -> list[Symbol]:
    out: list[Symbol] = []
    for s in pieces:
        if out and s.start_byte < out[-1].end_byte:
            continue  # nested in the previous piece
        out.append(s)
    return out


def _piece(data: bytes, symbol: Symbol) -> str:
    """The symbol's text from the start of its line, indentation kept: placement dedents code
    itself and keeps the bytes of multi-line strings, which a dedent here would change."""
    line_start = data.rfind(b"\n", 0, symbol.start_byte) + 1
    if data[line_start:symbol.start_byte].strip():
        line_start = symbol.start_byte
    return decode(data[line_start:symbol.end_byte])


def _module_name(file: str) -> str | None:
    path = PurePosixPath(file)
    if path.suffix != ".py":
        return None
    parts = list(path.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or None


def _imports_from(statement: str, module: str) -> bool:
    """``from <module> import ...``: an import of the item's own file, which the target file
    must not contain (it would import itself)."""
    match = re.match(r"from\s+([\w.]+)\s+import\b", statement)
    return bool(match) and match.group(1) == module


def _what(item: SpecItem) -> str:
    if item.symbol:
        return {"method": "method", "class": "class", "function": "function"}.get(
            item.kind, "definition") + f" `{item.symbol}`"
    return f"content of {item.file}"


def _fence_tag(file: str, language: str | None) -> str:
    if language is not None:
        return language
    suffix = PurePosixPath(file).suffix.lstrip(".").lower()
    return {"md": "markdown", "yml": "yaml"}.get(suffix, suffix or "text")
