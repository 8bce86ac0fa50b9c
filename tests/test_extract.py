"""Extraction: symbols and qualified names, source_of, skeleton, scopes, referenced names."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hybridcode.context.extract import (
    enclosing_scope, referenced_names, resolve_names, skeleton, source_of,
)
from hybridcode.context.symbols import list_symbols
from hybridcode.errors import ContextError

DATA = Path(__file__).parent / "data" / "context"


def names(path: Path, language: str) -> list[tuple[str, str, str]]:
    return [(s.qualified_name, s.kind, s.role)
            for s in list_symbols(path.read_text(encoding="utf-8"), language)]


def test_python_symbols_nested_async_overloads_properties_unicode():
    assert names(DATA / "tricky.py", "python") == [
        ("trace", "function", ""), ("trace.wrapper", "function", ""),
        ("Outer", "class", ""), ("Outer.Inner", "class", ""),
        ("Outer.Inner.method", "method", ""), ("Outer.value", "method", "getter"),
        ("Outer.value", "method", "setter"), ("Outer.fetch", "method", ""),
        ("parse", "function", "overload"), ("parse", "function", "overload"),
        ("parse", "function", ""), ("größe", "function", ""),
    ]


def test_typescript_symbols():
    assert names(DATA / "tricky.ts", "typescript") == [
        ("Foo", "class", ""), ("Foo.handler", "method", ""), ("Foo.value", "method", "getter"),
        ("Foo.value", "method", "setter"), ("Foo.run", "method", "overload"),
        ("Foo.run", "method", "overload"), ("Foo.run", "method", ""),
        ("Shape", "interface", ""), ("Pair", "type", ""), ("square", "function", ""),
        ("main", "function", ""),
    ]


def test_go_symbols_use_type_dot_method():
    assert names(DATA / "tricky.go", "go") == [
        ("Server", "struct", ""), ("Handler", "type", ""), ("Stack", "struct", ""),
        ("Server.Start", "method", ""), ("Stack.Push", "method", ""), ("New", "function", ""),
    ]
    start = next(s for s in list_symbols((DATA / "tricky.go").read_text(), "go")
                 if s.name == "Start")
    assert start.signature == "func (s *Server) Start() error"
    assert start.start_line == 18  # the doc comment above belongs to it


def test_javascript_symbols():
    assert names(DATA / "tricky.js", "javascript") == [
        ("Widget", "class", ""), ("Widget.create", "method", ""), ("Widget.ids", "method", ""),
        ("Widget.render", "method", ""), ("helper", "function", ""),
    ]


def test_source_of_includes_decorators_and_line_numbers():
    extract = source_of(DATA / "tricky.py", "Outer.fetch")
    assert extract.text.startswith("    @trace\n    async def fetch(self, url: str) -> bytes:   \n")
    assert extract.text.endswith("return text.encode()")
    assert (extract.start_line, extract.kind, extract.path) == (
        30, "method", str(DATA / "tricky.py"))
    assert extract.numbered().splitlines()[0] == "30 |     @trace"


def test_source_of_group_suffix_and_errors():
    text = (DATA / "tricky.py").read_text()
    assert source_of(text, "parse", "python").text.count("@overload") == 2
    assert source_of(text, "Inner.method", "python").qualified_name == "Outer.Inner.method"
    with pytest.raises(ContextError, match="no symbol") as info:
        source_of(text, "Outer.fech", "python")
    assert "Outer.fetch" in (info.value.hint or "")
    with pytest.raises(ContextError, match="language"):
        source_of(text, "parse")
    with pytest.raises(ContextError, match="cannot read"):
        source_of(DATA / "missing.py", "x")
    ts = (DATA / "tricky.ts").read_text()
    extract = source_of(ts, "Foo", "typescript")
    assert extract.text.startswith("/** A component")
    assert "export class Foo" in extract.signature


def test_crlf_and_syntax_errors_still_extract():
    text = "def a():\r\n    return 1\r\n\r\ndef broken(:\r\n    pass\r\n\r\ndef c():\r\n    return 3\r\n"
    assert source_of(text, "c", "python").text == "def c():\r\n    return 3"
    assert source_of(text, "a", "python").end_line == 2


def test_skeleton_python_keeps_docstrings_and_headers():
    text = (DATA / "tricky.py").read_text()
    result = skeleton(text, "python")
    assert "class Outer:\n    \"\"\"Outer doc.\"\"\"" in result
    assert "    async def fetch(self, url: str) -> bytes:   \n" \
        "        \"\"\"Trailing spaces on the line above stay.\"\"\"\n        ...\n" in result
    assert "raw string content" not in result and "def wrapper" not in result
    assert "def parse(x: int) -> int: ...\n" in result
    numbered = skeleton(text, "python", line_numbers=True)
    assert "30 |     @trace" in numbered.splitlines()
    assert numbered.splitlines()[-1] == "53 |     print(parse(1))"


def test_skeleton_brace_languages():
    ts = skeleton((DATA / "tricky.ts").read_text(), "typescript")
    assert "  run(a: any): void { … }" in ts and "get value(): number { … }" in ts
    assert "export interface Shape {\n  area(): number;\n}" in ts
    go = skeleton((DATA / "tricky.go").read_text(), "go")
    assert "func (s *Server) Start() error { … }" in go and "addr string" in go


def test_enclosing_scope():
    text = (DATA / "tricky.py").read_text()
    assert enclosing_scope(text, "python", 20).qualified_name == "Outer.Inner.method"
    assert enclosing_scope(text, "python", 17).qualified_name == "Outer"
    assert enclosing_scope(text, "python", 3) is None
    go = (DATA / "tricky.go").read_text()
    assert enclosing_scope(go, "go", 21).qualified_name == "Server.Start"


def test_referenced_names_python():
    snippet = (
        "def handler(request, *args, limit: Limit = DEFAULT):\n"
        "    import json\n"
        "    from app.db import session as s\n"
        "    total = 0\n"
        "    for a, b in pairs(request):\n"
        "        total += compute(a, key=b).value\n"
        "    data = [x for x in items if x]\n"
        "    return self.render(json.dumps(s, cls=Encoder), len(data))\n"
    )
    assert referenced_names(snippet, "python") == {
        "Limit", "DEFAULT", "pairs", "compute", "items", "render", "Encoder"}


def test_referenced_names_typescript_and_go():
    ts = (
        "import { a as b } from 'x';\n"
        "export function f(p: Param, { m, n: k }: Opts): Result {\n"
        "  const [first] = list(p);\n"
        "  return this.helper(b, first, m, k, External.make());\n"
        "}\n"
    )
    assert referenced_names(ts, "typescript") == {
        "Param", "Opts", "Result", "list", "helper", "External"}
    go = (
        "func (s *Server) Run(x int) error {\n"
        "\ty := x + 1\n"
        "\tfmt.Println(y, helper(s))\n"
        "\tvar t pkg.Thing\n"
        "\treturn Wrap(t)\n"
        "}\n"
    )
    assert referenced_names(go, "go") == {"Server", "fmt", "helper", "pkg", "Wrap"}


def test_resolve_names_accepts_any_mapping():
    definitions = {"compute": ["a.py:3"], "unused": ["b.py:1"], "empty": []}
    assert resolve_names({"compute", "missing", "empty"}, definitions) == {"compute": ["a.py:3"]}


def test_very_long_file_is_fast_enough_to_list():
    text = "".join(f"class C{i}:\n    def m(self):\n        return {i}\n\n\n" for i in range(2500))
    started = time.perf_counter()
    symbols = list_symbols(text, "python")
    elapsed = time.perf_counter() - started
    assert len(symbols) == 5000 and symbols[-1].qualified_name == "C2499.m"
    assert elapsed < 10  # a guard against quadratic walks, not a benchmark
