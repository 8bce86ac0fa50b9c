"""The tests a Go or JavaScript/TypeScript test file declares: what the judge expects to run.

The tool wrote the file, so it knows what it should see run; an item passes only when every
test named here ran and passed. Go: each top-level ``func TestXxx(t *testing.T)``. JavaScript
and TypeScript: every ``test(...)`` / ``it(...)`` call (``.skip``/``.only``/``.todo`` included —
a skipped test is not a pass) with its ``describe(...)`` titles, from the outer one in.

A title that is not a literal string (``test(`case ${n}`)``, ``test.each``) cannot be known
before the run: it is counted in ``dynamic``, and the adapter then requires at least that many
more tests in the report besides the named ones (each of which must pass, like every test of
an acceptance file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hybridcode.judge.outcome import ExpectedTest
from hybridcode.judge.reports import NAME_SEP

__all__ = ["ExpectedTests", "expected_tests"]

_GO_TEST = re.compile(r"^func\s+(Test(?:[^a-z\W]\w*)?)\s*\(\s*\w+\s+\*testing\.T\s*\)",
                      re.MULTILINE)
_TEST_FUNCS = frozenset({"test", "it"})
_SUITE_FUNCS = frozenset({"describe", "suite"})
_MODIFIERS = frozenset({"skip", "only", "todo", "concurrent", "sequential", "fails", "failing"})


@dataclass
class Family:
    """Tests a table makes (``test.each``, ``describe.each``): the suite and title as regular
    expressions, how many rows (0: not known before the run), and the title as written."""

    suite: str
    name: str
    count: int
    shown: str


@dataclass
class ExpectedTests:
    titles: list[tuple[str, ...]] = field(default_factory=list)  # describe titles…, test title
    families: list[Family] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [NAME_SEP.join(t) for t in self.titles]

    @property
    def dynamic(self) -> int:
        return sum(max(f.count, 1) for f in self.families)

    @property
    def count(self) -> int:
        return len(self.titles) + self.dynamic

    def for_file(self, file: str) -> list[ExpectedTest]:
        """The judge's :class:`ExpectedTest` per named test (``suite`` = its describe titles),
        and one per family of generated tests."""
        return [ExpectedTest(file, t[-1], NAME_SEP.join(t[:-1])) for t in self.titles] + [
            ExpectedTest(file, f.name, f.suite, pattern=True, count=f.count, shown=f.shown)
            for f in self.families]


def expected_tests(code: str, language: str) -> ExpectedTests:
    if language == "go":
        return _go_tests(code)
    if language in ("javascript", "typescript", "tsx"):
        return _js_tests(code, language)
    raise ValueError(f"no test discovery for {language}")


_GO_FUNC = re.compile(r"^func\s+(Test(?:[^a-z\W]\w*)?)\s*\(\s*(\w+)\s+\*testing\.T\s*\)",
                      re.MULTILINE)


def _go_tests(code: str) -> ExpectedTests:
    """Each ``TestXxx``, and each subtest it starts with a literal name (``t.Run("empty",
    …)`` → ``TestXxx/empty``, spaces as go test writes them: underscores). Subtests named at
    run time (a table's ``tc.name``) are reported under their test and need not be declared."""
    found = ExpectedTests()
    starts = list(_GO_FUNC.finditer(code))
    for i, match in enumerate(starts):
        name, var = match.group(1), match.group(2)
        found.titles.append((name,))
        end = starts[i + 1].start() if i + 1 < len(starts) else len(code)
        body = code[match.end():end]
        body = body[:re.search(r"^}", body, re.MULTILINE).start()] \
            if re.search(r"^}", body, re.MULTILINE) else body
        # Only the test's own subtests: one level of t.Run, a literal name.
        for sub in re.finditer(rf"(?<![\w.]){re.escape(var)}\.Run\(\s*\"((?:[^\"\\\n]|\\.)*)\"",
                               body):
            found.titles.append((f"{name}/{_go_subtest_name(sub.group(1))}",))
    found.titles = list(dict.fromkeys(found.titles))
    return found


def _go_subtest_name(literal: str) -> str:
    """What go test reports for ``t.Run(literal)``: spaces become underscores (and escapes
    are read as Go reads them)."""
    try:
        text = bytes(literal, "utf-8").decode("unicode_escape")
    except UnicodeDecodeError:
        text = literal
    return re.sub(r"\s", "_", text)


_PLACEHOLDER = re.compile(r"%[sdifjoOp#]|\$[A-Za-z_][\w.]*|\$#|%%")


def _title_pattern(title: str | None) -> str:
    """A regular expression for the titles a table's ``printf``/``$name`` template makes."""
    if title is None:
        return ".*"
    out, last = [], 0
    for match in _PLACEHOLDER.finditer(title):
        out.append(re.escape(title[last:match.start()]))
        out.append("%" if match.group() == "%%" else ".*?")
        last = match.end()
    out.append(re.escape(title[last:]))
    return "".join(out)


def _js_tests(code: str, language: str) -> ExpectedTests:
    from hybridcode.context.symbols import encode, parse

    data = encode(code)
    tree = parse(data, language)
    found = ExpectedTests()

    def callee(node) -> tuple[str, bool, int]:
        """(base name, has .each, rows of its table: 0 when not literal) of a call's function:
        ``it.skip`` → it, ``test.each([...])(…)``, ``test.each`table`(…)``."""
        func = node.child_by_field_name("function")
        each, rows = False, 0
        while func is not None:
            if func.type == "identifier":
                return data[func.start_byte:func.end_byte].decode(), each, rows
            if func.type == "member_expression":
                prop = func.child_by_field_name("property")
                name = data[prop.start_byte:prop.end_byte].decode() if prop else ""
                if name == "each":
                    each = True
                elif name not in _MODIFIERS:
                    return "", each, rows
                func = func.child_by_field_name("object")
            elif func.type == "call_expression":  # test.each([...])("title", fn)
                each = True
                rows = _rows(func)
                func = func.child_by_field_name("function")
            else:
                return "", each, rows
        return "", each, rows

    def _rows(call) -> int:
        args = call.child_by_field_name("arguments")
        if args is None:
            return 0
        if args.type == "template_string":  # test.each`a | b\n${1} | ${2}`: a header row
            lines = [ln for ln in data[args.start_byte + 1:args.end_byte - 1].decode()
                     .splitlines() if ln.strip()]
            return max(len(lines) - 1, 0)
        table = next((c for c in args.named_children if c.type != "comment"), None)
        if table is not None and table.type == "array" and not any(
                c.type == "spread_element" for c in table.named_children):
            return len([c for c in table.named_children if c.type != "comment"])
        return 0

    def title(node) -> str | None:
        args = node.child_by_field_name("arguments")
        first = next((c for c in (args.named_children if args else []) if c.type != "comment"),
                     None)
        if first is None:
            return None
        if first.type == "string":
            return "".join(data[c.start_byte:c.end_byte].decode()
                           for c in first.named_children if c.type == "string_fragment")
        if first.type == "template_string" and not any(
                c.type == "template_substitution" for c in first.named_children):
            return data[first.start_byte + 1:first.end_byte - 1].decode()
        return None

    def walk(node, suites: list[tuple[str, int]]) -> None:
        """``suites``: (title pattern, rows) of each enclosing describe, outer first; a
        literal describe has rows 1 and its title escaped."""
        for child in node.named_children:
            if child.type == "call_expression":
                base, each, rows = callee(child)
                if base in _TEST_FUNCS:
                    name = title(child) if each or title(child) is not None else None
                    if not each and name is not None and all(r == 1 for _, r in suites) \
                            and not any(p is None for p, _ in suites):
                        found.titles.append((*(_literal(p) for p, _ in suites), name))
                    else:
                        count = rows if each else 1
                        for _, r in suites:
                            count = count * r if count and r else 0
                        found.families.append(Family(
                            NAME_SEP.join(p or ".*" for p, _ in suites),
                            _title_pattern(name) if each or name is not None else ".*",
                            count, NAME_SEP.join([*(_shown(p) for p, _ in suites),
                                                  name or "<dynamic title>"])))
                    continue
                if base in _SUITE_FUNCS:
                    name = title(child)
                    pattern = _title_pattern(name) if each else \
                        (re.escape(name) if name is not None else None)
                    walk(child, suites + [(pattern, rows if each else 1)])
                    continue
            walk(child, suites)

    def _literal(pattern: str | None) -> str:
        return re.sub(r"\\(.)", r"\1", pattern or "")

    def _shown(pattern: str | None) -> str:
        return _literal(pattern) if pattern else "<dynamic suite>"

    walk(tree.root_node, [])
    return found
