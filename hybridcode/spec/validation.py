"""Meaning-level checks of a spec against the repository: ids unique, dependencies known and
acyclic, paths inside the repository, ``modify`` targets present, ``create`` targets absent,
tests parse."""

from __future__ import annotations

import ast
import re
from pathlib import Path, PurePosixPath

from hybridcode.errors import ContextError
from hybridcode.spec.examples import example_problems
from hybridcode.spec.issues import SpecIssue
from hybridcode.spec.model import (MAX_ITEMS, RESERVED_DIRS, SYMBOL_KINDS, Severity, Spec,
                                   SpecItem, SymbolExists)
from hybridcode.spec.order import dependency_cycles


def _path_problem(path: str, repo_root: Path) -> str | None:
    """Why ``path`` is not a safe repository-relative file path, or None."""
    if not path.strip():
        return "is empty"
    if "\\" in path:
        return f'"{path}" uses backslashes; write a repository-relative path with forward slashes'
    pure = PurePosixPath(path)
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", path):
        return f'"{path}" is absolute; write it relative to the repository root'
    if ".." in pure.parts:
        return f'"{path}" leaves the repository (".."); write a path inside it'
    reserved = RESERVED_DIRS.intersection(pure.parts)
    if reserved:
        return f'"{path}" is inside {sorted(reserved)[0]}/, which hybrid never writes'
    if str(pure) != path:
        return f'"{path}" is not in normal form; write "{pure}"'
    root = repo_root.resolve()
    if not (root / pure).resolve().is_relative_to(root):
        return f'"{path}" resolves outside the repository (through a symbolic link)'
    return None


def _ancestors(spec: Spec) -> dict[str, set[str]]:
    """Transitive dependencies of each item (cycle-safe)."""
    deps = {item.id: set(item.depends_on) for item in spec.items}
    result: dict[str, set[str]] = {}
    for item_id in deps:
        seen: set[str] = set()
        stack = list(deps[item_id])
        while stack:
            dep = stack.pop()
            if dep in seen or dep not in deps:
                continue
            seen.add(dep)
            stack.extend(deps[dep])
        result[item_id] = seen
    return result


def _has_test_function(tree: ast.Module) -> bool:
    def is_test(node: ast.stmt) -> bool:
        return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
            node.name.startswith("test")

    for node in tree.body:
        if is_test(node):
            return True
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            if any(is_test(child) for child in node.body):
                return True
    return False


