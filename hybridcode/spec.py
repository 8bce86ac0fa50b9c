"""The spec: the contract the planner writes, a person may edit, the implementer executes and
the reviewer checks against.

A spec lives at ``.hybrid/plans/<plan-id>/spec.json``. Its shape is :class:`Spec` (strict:
unknown fields are errors, so a typo in a hand edit is caught). The planner model fills a looser
twin, :class:`hybridcode.plan.PlannerOutput`, whose JSON schema fits structured-output APIs; its
result is converted into a :class:`Spec` here and then checked by :func:`validate_spec`.

Two layers of checking, both reported as :class:`SpecIssue` (item, field, message):

- structure (:func:`spec_from_data`): types, enums, required fields, id format;
- meaning (:func:`validate_spec`): ids unique, dependencies known and acyclic, paths inside the
  repository, ``modify`` targets present, ``create`` targets absent, tests parse.

The field descriptions below are written as instructions to the planner: they are sent to it
inside the JSON schema, and ``docs/spec.schema.json`` is generated from them.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybridcode.errors import ContextError, SpecError

SPEC_VERSION = 2
# Versions this hybrid reads; older ones are migrated on load (see _migrate).
READABLE_VERSIONS = (1, 2)
MAX_ITEMS = 40
# Where acceptance tests of Python items are written when an item names no path. A folder of
# its own keeps generated tests apart from the project's tests and easy to find in a diff.
TEST_DIR = "tests/hybrid"
ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

ItemKind = Literal["function", "method", "class", "module", "test", "doc", "config"]
Category = Literal[
    "extraction", "classification", "boilerplate", "crud", "data_transformation", "validation",
    "parsing", "docstring", "test", "algorithm", "integration", "architecture", "security", "other",
]
Action = Literal["create", "modify"]
Route = Literal["local", "claude", "plan"]
Severity = Literal["error", "warning"]
TestRunner = Literal["pytest", "go", "vitest", "jest", "node"]

CODE_KINDS = frozenset({"function", "method", "class", "module"})
SYMBOL_KINDS = frozenset({"function", "method", "class"})
# Paths hybrid must never write: git's own data and hybrid's plans, ledger and worktrees.
RESERVED_DIRS = frozenset({".git", ".hybrid"})

SymbolExists = Callable[[str, str], bool]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Example(_Model):
    """One concrete call and its expected outcome. The tool turns it into a test."""

    input: str = Field(
        min_length=1,
        description="One Python expression calling the item's public names with literal "
        "values, e.g. `client_ip('10.0.0.1', {'X-Forwarded-For': '203.0.113.7'})` or "
        "`RateLimiter(2, 60.0).check('a')`. The tool turns each example into a test case.",
    )
    expected: str = Field(
        min_length=1,
        description="The exact result as a Python expression compared with == (e.g. "
        "`'203.0.113.7'`, `[]`, `None`), or the exact error, written "
        "`raises ValueError('window_s must be positive')` (the message must be contained in "
        "str(error)).",
    )
    note: str | None = Field(
        default=None,
        description="Why this case matters, e.g. 'edge case: empty header'. Optional.",
    )
    run: bool = Field(
        default=True,
        description="False when the example only illustrates and is not turned into a test "
        "(examples of specs written before spec_version 2 are migrated with run false).",
    )


class AcceptanceTests(_Model):
    """Tests that decide whether an implementation of the item is accepted."""

    code: str = Field(
        min_length=1,
        description="A complete test file for this item in the target's language, for the "
        "repository's test runner: for Python a pytest module with at least one `def test_...`; "
        "for Go a `_test.go` file of the target's package with `func TestXxx(t *testing.T)` "
        "functions; for JavaScript/TypeScript a file of `test(...)`/`it(...)` cases for the "
        "runner the repository uses (vitest, jest, or node:test). Import only public names from "
        "the target module (e.g. `from app.ratelimit import RateLimiter`), never private "
        "helpers or the implementation's internals. Pin the requirements, the examples, the "
        "edge cases and the error behaviour. No network, no sleeping: inject clocks and stores. "
        "Give every test a literal name.",
    )
    path: str | None = Field(
        default=None,
        description="Repository-relative path the tests are written to. Usually empty: the "
        f"tool writes Python tests to `{TEST_DIR}/test_<id>.py`, Go tests next to the target as "
        "`hybrid_<id>_test.go`, JavaScript/TypeScript tests next to the target as "
        "`<id>.hybrid.test.<ext>` (hyphens become underscores in Python and Go names).",
    )
    runner: TestRunner | None = Field(
        default=None,
        description="The runner that judges these tests: pytest, go (`go test`), vitest, jest "
        "or node (`node --test`). Set by the tool from the repository (package.json, go.mod) "
        "when the plan is made; empty means detect it when the item is verified.",
    )


class RiskFlags(_Model):
    """Facts about the item that decide whether a local model may implement it."""

    security_sensitive: bool = Field(
        default=False,
        description="True when a mistake could weaken security: authentication, authorisation, "
        "sessions, input that reaches SQL/shell/HTML/file paths, secrets, cryptography, "
        "trusting client-supplied headers.",
    )
    cross_file: bool = Field(
        default=False,
        description="True when the change cannot be made correctly by looking at the target file "
        "and the listed context alone (it must be kept consistent with code in other files).",
    )
    multi_step_reasoning: bool = Field(
        default=False,
        description="True when correct code needs non-obvious reasoning: concurrency, tricky state "
        "machines, numerical subtlety, algorithms beyond a straightforward loop.",
    )
    broad_knowledge: bool = Field(
        default=False,
        description="True when the item needs knowledge not written in the spec: a third-party "
        "API's details, a protocol, a standard, domain rules.",
    )

    def raised(self) -> list[str]:
        return [name for name, value in self.model_dump().items() if value]


class SpecItem(_Model):
    """One unit of work: usually one function, method or class, implemented on its own."""

    id: str = Field(
        pattern=ID_PATTERN, max_length=48,
        description="Short unique slug naming the item, lowercase letters, digits and hyphens, "
        "e.g. `ratelimit-store`. Other items refer to it in `depends_on`.",
    )
    title: str = Field(min_length=1, description="One line saying what the item delivers.")
    kind: ItemKind = Field(
        description="What is produced: `function` (module-level), `method` (inside a class), "
        "`class`, `module` (a whole new file), `test` (a test file for the project), `doc` "
        "(documentation or docstrings), `config` (a configuration file).",
    )
    category: Category = Field(
        default="other",
        description="The nature of the work, used for routing: extraction, classification, "
        "boilerplate, crud, data_transformation, validation, parsing, docstring, test (routine, "
        "suited to a local model) or algorithm, integration (wiring into existing flows), "
        "architecture, security (need a frontier model); `other` when none fits.",
    )
    file: str = Field(
        min_length=1,
        description="Target file, relative to the repository root, with forward slashes, e.g. "
        "`app/ratelimit.py`. Never absolute, never `..`, never inside .git or .hybrid.",
    )
    symbol: str | None = Field(
        default=None,
        description="Qualified name of the target inside the file: `check_password`, "
        "`RateLimiter`, `RateLimiter.check` for a method. Required for function, method and "
        "class; empty for module, config and doc items that concern a whole file.",
    )
    action: Action = Field(
        description="`create` when the symbol (or the file, without a symbol) does not exist yet; "
        "`modify` when it exists and is changed. Use `modify` only for targets that exist in the "
        "repository or are created by an item listed in `depends_on`.",
    )
    signature: str = Field(
        default="",
        description="The exact signature with full type annotations as it will appear in the code, "
        "e.g. `def check(self, key: str, now: float | None = None) -> bool`. For a class: the "
        "class line, then `__init__` and every public method signature, one per line. Required "
        "for function, method and class; empty for doc and config.",
    )
    description: str = Field(
        min_length=1,
        description="What the code does and how, precise enough that no design is left to the "
        "implementer: data structures, algorithm, existing helpers and patterns to reuse (name "
        "them), what is returned and what is raised.",
    )
    requirements: list[str] = Field(
        default_factory=list,
        description="Behaviour that must hold, one testable statement each, including edge cases "
        "and error behaviour (exception type and message).",
    )
    constraints: list[str] = Field(
        default_factory=list,
        description="Limits on how it is built: no new dependencies, stay compatible with X, "
        "complexity, thread safety. More than four constraints routes the item to Claude.",
    )
    examples: list[Example] = Field(
        default_factory=list,
        description="Concrete call → expected pairs, including edge cases and at least one "
        "error case where the item can fail. Each becomes a parametrized acceptance test, "
        "generated by the tool at no cost: prefer examples to test code.",
    )
    example_setup: str = Field(
        default="",
        description="Python lines the generated example tests run first, only when the "
        "examples need names that are not builtins and not public names of the target module "
        "(those are imported automatically), e.g. `from datetime import date`. Usually empty.",
    )
    tests: AcceptanceTests | None = Field(
        default=None,
        description="Acceptance test code, only for behaviour examples cannot show because it "
        "needs setup: fixtures, fakes, injected clocks, sequences of calls. A code item needs "
        "examples or tests (or both).",
    )
    code: str | None = Field(
        default=None,
        description="The item's finished code, written in the plan when writing it is shorter "
        "than specifying it (routes the item `plan`: placed, tested and reviewed like any "
        "other). Empty otherwise.",
    )
    context: list[str] = Field(
        default_factory=list,
        description="What the implementer must see besides the target file: repository-relative "
        "files (`app/auth.py`) or symbols (`app/auth.py::login`). Keep it to what is needed.",
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="Ids of items that must be implemented first (their code is used or modified "
        "by this one). Dependencies form a DAG: no cycles.",
    )
    risk: RiskFlags = Field(default_factory=RiskFlags, description=RiskFlags.__doc__)
    route: Route | None = Field(
        default=None,
        description="Who implements the item: `local`, `claude`, or `plan` (the planner wrote "
        "its code in the spec). Set by the tool's routing; a person may change it (then set "
        "route_overridden).",
    )
    route_reason: str = Field(default="", description="Why the route was chosen. Set by the tool.")
    route_overridden: bool = Field(
        default=False,
        description="True when a person chose the route (`--route ITEM=...` or an edit); routing "
        "then keeps it.",
    )

    @property
    def is_code(self) -> bool:
        return self.kind in CODE_KINDS

    @property
    def target(self) -> str:
        """``file::symbol`` (or the file alone), the notation also used in ``context``."""
        return f"{self.file}::{self.symbol}" if self.symbol else self.file

    @property
    def runnable_examples(self) -> list[Example]:
        """Examples the tool turns into tests (Python targets only)."""
        if not self.file.endswith(".py"):
            return []
        return [e for e in self.examples if e.run]

    @property
    def has_tests(self) -> bool:
        """True when something judges the item: test code or examples turned into tests."""
        return self.tests is not None or bool(self.runnable_examples)

    @property
    def test_path(self) -> str | None:
        """Where the acceptance tests go: the explicit path, the default for Python, else None."""
        if not self.has_tests:
            return None
        if self.tests is not None and self.tests.path:
            return self.tests.path
        return default_test_path(self.id, self.file)

    def spec_size(self) -> int:
        """Estimated tokens the planner wrote to specify the item, its own code excluded
        (routing fields are the tool's and not counted)."""
        data = self.model_dump(mode="json", exclude={"code", "route", "route_reason",
                                                     "route_overridden"})
        return _tokens(json.dumps(data, ensure_ascii=False))

    def code_size(self) -> int:
        """Estimated tokens of the code the planner wrote in the plan (0 when none)."""
        return _tokens(self.code or "")


def default_test_path(item_id: str, file: str) -> str | None:
    """Where an item's tests go when the spec names no path: Python tests in their own folder;
    Go and JavaScript/TypeScript tests beside the target, where their runners look for them
    (a Go test must sit in its package's folder) under a name no project file is likely to
    have. None for languages hybrid has no runner for."""
    pure = PurePosixPath(file)
    suffix = pure.suffix.lower()
    if suffix == ".py":
        return f"{TEST_DIR}/test_{item_id.replace('-', '_')}.py"
    folder = "" if str(pure.parent) == "." else f"{pure.parent}/"
    if suffix == ".go":
        return f"{folder}hybrid_{item_id.replace('-', '_')}_test.go"
    if suffix in _JS_TEST_SUFFIXES:
        return f"{folder}{item_id}.hybrid.test{_JS_TEST_SUFFIXES[suffix]}"
    return None


# The test file's extension per target extension (a .d.ts-free .mts target gets .mts tests).
_JS_TEST_SUFFIXES = {".js": ".js", ".mjs": ".mjs", ".cjs": ".cjs", ".jsx": ".jsx",
                     ".ts": ".ts", ".mts": ".mts", ".cts": ".cts", ".tsx": ".tsx"}


class Spec(_Model):
    """A function-level plan: items that together implement one request."""

    spec_version: Literal[2] = Field(
        default=SPEC_VERSION, description="Format version of this document; currently 2 "
        "(version 1 files are read and migrated: their examples become run false)."
    )
    plan_id: str | None = Field(default=None, description="The plan this spec belongs to.")
    title: str = Field(min_length=1, description="Short name of the change.")
    summary: str = Field(default="", description="Two or three sentences on what changes and why.")
    items: list[SpecItem] = Field(
        default_factory=list, description="The work, one small item each, in a sensible order."
    )

    def item(self, item_id: str) -> SpecItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


# ------------------------------------------------------------------------------- issues

@dataclass(frozen=True)
class SpecIssue:
    """One problem, located by item (id, or 0-based ``index`` when the id is unusable) and field."""

    item_id: str | None
    field: str
    message: str
    severity: Severity = "error"
    index: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self, source: str = "spec.json") -> str:
        where = []
        if self.item_id is not None:
            where.append(f'item "{self.item_id}"')
        elif self.index is not None:
            where.append(f"item #{self.index + 1}")
        if self.field:
            where.append(f'field "{self.field}"')
        prefix = f"{source}: " + (" ".join(where) + ": " if where else "")
        suffix = " (warning)" if self.severity == "warning" else ""
        return prefix + self.message + suffix


