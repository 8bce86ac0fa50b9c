"""Tags from tricky sources, the cache, parallel indexing, ranking and the token budget."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hybridcode.context import cache as cachemod
from hybridcode.context.repomap import build_index, rank_files, repo_map, resolve_focus
from hybridcode.context.tags import extract
from hybridcode.models.base import estimate_tokens

from conftest import git

PYTHON = '''\
import functools
from typing import overload


class Base:
    pass


class Shape(Base):
    """A shape."""

    @property
    def area(self) -> float:
        return compute(self)

    @area.setter
    def area(self, value: float) -> None:
        ...

    @functools.lru_cache(maxsize=None)
    def cached(self): ...

    class Meta:
        class Options:
            def option(self, name: str,
                       default: int = 0) -> int:  # trailing comment
                return default

    async def fetch(self, url: str) -> bytes:
        return await get(url)

    @overload
    def scale(self, k: int) -> "Shape": ...
    @overload
    def scale(self, k: float) -> "Shape": ...


def größe(wert: int) -> int:
    return wert


async def main() -> None:
    def inner():
        pass
'''


def defs_of(language: str, source: bytes | str) -> dict[str, tuple]:
    data = source.encode() if isinstance(source, str) else source
    return {(d[2], d[3]): d for d in extract(language, data)[0]}


def test_python_tags() -> None:
    defs = list(defs_of("python", PYTHON).values())
    by_qual = {(d[2]): d for d in defs}
    assert by_qual["Shape"][1] == "class"
    assert by_qual["Shape"][5] == "class Shape(Base):"
    assert [d[1] for d in defs if d[2] == "Shape.area"] == ["property", "property"]
    assert [d[5] for d in defs if d[2] == "Shape.area"] == [
        "@property def area(self) -> float:",
        "@area.setter def area(self, value: float) -> None:"]
    assert by_qual["Shape.cached"][5] == "@functools.lru_cache(...) def cached(self):"
    assert by_qual["Shape.Meta.Options.option"][5] == \
        "def option(self, name: str, default: int = 0) -> int:"
    assert by_qual["Shape.Meta.Options.option"][1] == "method"
    assert by_qual["Shape.fetch"][5] == "async def fetch(self, url: str) -> bytes:"
    assert [d[3] for d in defs if d[2] == "Shape.scale"] == [33, 35]  # both overloads
    assert by_qual["größe"][5] == "def größe(wert: int) -> int:"
    assert by_qual["main.inner"][1] == "function"
    assert by_qual["Shape"][3:5] == (9, 35)
    refs = extract("python", PYTHON.encode())[1]
    assert refs["compute"] == 1 and refs["Base"] == 1 and refs["overload"] >= 1


def test_python_crlf_matches_lf() -> None:
    lf = defs_of("python", PYTHON)
    crlf = defs_of("python", PYTHON.replace("\n", "\r\n"))
    assert lf == crlf


def test_python_syntax_error_keeps_what_parses() -> None:
    source = "def ok(a):\n    return a\n\ndef broken(:\n    pass\n\nclass After:\n" \
             "    def m(self):\n        return 1\n"
    quals = {d[2] for d in extract("python", source.encode())[0]}
    assert {"ok", "After", "After.m"} <= quals
    assert extract("python", b"\xff\xfe garbage (((") is not None  # no crash on junk bytes


def test_typescript_and_tsx_tags() -> None:
    source = '''\
export interface Shape extends Base {
  area(): number;
}
export const add = (a: number, b: number): number => a + b;
export default function main(argv: string[]): void { add(1, 2); }
export class Circle implements Shape {
  static make = (r: number) => new Circle();
  area(): number { return 3.14; }
}
export type Id = string | number;
'''
    for language in ("typescript", "tsx"):
        defs = {d[2]: d for d in extract(language, source.encode())[0]}
        assert defs["Shape"][1] == "interface"
        assert defs["Shape"][5] == "export interface Shape extends Base"
        assert defs["Shape.area"][5] == "area(): number"
        assert defs["add"][1] == "function"
        assert defs["add"][5] == "export const add = (a: number, b: number): number =>"
        assert defs["main"][5] == "export default function main(argv: string[]): void"
        assert defs["Circle"][5] == "export class Circle implements Shape"
        assert defs["Circle.make"][5] == "static make = (r: number) =>"
        assert defs["Circle.area"][1] == "method"
        assert defs["Id"][1] == "type"


def test_javascript_tags() -> None:
    source = b"class A extends B {\n  method(a) { return f(a); }\n}\n" \
             b"const g = async (x) => { await h(x); };\n"
    defs = {d[2]: d for d in extract("javascript", source)[0]}
    assert defs["A"][5] == "class A extends B"
    assert defs["A.method"][5] == "method(a)"
    assert defs["g"][5] == "const g = async (x) =>"


def test_go_tags() -> None:
    source = b'''package main

import "context"

type Server struct{ addr string }

type Reader interface {
	Read(p []byte) (n int, err error)
}

func (s *Server) Start(ctx context.Context) error { return run(ctx) }

func (s Server) Addr() string { return s.addr }

func New(addr string) *Server { return &Server{addr: addr} }
'''
    defs = {d[2]: d for d in extract("go", source)[0]}
    assert defs["Server"][1] == "struct"
    assert defs["Reader"][1] == "interface"
    assert defs["Reader.Read"][1] == "method"
    assert defs["Server.Start"][5] == "func (s *Server) Start(ctx context.Context) error"
    assert defs["Server.Start"][1] == "method"
    assert defs["Server.Addr"][5] == "func (s Server) Addr() string"
    assert defs["New"][5] == "func New(addr string) *Server"


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def age(root: Path) -> None:
    """Date every file back, so the cache may trust its stat (see cache.RACY_SECONDS)."""
    old = 1_600_000_000
    for dirpath, _, names in os.walk(root):
        if ".git" in dirpath.split(os.sep):
            continue
        for name in names:
            os.utime(os.path.join(dirpath, name), (old, old))


@pytest.fixture
def project(repo: Path) -> Path:
    write(repo, "app/models.py", "class User:\n    def save(self) -> None:\n        pass\n\n"
                                 "class Order:\n    def total(self) -> int:\n        return 0\n")
    write(repo, "app/views.py", "from app.models import User\n\ndef show(request):\n"
                                "    return User().save()\n")
    write(repo, "app/billing.py", "from app.models import Order\n\ndef charge(order):\n"
                                  "    return Order().total()\n")
    write(repo, "web/src/api.ts", "export function fetchUser(id: string): Promise<User> "
                                  "{ return get(id); }\n")
    write(repo, "server/main.go", "package main\n\ntype Server struct{}\n\n"
                                  "func (s *Server) Start() error { return nil }\n")
    write(repo, "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def test_build_index(project: Path) -> None:
    index = build_index(project / "app")  # any directory inside the repository
    assert index.root == project.resolve()
    assert "app/models.py" in index.files and "README.md" in index.files
    assert index.excluded["logo.png"] == "binary"
    assert index.languages["web/src/api.ts"] == "typescript"
    assert [d.qualname for d in index.symbols["app/models.py"]] == [
        "User", "User.save", "Order", "Order.total"]
    assert [d.path for d in index.definitions["save"]] == ["app/models.py"]
    assert [d.qualname for d in index.lookup("Server.Start")] == ["Server.Start"]
    assert index.lookup("Order.total")[0].line == 6
    assert index.lookup("nothing") == []


def test_cache_hits_and_invalidation(project: Path) -> None:
    age(project)
    first = build_index(project)
    assert first.stats.analysed == len(first.files) + len(first.excluded)
    assert (project / cachemod.CACHE_DIR / cachemod.INDEX_FILE).is_file()

    second = build_index(project)
    assert second.stats.analysed == 0 and second.stats.rehashed == 0
    assert second.stats.cached == first.stats.analysed
    assert second.symbols == first.symbols

    write(project, "app/models.py", "class User:\n    def delete(self) -> None:\n        pass\n")
    third = build_index(project)
    assert third.stats.analysed == 1
    assert [d.qualname for d in third.symbols["app/models.py"]] == ["User", "User.delete"]

    # Touched but unchanged: re-hashed, not re-parsed.
    os.utime(project / "app/views.py")
    fourth = build_index(project)
    assert fourth.stats.analysed == 0 and fourth.stats.rehashed >= 1


def test_corrupt_cache_is_rebuilt(project: Path) -> None:
    build_index(project)
    (project / cachemod.CACHE_DIR / cachemod.INDEX_FILE).write_bytes(b"not marshal")
    index = build_index(project)
    assert index.stats.analysed > 0 and "app/models.py" in index.symbols


def test_parallel_matches_serial(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(40):
        write(repo, f"pkg/mod{i}.py", f"class C{i}:\n    def m{i}(self):\n        return C{i - 1}\n")
    write(repo, "pkg/keys.py", 'AWS_ACCESS_KEY_ID = "AKIAZ3MHQWERTYUIOPAS"\n')
    monkeypatch.setattr(cachemod, "PARALLEL_THRESHOLD", 10)
    parallel = build_index(repo, use_cache=False, workers=2)
    serial = build_index(repo, use_cache=False, workers=1)
    # symbols vets every file: in worker processes too, past the threshold
    assert parallel.symbols == serial.symbols and parallel.references == serial.references
    assert len(parallel.symbols) == 40
    assert parallel.excluded == serial.excluded
    assert parallel.excluded["pkg/keys.py"] == "secret: AWS Access Key line 1"


def test_excluded_files(project: Path) -> None:
    write(project, ".env.production", "API_KEY=abc\n")
    write(project, "app/settings.py", 'DEBUG = True\nAWS_ACCESS_KEY_ID = "AKIAZ3MHQWERTYUIOPAS"\n')
    write(project, "app/huge.py", "x = 1\n" * 50)
    write(project, ".hybridignore", "app/billing.py\n")
    write(project, ".gitignore", "dist/\n")
    write(project, "dist/bundle.py", "def hidden(): pass\n")
    os.symlink("/etc/hostname", project / "app/link.py")
    index = build_index(project, max_bytes=200)
    by_name = {
        ".env.production": "env file",
        "app/billing.py": "ignored",
        "app/huge.py": "too large",
        "app/link.py": "symlink",
        "logo.png": "binary",
    }
    assert index.excluded == by_name  # secrets are found when content is about to be shown
    assert not any(d.path in index.excluded for defs in index.definitions.values() for d in defs)
    assert index.excluded == {**by_name, "app/settings.py": "secret: AWS Access Key line 2"}
    assert "app/settings.py" not in index.symbols
    assert "dist/bundle.py" not in index.files and "dist/bundle.py" not in index.excluded


@pytest.mark.parametrize("cached", [False, True])
def test_map_never_shows_a_file_with_a_secret(project: Path, cached: bool) -> None:
    # The focus puts the file first; the map must vet it, drop it and fill in with others.
    write(project, "app/settings.py",
          'AWS_ACCESS_KEY_ID = "AKIAZ3MHQWERTYUIOPAS"\n\ndef configure(app):\n    pass\n')
    if cached:
        repo_map(build_index(project), ["configure"], 400)  # verdicts and tags from cache
    index = build_index(project)
    result = repo_map(index, ["configure", "app/settings.py"], 400)
    assert "AKIA" not in result.text and "app/settings.py" not in result.files
    assert result.definitions  # the rest of the map is still there
    assert index.excluded["app/settings.py"] == "secret: AWS Access Key line 1"
    assert index.lookup("configure") == []


def test_withhold_scans_only_what_is_asked(project: Path) -> None:
    write(project, "app/settings.py", 'AWS_ACCESS_KEY_ID = "AKIAZ3MHQWERTYUIOPAS"\n')
    index = build_index(project)
    assert index.withhold(["app/settings.py"]) == {"app/settings.py"}
    others = [p for p in index.files if p != "app/settings.py"]
    assert index.withhold(others) == set() and index.cleared == set(others)
    # The verdicts are cached by content: a second index answers without scanning.
    again = build_index(project)
    from hybridcode.context import files as filesel
    calls = []
    real = filesel.find_secret
    filesel.find_secret = lambda *a: calls.append(a) or real(*a)
    try:
        assert again.withhold(index.files + ["app/settings.py"]) == {"app/settings.py"}
    finally:
        filesel.find_secret = real
    assert calls == []


def test_very_long_file(repo: Path) -> None:
    body = "".join(f"def f{i}(x: int) -> int:\n    return x + {i}\n\n" for i in range(5000))
    write(repo, "long.py", body)
    index = build_index(repo)
    assert len(index.symbols["long.py"]) == 5000
    assert index.lookup("f4999")[0].line == 3 * 4999 + 1


def test_minified_bundle_listed_not_parsed(repo: Path) -> None:
    write(repo, "static/lib.min.js", "function a(b){return b}" * 400)
    index = build_index(repo)
    assert "static/lib.min.js" in index.files
    assert "static/lib.min.js" not in index.symbols


def test_focus_changes_ranking(project: Path) -> None:
    index = build_index(project)
    assert repo_map(index, [], 4000).files[0] == "app/models.py"  # the most referenced
    assert repo_map(index, ["Order.total"], 4000).files[0] == "app/models.py"
    assert repo_map(index, ["Server"], 4000).files[0] == "server/main.go"
    assert repo_map(index, ["fetchUser"], 4000).files[0] == "web/src/api.ts"
    assert repo_map(index, ["app/billing.py"], 4000).files[0] == "app/billing.py"
    assert repo_map(index, ["how do we charge customers"], 4000).files[0] == "app/billing.py"
    assert repo_map(index, ["show"], 4000).files[0] == "app/views.py"


def test_resolve_focus(project: Path) -> None:
    index = build_index(project)
    focus = resolve_focus(index, ["views.py", "Order.total", "start the server"])
    assert "app/views.py" in focus.files
    assert {"total", "Start", "Server"} <= focus.names


def test_render_nests_methods_in_classes(project: Path) -> None:
    index = build_index(project)
    text = repo_map(index, ["total"], 4000).text
    assert "app/models.py:\n" in text
    assert "     5| class Order:\n     6|     def total(self) -> int:\n" in text


@pytest.mark.parametrize("budget", [1, 20, 60, 200, 5000])
def test_budget_respected(project: Path, budget: int) -> None:
    result = repo_map(build_index(project), [], budget)
    assert result.tokens <= budget
    assert estimate_tokens(result.text) <= budget or result.text == ""
    if budget >= 5000:
        assert all(f"{d.line:>6}| " in result.text for d in result.definitions)
        assert len(result.definitions) == sum(len(v) for v in build_index(project).symbols.values())


def test_budget_grows_the_map(project: Path) -> None:
    index = build_index(project)
    small, large = repo_map(index, [], 40), repo_map(index, [], 400)
    assert len(small.definitions) < len(large.definitions)
    assert large.text.startswith(small.text.split("\n")[0])


def test_cached_ranks_match_a_fresh_computation(project: Path) -> None:
    age(project)
    fresh = build_index(project, use_cache=False)
    build_index(project)  # writes the ranks with the index
    warm = build_index(project)
    assert warm.stats.analysed == 0 and warm.cached_ranks is not None
    for focus in ([], ["Order.total"], ["app/billing.py"]):
        a, b = repo_map(fresh, focus, 4000), repo_map(warm, focus, 4000)
        assert (a.text, a.files, a.ranks) == (b.text, b.files, b.ranks)


def test_cached_ranks_invalidated_when_a_file_changes(project: Path) -> None:
    age(project)
    before = build_index(project)
    assert repo_map(before, [], 4000).files[0] == "app/models.py"
    # Now billing.py is what everything uses: the cached ranks must not survive the change.
    write(project, "app/billing.py", "def charge(order):\n    return 1\n")
    write(project, "app/views.py", "".join(f"def v{i}():\n    return charge()\n"
                                           for i in range(5)))
    write(project, "app/models.py", "class User:\n    def save(self):\n        charge()\n"
                                    "        charge()\n")
    after = build_index(project)
    assert after.stats.analysed == 3
    fresh = build_index(project, use_cache=False)
    assert after.cached_ranks == [rank_files(fresh)[p] for p in fresh.files]
    assert repo_map(after, [], 4000).files[0] == "app/billing.py"
    # A focus still wins over the cached unfocused order.
    assert repo_map(after, ["server/main.go"], 4000).files[0] == "server/main.go"
    assert repo_map(after, ["fetchUser"], 4000).files[0] == "web/src/api.ts"


def test_cached_ranks_follow_the_file_list(project: Path) -> None:
    age(project)
    build_index(project)
    write(project, ".hybridignore", "app/models.py\n")
    index = build_index(project)  # same contents, one file fewer: new fingerprint
    assert "app/models.py" not in index.files
    assert index.cached_ranks is not None and len(index.cached_ranks) == len(index.files)
    assert "app/models.py" not in repo_map(index, [], 4000).files


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "tsx", "go"])
def test_each_tag_pattern_has_at_most_one_role(language: str) -> None:
    # extract() learns each pattern's role (definition kind or reference) from its first match.
    import re

    from hybridcode.context import tags
    from hybridcode.context.languages import query_source

    query = tags._query(language)
    source = (query_source("javascript") or "") + (query_source(language) or "") \
        if language in ("typescript", "tsx") else query_source(language) or ""
    source += tags._EXTRA["typescript" if language == "tsx" else language]
    data = source.encode()
    for i in range(query.pattern_count):
        pattern = data[query.start_byte_for_pattern(i):query.end_byte_for_pattern(i)].decode()
        roles = set(re.findall(r"@(?:definition|reference)\.[\w.]+", pattern))
        assert len(roles) <= 1, pattern


def test_references_link_within_a_language_family_only(repo: Path) -> None:
    # Python calls to filter() say nothing about a JavaScript filter(): before, the vendored
    # library took half the rank those calls sent, and jQuery topped Django's map.
    write(repo, "app/query.py", "def filter(items):\n    return items\n")
    for name in "abc":
        write(repo, f"app/{name}.py", f"from app.query import filter\n\ndef use_{name}(x):\n"
                                      "    return filter(x)\n")
    write(repo, "vendor/lib.js", "function filter(a) { return a; }\n")
    write(repo, "web/types.ts", "export function filter(a: number[]): number[] { return a; }\n")
    write(repo, "web/ui.js", "function draw(z) { return filter(z); }\n")
    git(repo, "add", "-A")
    ranks = rank_files(build_index(repo, use_cache=False))
    # Nothing but the JavaScript caller links to the two JavaScript-family definitions ...
    assert ranks["vendor/lib.js"] == pytest.approx(ranks["web/types.ts"])
    assert ranks["vendor/lib.js"] > ranks["app/a.py"]  # ... which it does (ts and js mix)
    assert ranks["app/query.py"] > 2 * ranks["vendor/lib.js"]
    (repo / "web/ui.js").unlink()
    git(repo, "add", "-A")
    ranks = rank_files(build_index(repo, use_cache=False))
    assert ranks["vendor/lib.js"] == pytest.approx(ranks["app/a.py"])  # no edge from Python


# Exported constants and variables, in the styles of zod (TypeScript) and cobra (Go).
ZOD_STYLE = '''import { util } from "./helpers/util";

export const ZodIssueCode = util.arrayToEnum([
  "invalid_type",
  "custom",
]);
export type ZodIssueCode = keyof typeof ZodIssueCode;
export let defaultErrorMap = errorMap;
export var legacy = "x", other = 3;
export const makeIssue = (params: IssueData) => params;
const privateHelper = 1;
'''

COBRA_STYLE = b'''package cobra

type ShellCompDirective int

const (
	ShellCompDirectiveError ShellCompDirective = 1 << iota
	ShellCompDirectiveNoSpace
	ShellCompDirectiveNoFileComp
)

const BashCompFilenameExt = "cobra_annotation_bash_completion_filename_extensions"

var EnableCommandSorting = true

var (
	EnablePrefixMatching = false
	initializers         []func()
)

func Init() { var inner = 1; const local = 2; _ = inner }
'''


def test_typescript_exported_constants_and_variables() -> None:
    for language in ("typescript", "tsx"):
        defs = extract(language, ZOD_STYLE.encode())[0]
        by_kind = {(d[0], d[1]): d for d in defs}
        constant = by_kind[("ZodIssueCode", "constant")]
        assert constant[3:5] == (3, 6)
        assert constant[5] == "export const ZodIssueCode = util.arrayToEnum(["
        assert ("ZodIssueCode", "type") in by_kind  # the type of the same name stays
        assert by_kind[("defaultErrorMap", "variable")][5] == \
            "export let defaultErrorMap = errorMap"
        assert by_kind[("other", "variable")][5] == "export var other = 3"
        # a function-valued binding is still a function, tagged once
        assert [d[1] for d in defs if d[0] == "makeIssue"] == ["function"]
        assert "privateHelper" not in {d[0] for d in defs}  # module-private


def test_javascript_exported_constants() -> None:
    source = b'export const NEVER = Object.freeze({ status: "aborted" });\n' \
             b'export let count = 1;\nconst helper = 2;\n'
    defs = {d[0]: d for d in extract("javascript", source)[0]}
    assert defs["NEVER"][1:2] == ("constant",)
    assert defs["NEVER"][5] == 'export const NEVER = Object.freeze({ status: "aborted" })'
    assert defs["count"][1] == "variable"
    assert "helper" not in defs


def test_go_package_constants_and_variables() -> None:
    defs = {d[0]: d for d in extract("go", COBRA_STYLE)[0]}
    assert defs["ShellCompDirectiveError"][1] == "constant"
    assert defs["ShellCompDirectiveError"][5] == \
        "const ShellCompDirectiveError ShellCompDirective = 1 << iota"
    # an iota continuation shows the type it repeats
    assert defs["ShellCompDirectiveNoFileComp"][5] == \
        "const ShellCompDirectiveNoFileComp ShellCompDirective"
    assert defs["ShellCompDirectiveNoFileComp"][3] == 8
    assert defs["BashCompFilenameExt"][1] == "constant"
    assert defs["EnableCommandSorting"][1:2] == ("variable",)
    assert defs["EnableCommandSorting"][5] == "var EnableCommandSorting = true"
    assert defs["EnablePrefixMatching"][1] == "variable"
    assert defs["initializers"][5] == "var initializers []func()"
    assert "inner" not in defs and "local" not in defs  # function locals are not the package's


def test_map_shows_exported_constants(repo: Path) -> None:
    write(repo, "src/ZodError.ts", ZOD_STYLE)
    write(repo, "completions.go", COBRA_STYLE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "bindings")
    index = build_index(repo)
    assert [d.path for d in index.lookup("ZodIssueCode")] == ["src/ZodError.ts"] * 2
    assert index.lookup("EnableCommandSorting")[0].path == "completions.go"
    text = repo_map(index, ["ShellCompDirectiveNoFileComp", "ZodIssueCode"], 4000).text
    assert "export const ZodIssueCode = util.arrayToEnum([" in text
    assert "const ShellCompDirectiveNoFileComp ShellCompDirective" in text
    assert "var EnableCommandSorting = true" in text