class _Checker:
    def __init__(self, spec: Spec, repo_root: Path, symbol_exists: SymbolExists | None) -> None:
        self.spec = spec
        self.root = repo_root
        self.symbol_exists = symbol_exists
        self.issues: list[SpecIssue] = []
        self.ancestors = _ancestors(spec)
        # What the spec itself brings into being, so a later item may modify it.
        self.file_creators: dict[str, list[str]] = {}
        self.symbol_creators: dict[tuple[str, str], list[str]] = {}
        self.whole_file_creators: dict[str, list[str]] = {}
        for item in spec.items:
            if item.action == "create":
                self.file_creators.setdefault(item.file, []).append(item.id)
                if not item.symbol:
                    self.whole_file_creators.setdefault(item.file, []).append(item.id)
                if item.symbol:
                    self.symbol_creators.setdefault((item.file, item.symbol), []).append(item.id)

    def creators(self, file: str, symbol: str | None) -> list[str]:
        """Items creating the symbol if one is named (the most precise answer), else the file."""
        if symbol and (file, symbol) in self.symbol_creators:
            return self.symbol_creators[(file, symbol)]
        return self.file_creators.get(file, [])

    def add(self, item: SpecItem | None, field: str, message: str,
            severity: Severity = "error") -> None:
        self.issues.append(SpecIssue(item.id if item else None, field, message, severity))

    def lookup(self, item: SpecItem, field: str, file: str, symbol: str) -> bool | None:
        """Ask the injected symbol lookup; None when there is none or the file cannot be read
        (then reported, since an unreadable target cannot be modified either)."""
        if self.symbol_exists is None:
            return None
        try:
            return self.symbol_exists(file, symbol)
        except ContextError as exc:
            self.add(item, field, f"cannot look up {symbol} in {file}: {exc.message}")
            return None

    def on_disk(self, path: str) -> bool:
        return (self.root / path).is_file()

    def provided_by_spec(self, item: SpecItem, field: str, what: str,
                         creators: list[str]) -> bool:
        """True when a dependency creates the target; reports a missing depends_on otherwise."""
        before = [c for c in creators if c in self.ancestors[item.id]]
        if before:
            return True
        others = [c for c in creators if c != item.id]
        if others:
            self.add(item, field, f'{what} is created by item "{others[0]}"; add "{others[0]}" '
                     "to depends_on")
            return True
        return False

    def check_target(self, item: SpecItem) -> None:
        if item.kind in SYMBOL_KINDS and not item.symbol:
            self.add(item, "symbol", f"required for a {item.kind} item (e.g. "
                     f"{'RateLimiter.check' if item.kind == 'method' else 'RateLimiter'})")
        if item.kind == "method" and item.symbol and "." not in item.symbol:
            self.add(item, "symbol", f'"{item.symbol}" must be qualified with its class, '
                     f"e.g. MyClass.{item.symbol}")
        # Code written in the plan carries its own signature.
        if item.kind in SYMBOL_KINDS and not item.signature.strip() and not item.code:
            self.add(item, "signature", "empty; give the exact signature with type annotations")
        problem = _path_problem(item.file, self.root)
        if problem:
            self.add(item, "file", problem)
            return
        exists = self.on_disk(item.file)
        if item.action == "modify":
            if not exists:
                if not self.provided_by_spec(item, "file", item.file,
                                             self.creators(item.file, item.symbol)):
                    self.add(item, "file", f"{item.file} does not exist; use action create or "
                             "fix the path")
                return
            if item.symbol and self.lookup(item, "symbol", item.file, item.symbol) is False:
                creators = self.symbol_creators.get((item.file, item.symbol), [])
                if not self.provided_by_spec(item, "symbol", item.symbol, creators):
                    self.add(item, "symbol", f'"{item.symbol}" not found in {item.file}; use '
                             "action create or fix the name")
        elif not exists and item.symbol:
            # Adding to a file another item writes whole: that item has to run first.
            whole = [c for c in self.whole_file_creators.get(item.file, []) if c != item.id]
            if whole:
                self.provided_by_spec(item, "depends_on", item.file, whole)
        elif exists:
            if not item.symbol:
                self.add(item, "action", f"{item.file} already exists; use action modify, or "
                         "name the symbol to add in symbol")
            elif self.lookup(item, "symbol", item.file, item.symbol):
                self.add(item, "action", f'"{item.symbol}" already exists in {item.file}; use '
                         "action modify")

    def check_tests(self, item: SpecItem) -> None:
        for field, message in example_problems(item):
            self.add(item, field, message)
        if item.examples and any(e.run for e in item.examples) and not item.file.endswith(".py"):
            self.add(item, "examples", "examples become tests only for Python targets; write "
                     "tests.code for this language, or set run false", "warning")
        if item.code is not None and not item.code.strip():
            self.add(item, "code", "empty; leave it out unless the plan writes the code")
        if not item.has_tests:
            if item.is_code:
                local = item.route in (None, "local")
                self.add(item, "tests", "missing; a local model's code is accepted only by "
                         "its tests — add examples (each becomes a test) or pytest code in "
                         "tests.code", "error" if local else "warning")
            return
        path = item.test_path
        if path is None:
            self.add(item, "tests.path", "required for a target in a language hybrid runs no "
                     "tests for (defaults exist for Python, Go, JavaScript and TypeScript)")
            return
        problem = _path_problem(path, self.root)
        if problem:
            self.add(item, "tests.path", problem)
        if not path.endswith(".py"):
            self.check_other_tests(item, path)
            return
        if item.tests is None:
            return
            return
        try:
            tree = ast.parse(item.tests.code)
        except SyntaxError as exc:
            self.add(item, "tests.code", f"does not parse: line {exc.lineno}: {exc.msg}")
            return
        if not _has_test_function(tree):
            self.add(item, "tests.code", "contains no test function (def test_...)")

    def check_other_tests(self, item: SpecItem, path: str) -> None:
        """Go and JavaScript/TypeScript tests: the file name their runner picks up, and at
        least one test the judge can expect by name."""
        from hybridcode.context.languages import language_for_path
        from hybridcode.judge.expected import expected_tests

        language = language_for_path(path)
        if language is None or item.tests is None:
            return
        if language == "go" and not path.endswith("_test.go"):
            self.add(item, "tests.path", f'"{path}" must end in _test.go (go test reads only '
                     "those files)")
        if language not in ("go", "javascript", "typescript", "tsx"):
            return
        try:
            found = expected_tests(item.tests.code, language)
        except (ContextError, ValueError) as exc:  # a grammar that cannot load
            self.add(item, "tests.code", f"cannot read the tests: {exc}", "warning")
            return
        if found.count == 0:
            what = ("func TestXxx(t *testing.T)" if language == "go" else
                    "test(...) or it(...) call")
            self.add(item, "tests.code", f"contains no test ({what})")

    def check_reference(self, item: SpecItem, field: str, entry: str) -> None:
        """``file`` or ``file::symbol`` names something that exists, on disk or made by a
        dependency."""
        path, _, symbol = entry.partition("::")
        problem = _path_problem(path, self.root)
        if problem:
            self.add(item, field, problem)
        elif not self.on_disk(path):
            if not self.provided_by_spec(item, field, path, self.creators(path, symbol)):
                self.add(item, field, f"{path} does not exist")
        elif symbol and self.lookup(item, field, path, symbol) is False:
            creators = self.symbol_creators.get((path, symbol), [])
            if not self.provided_by_spec(item, field, symbol, creators):
                self.add(item, field, f'"{symbol}" not found in {path}')

    def check_context(self, item: SpecItem) -> None:
        for n, entry in enumerate(item.context):
            self.check_reference(item, f"context[{n}]", entry)

    def check_kind_fields(self, item: SpecItem) -> None:
        """The fields of test, doc and look-alike items, and only on those items."""
        if item.kind == "test":
            if not item.under_test:
                self.add(item, "under_test", "empty: the tests are judged only by passing; "
                         "name the code they exercise (e.g. app/durations.py::parse_duration) "
                         "so that mutants of it judge them too", "warning")
            else:
                self.check_reference(item, "under_test", item.under_test)
                code_file = item.under_test.partition("::")[0]
                if code_file == item.file:
                    self.add(item, "file", "is the code under test; a test item writes a test "
                             "file of its own, e.g. tests/test_<module>.py")
                elif not (code_file.endswith(".py") and item.file.endswith(".py")):
                    self.add(item, "under_test", "mutation testing runs for Python code; for "
                             "other languages the tests are judged only by passing", "warning")
            if not item.requirements:
                self.add(item, "requirements", "empty; list the behaviours the tests must "
                         "cover, one line each", "warning")
        else:
            if item.under_test:
                self.add(item, "under_test", "only a test item names code under test")
            if item.mutation_score is not None:
                self.add(item, "mutation_score", "only a test item has a mutation score")
        if item.kind == "doc" and item.file.endswith(".py"):
            if not item.doc_symbols:
                self.add(item, "document", "required for a Python doc item: name the symbols "
                         "that must carry a docstring, e.g. parse_duration")
            for n, symbol in enumerate(item.document):
                self.check_reference(item, f"document[{n}]", f"{item.file}::{symbol}")
        elif item.document or item.doc_style:
            if item.kind != "doc":
                self.add(item, "document" if item.document else "doc_style",
                         "only a doc item names symbols to document")
        if item.like:
            self.check_reference(item, "like", item.like)

    def check_spec(self, max_items: int) -> None:
        count = len(self.spec.items)
        if count == 0:
            self.add(None, "items", "no items; a spec needs at least one")
        elif count > max_items:
            self.add(None, "items", f"{count} items (limit {max_items}); split the request "
                     "into smaller plans")
        seen: set[str] = set()
        ids = {item.id for item in self.spec.items}
        for item in self.spec.items:
            if item.id in seen:
                self.add(item, "id", "duplicate id; every item needs its own")
            seen.add(item.id)
            for dep in item.depends_on:
                if dep not in ids:
                    self.add(item, "depends_on", f'unknown item "{dep}"')
        for cycle in dependency_cycles(self.spec):
            item = self.spec.item(cycle[0])
            message = ("depends on itself" if len(cycle) == 2 else
                       f"dependency cycle: {' → '.join(cycle)}")
            self.add(item, "depends_on", message + "; remove one of these dependencies")
        for (file, symbol), creators in self.symbol_creators.items():
            for dup in creators[1:]:
                self.add(self.spec.item(dup), "symbol", f'"{symbol}" in {file} is also created '
                         f'by item "{creators[0]}"')
        tests_seen: dict[str, str] = {}
        targets = {item.file for item in self.spec.items}
        for item in self.spec.items:
            path = item.test_path
            if path is None:
                continue
            if path in tests_seen:
                self.add(item, "tests.path", f'{path} is also used by item "{tests_seen[path]}"')
            elif path in targets:
                self.add(item, "tests.path", f"{path} is a target file of this spec; the "
                         "acceptance tests would overwrite it")
            tests_seen.setdefault(path, item.id)


def validate_spec(spec: Spec, repo_root: Path, symbol_exists: SymbolExists | None = None,
                  *, max_items: int = MAX_ITEMS) -> list[SpecIssue]:
    """Every meaning-level problem of ``spec`` against the repository at ``repo_root``.

    ``symbol_exists(file, symbol)`` answers whether a qualified symbol is defined in a
    repository file; without it, symbols are not checked (files still are). Missing tests on a
    code item are an error when it is routed local (or not routed yet), a warning otherwise —
    so validate after routing.
    """
    checker = _Checker(spec, repo_root, symbol_exists)
    checker.check_spec(max_items)
    for item in spec.items:
        checker.check_target(item)
        checker.check_tests(item)
        checker.check_context(item)
        checker.check_kind_fields(item)
    return checker.issues