def render_issues(issues: Iterable[SpecIssue], source: str = "spec.json") -> str:
    """A bullet list, for the repair prompt and for ``hybrid spec check``."""
    return "\n".join(f"- {issue.render(source)}" for issue in issues)


def raise_for_issues(issues: list[SpecIssue], source: str = "spec.json",
                     plan: str | None = None) -> None:
    """Raise :class:`SpecError` for the first error-severity issue; warnings pass."""
    errors = [i for i in issues if i.is_error]
    if not errors:
        return
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise SpecError(errors[0].render(source) + more, _fix_hint(source, plan))


def _fix_hint(source: str, plan: str | None) -> str:
    return f"fix {source} and run `hybrid spec check {plan or '<plan>'}`"


# ------------------------------------------------------------------------------- load / save

_PYDANTIC_MESSAGES = {
    "missing": "missing (required)",
    "extra_forbidden": "unknown field; check the spelling against docs/spec.md",
    "string_pattern_mismatch": "must be a short slug of lowercase letters, digits and hyphens, "
    "e.g. ratelimit-store",
}


def _issues_from_validation(exc: ValidationError, data: Any) -> list[SpecIssue]:
    items = data.get("items") if isinstance(data, dict) else None
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        item_id, index, rest = None, None, loc
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
            index, rest = loc[1], loc[2:]
            raw = items[index] if isinstance(items, list) and index < len(items) else None
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(raw_id, str) and re.fullmatch(ID_PATTERN, raw_id):
                item_id = raw_id
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
        message = _PYDANTIC_MESSAGES.get(err["type"], err["msg"])
        issues.append(SpecIssue(item_id, field, message, index=None if item_id else index))
    return issues


