"""Edits to a failing attempt: the SEARCH/REPLACE blocks a Claude rung answers with.

An escalation does not pay Claude to rewrite an item that is one token away from passing: the
rung sees the failing attempt and answers with edit blocks in the format coding tools settled on
(Aider's "diff" edit format, which other coding agents adopted)::

    app/auth.py                 (optional: the item's file; any other path is refused)
    ```python
    <<<<<<< SEARCH
    lines of the failing attempt, exactly
    =======
    the lines that replace them
    >>>>>>> REPLACE
    ```

Parsing is lenient — 5 to 9 marker characters, fences or none, prose and ``<think>`` around the
blocks (as Aider's parser allows). Applying is strict: each SEARCH text must occur exactly once
in the attempt, compared line by line either exactly or, failing that, ignoring trailing
whitespace and one indentation offset for the whole block (Aider's second pass). There is no
fuzzy matching: Aider turned it off after it silently edited the wrong lines. Blocks apply in
order, each to the text the previous one left.

What goes wrong says what to do: :class:`EditParseError` (a malformed answer; its message is fed
back verbatim), :class:`EditMismatch` (a SEARCH text that does not occur once: the rung is asked
for the whole item instead, told which text did not match), :class:`EditRefused` (a block that
names another file, or edits text that is not the attempt's — the item's file around it, the
acceptance tests: the attempt is refused as any hostile output is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from hybridcode.implement.parse import OutputParseError

__all__ = ["EditBlock", "EditMismatch", "EditParseError", "EditRefused", "apply_edits",
           "has_edits", "parse_edits"]

# The marker lines as the prompt shows them (built, so no source line starts like a merge
# conflict marker that git would flag).
HEAD_MARK, DIVIDER_MARK, UPDATED_MARK = "<" * 7 + " SEARCH", "=" * 7, ">" * 7 + " REPLACE"
HEAD = re.compile(r"^\s*<{5,9} ?SEARCH>?\s*$")
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
UPDATED = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_THINK = re.compile(r"<(think|thinking)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_PATHLIKE = re.compile(r"^[`*#\s]*(?:file(?:name)?\s*[:=]\s*)?[`*]*"
                       r"([\w.\-]+(?:/[\w.\-]+)*\.[A-Za-z]{1,5})[`*]*:?\s*$", re.IGNORECASE)
SHOWN_CHARS = 400  # of a SEARCH text quoted back in a mismatch message


class EditParseError(OutputParseError):
    """The answer has edit markers but no well-formed blocks; ``message`` is fed back."""


class EditMismatch(Exception):
    """A SEARCH text that does not occur exactly once in the attempt."""


class EditRefused(Exception):
    """An edit aimed outside the item: another file, or text that is not the attempt's."""


@dataclass(frozen=True)
class EditBlock:
    search: str
    replace: str
    path: str | None = None  # a path named on the line before the block, if any
    number: int = 1  # 1-based, for messages


def has_edits(text: str) -> bool:
    """Whether the answer holds any SEARCH marker (else it is read as a whole item)."""
    return any(HEAD.match(line) for line in _THINK.sub("", text).splitlines())


def parse_edits(text: str) -> list[EditBlock]:
    """Every block of the answer, in order. Raises :class:`EditParseError` naming the first
    problem by block number and line."""
    lines = _THINK.sub("", text).splitlines()
    blocks: list[EditBlock] = []
    i = 0
    path: str | None = None
    while i < len(lines):
        line = lines[i]
        if DIVIDER.match(line) or UPDATED.match(line):
            raise EditParseError(
                f"line {i + 1}: `{line.strip()}` without a `<<<<<<< SEARCH` line before it — "
                "each edit block is `<<<<<<< SEARCH`, the lines to find, `=======`, the "
                "lines that replace them, `>>>>>>> REPLACE`")
        if not HEAD.match(line):
            i += 1
            continue
        number = len(blocks) + 1
        path = _path_before(lines, i) or path
        start = i
        search, i = _until(lines, i + 1, DIVIDER, number, start, "=======")
        replace, i = _until(lines, i + 1, UPDATED, number, start, ">>>>>>> REPLACE")
        if not search.strip():
            raise EditParseError(
                f"edit block {number} (line {start + 1}) has an empty SEARCH section — copy "
                "the lines to change from the failing attempt into it")
        blocks.append(EditBlock(search, replace, path, number))
        i += 1
    if not blocks:
        raise EditParseError("the answer holds no edit block — each is `<<<<<<< SEARCH`, the "
                             "lines to find, `=======`, the new lines, `>>>>>>> REPLACE`")
    return blocks


