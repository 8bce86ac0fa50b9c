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
class ExpectedTests:
    titles: list[tuple[str, ...]] = field(default_factory=list)  # describe titles…, test title
    dynamic: int = 0

    @property
    def names(self) -> list[str]:
        return [NAME_SEP.join(t) for t in self.titles]

    @property
    def count(self) -> int:
        return len(self.titles) + self.dynamic

    def for_file(self, file: str) -> list[ExpectedTest]:
        """The judge's :class:`ExpectedTest` per named test (``suite`` = its describe titles)."""
        return [ExpectedTest(file, t[-1], NAME_SEP.join(t[:-1])) for t in self.titles]


def expected_tests(code: str, language: str) -> ExpectedTests:
    if language == "go":
        return ExpectedTests([(n,) for n in dict.fromkeys(_GO_TEST.findall(code))])
    if language in ("javascript", "typescript", "tsx"):
        return _js_tests(code, language)
    raise ValueError(f"no test discovery for {language}")


def _js_tests(code: str, language: str) -> ExpectedTests:
    from hybridcode.context.symbols import encode, parse

    data = encode(code)
    tree = parse(data, language)
    found = ExpectedTests()

    def callee(node) -> tuple[str, bool]:
        """(base name, has .each) of a call's function: ``it.skip`` → it, ``test.each(...)``."""
        func = node.child_by_field_name("function")
        each = False
        while func is not None:
            if func.type == "identifier":
                return data[func.start_byte:func.end_byte].decode(), each
            if func.type == "member_expression":
                prop = func.child_by_field_name("property")
                name = data[prop.start_byte:prop.end_byte].decode() if prop else ""
                if name == "each":
                    each = True
                elif name not in _MODIFIERS:
                    return "", each
                func = func.child_by_field_name("object")
            elif func.type == "call_expression":  # test.each([...])("title", fn)
                each = True
                func = func.child_by_field_name("function")
            else:
                return "", each
        return "", each

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

    def walk(node, suites: list[str | None]) -> None:
        for child in node.named_children:
            if child.type == "call_expression":
                base, each = callee(child)
                if base in _TEST_FUNCS:
                    name = None if each else title(child)
                    if name is None or None in suites:
                        found.dynamic += 1
                    else:
                        found.titles.append((*suites, name))  # type: ignore[arg-type]
                    continue
                if base in _SUITE_FUNCS:
                    name = None if each else title(child)
                    walk(child, suites + [name])
                    continue
            walk(child, suites)

    walk(tree.root_node, [])
    found.titles = list(dict.fromkeys(found.titles))
    return found