def spec_from_data(data: Any) -> tuple[Spec | None, list[SpecIssue]]:
    """Validate parsed JSON into a :class:`Spec`; on failure return every structural issue."""
    if isinstance(data, dict):
        version = data.get("spec_version", SPEC_VERSION)
        if version not in READABLE_VERSIONS:
            return None, [SpecIssue(None, "spec_version", f"is {version!r}; this version of "
                                    "hybrid reads spec_version "
                                    f"{', '.join(map(str, READABLE_VERSIONS))} (upgrade "
                                    "hybridcode or re-plan)")]
        data = _migrate(data)
    try:
        return Spec.model_validate(data), []
    except ValidationError as exc:
        return None, _issues_from_validation(exc, data)


def _tokens(text: str) -> int:
    from hybridcode.models.base import estimate_tokens

    return estimate_tokens(text) if text else 0


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older spec's data up to :data:`SPEC_VERSION` (a copy; the input is untouched).

    1 → 2: examples became tests. Version 1 examples were documentation (some are prose,
    such as "third login within 60 s"), so they are kept with ``run: false``; their items'
    ``tests.code`` still judge them.
    """
    version = data.get("spec_version", SPEC_VERSION)
    if version == SPEC_VERSION:
        return data
    data = json.loads(json.dumps(data))
    if version == 1:
        for item in data.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("examples"), list):
                for example in item["examples"]:
                    if isinstance(example, dict):
                        example.setdefault("run", False)
        data["spec_version"] = 2
    return data


def load_spec(path: Path) -> Spec:
    """Read and structurally validate a spec file. Errors name the item and field."""
    source = path.name
    plan = path.parent.name or None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(f"{path} does not exist", "run `hybrid plan` first, or check the "
                        "plan id with `hybrid status`") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {path}: {exc}", "check the file's permissions and "
                        "encoding (UTF-8)") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}", _fix_hint(source, plan)) from exc
    spec, issues = spec_from_data(data)
    if spec is None:
        if isinstance(data, dict) and isinstance(data.get("plan_id"), str):
            plan = data["plan_id"]
        raise_for_issues(issues, source, plan)
        raise SpecError(f"{source} is not a valid spec", _fix_hint(source, plan))
    return spec


def spec_to_json(spec: Spec) -> str:
    """Stable, pretty JSON: fields in model order, every field present, so a person sees all."""
    return json.dumps(spec.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def save_spec(spec: Spec, path: Path) -> None:
    """Write atomically (temp file + rename), so an interrupted save never leaves half a spec."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(spec_to_json(spec))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def spec_json_schema() -> dict[str, Any]:
    """The JSON schema of spec.json, as published in docs/spec.schema.json."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **Spec.model_json_schema()}


# ------------------------------------------------------------------------------- ordering

def _dependency_cycles(spec: Spec) -> list[list[str]]:
    """Each cycle once, as a path that returns to its start (``a → b → a``)."""
    deps = {item.id: [d for d in item.depends_on] for item in spec.items}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for item_id in deps:
        if item_id not in state:
            visit(item_id, [])
    return cycles


def topological_order(spec: Spec) -> list[SpecItem]:
    """Items with dependencies first; ties keep the spec's order, so the result is stable."""
    ids = {item.id for item in spec.items}
    for item in spec.items:
        unknown = [d for d in item.depends_on if d not in ids]
        if unknown:
            raise SpecError(f'item "{item.id}" depends on unknown item "{unknown[0]}"',
                            _fix_hint("spec.json", spec.plan_id))
    done: set[str] = set()
    order: list[SpecItem] = []
    pending = list(spec.items)
    while pending:
        ready = [i for i in pending if all(d in done for d in i.depends_on)]
        if not ready:
            cycle = _dependency_cycles(spec)[0]
            raise SpecError(f"dependency cycle: {' → '.join(cycle)}",
                            _fix_hint("spec.json", spec.plan_id))
        for item in ready:
            order.append(item)
            done.add(item.id)
        pending = [i for i in pending if i.id not in done]
    return order


# ------------------------------------------------------------------------------- validation

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
        from hybridcode.examples import example_problems

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

    def check_context(self, item: SpecItem) -> None:
        for n, entry in enumerate(item.context):
            path, _, symbol = entry.partition("::")
            field = f"context[{n}]"
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
        for cycle in _dependency_cycles(self.spec):
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
    return checker.issues


if __name__ == "__main__":  # python -m hybridcode.spec > docs/spec.schema.json
    print(json.dumps(spec_json_schema(), indent=2, ensure_ascii=False))