def _until(lines: list[str], i: int, end: re.Pattern[str], number: int, start: int,
           wanted: str) -> tuple[str, int]:
    body: list[str] = []
    while i < len(lines):
        line = lines[i]
        if end.match(line):
            return "\n".join(body), i
        if HEAD.match(line) or (end is UPDATED and DIVIDER.match(line)) or (
                end is DIVIDER and UPDATED.match(line)):
            break
        body.append(line)
        i += 1
    found = f"found `{lines[i].strip()}` at line {i + 1}" if i < len(lines) else \
        "the answer ended"
    raise EditParseError(f"edit block {number} (line {start + 1}): expected a `{wanted}` line, "
                         f"{found}")


def _path_before(lines: list[str], head: int) -> str | None:
    """A file path on one of the (up to three) lines before the SEARCH marker, as Aider reads
    it: skipping the block's opening fence."""
    for j in range(head - 1, max(-1, head - 4), -1):
        line = lines[j].strip()
        if not line:
            continue
        fence = _FENCE.match(line)
        if fence:
            rest = line[fence.end():].strip()  # ```python app/x.py
            candidate = rest.split()[-1] if rest else ""
            found = _PATHLIKE.match(candidate) if "." in candidate else None
            if found:
                return found.group(1)
            continue
        found = _PATHLIKE.match(line)
        return found.group(1) if found else None
    return None


def apply_edits(base: str, blocks: list[EditBlock], file: str,
                elsewhere: dict[str, str]) -> str:
    """``base`` (the failing attempt's code) with every block applied.

    ``file`` is the item's file: a block naming another path is refused. ``elsewhere`` maps
    what the attempt must not touch (the item's file around the item, the acceptance tests) to
    their text: a SEARCH text found there and not in the attempt is refused, not a mismatch."""
    text = base
    for block in blocks:
        if block.path is not None and not _same_path(block.path, file):
            raise EditRefused(f"edit block {block.number} names {block.path}; edits may change "
                              f"only the item's code in {file}")
        span = _find(text, block.search)
        if span is None:
            for name, other in elsewhere.items():
                if _find(other, block.search, unique=False) is not None:
                    raise EditRefused(f"edit block {block.number} edits text of {name}, not of "
                                      "the failing attempt; edits may change only the item's "
                                      "code")
            raise EditMismatch(_mismatch(block, text))
        if span == "ambiguous":
            raise EditMismatch(f"edit block {block.number}: its SEARCH text occurs more than "
                               f"once in the attempt:\n{_shown(block.search)}")
        start, end, indent = span
        replace = _reindent(block.replace, indent)
        text = text[:start] + replace + text[end:]
    return text


def _same_path(named: str, file: str) -> bool:
    named_p, file_p = PurePosixPath(named.strip("./")), PurePosixPath(file)
    return named_p == file_p or (len(named_p.parts) == 1 and named_p.name == file_p.name)


def _find(text: str, search: str, *, unique: bool = True):
    """(start, end, indent change) of the one place ``search`` matches in ``text``, by whole
    lines; "ambiguous" when it matches more than once; None when it matches nowhere."""
    lines = text.split("\n")
    want = search.strip("\n").split("\n")
    starts = _offsets(lines)
    for loose in (False, True):
        hits = []
        for i in range(len(lines) - len(want) + 1):
            indent = _match(lines[i:i + len(want)], want, loose)
            if indent is not None:
                hits.append((i, indent))
        if len(hits) > 1 and unique:
            return "ambiguous"
        if hits:
            i, indent = hits[0]
            last = i + len(want) - 1
            return starts[i], starts[last] + len(lines[last]), indent
    return None


def _offsets(lines: list[str]) -> list[int]:
    out, pos = [], 0
    for line in lines:
        out.append(pos)
        pos += len(line) + 1
    return out


def _match(have: list[str], want: list[str], loose: bool) -> str | None:
    """None, or the indentation to add to the REPLACE lines ("" when exact). Loose: trailing
    whitespace ignored, and the SEARCH lines may all lack one same leading whitespace (a model
    that quotes a method without its class's indentation)."""
    if not loose:
        return "" if have == want else None
    extra: str | None = None
    for h, w in zip(have, want):
        h, w = h.rstrip(), w.rstrip()
        if not h and not w:
            continue
        lead = h[:len(h) - len(w)]
        if not w or not h.endswith(w) or lead.strip():
            return None
        if extra is None:
            extra = lead
        elif lead != extra:
            return None
    return extra or ""


def _reindent(replace: str, indent: str) -> str:
    lines = replace.strip("\n").split("\n") if replace.strip() else []
    return "\n".join(indent + line if line.strip() else line for line in lines)


def _mismatch(block: EditBlock, text: str) -> str:
    return (f"edit block {block.number}: its SEARCH text is not in the failing attempt "
            f"(it must match the attempt's lines exactly, once):\n{_shown(block.search)}")


def _shown(search: str) -> str:
    shown = search.strip("\n")
    if len(shown) > SHOWN_CHARS:
        shown = shown[:SHOWN_CHARS] + "\n… (cut)"
    return "\n".join("    " + line for line in shown.split("\n"))
