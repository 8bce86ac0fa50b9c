"""The spec's shape: :class:`Spec`, :class:`SpecItem` and their parts, with the field
descriptions the planner reads (they are sent to it inside the JSON schema, and
``docs/spec.schema.json`` is generated from them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = 2
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
DocStyle = Literal["google", "numpy", "pep257"]
# What an item's code may reach for beyond plain computation (hybridcode/judge/reach.py).
Capability = Literal["process", "files", "network", "native", "test-framework", "runtime"]

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
        f"tool writes Python tests to `{TEST_DIR}/test_hybrid_<id>.py`, Go tests next to the "
        "target as `hybrid_<id>_test.go`, JavaScript/TypeScript tests next to the target as "
        "`<id>.hybrid.test.<ext>` (hyphens become underscores in Python and Go names).",
    )
    runner: TestRunner | None = Field(
        default=None,
        description="The runner that judges these tests: pytest, go (`go test`), vitest, jest "
        "or node (`node --test`). Set by the tool from the repository (package.json, go.mod) "
        "when the plan is made; empty means detect it when the item is verified.",
    )


class ItemSizing(_Model):
    """The planner's estimate of an item, made before it writes the item: what routing weighs
    to decide whether delegating it pays (docs/routing.md)."""

    code_tokens: int = Field(
        ge=0, description="Tokens of the code and tests the implementer would write for the "
        "item (the item's code when it is written in the plan).")
    spec_tokens: int = Field(
        ge=0, description="Tokens of the spec the item needs for someone else to write it "
        "(what the planner writes when it delegates the item).")


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
        "`class`, `module` (a whole new file), `test` (a test file for the code named in "
        "`under_test`, judged by the mutants its tests kill), `doc` (docstrings for the "
        "symbols named in `document`, judged by the code staying identical), `config` (a "
        "configuration file).",
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
    under_test: str | None = Field(
        default=None,
        description="For a `test` item: the code the test file exercises, `file::symbol` "
        "(e.g. `scheduling/durations.py::parse_duration`) or a file; it exists or is created "
        "by an item in depends_on. `file` is then the test file to write (e.g. "
        "`tests/test_durations.py`) and `requirements` the behaviours to cover, one line "
        "each; no examples or tests.code are needed: the tests must pass and kill mutants of "
        "this code.",
    )
    mutation_score: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="For a `test` item: the share of mutants of `under_test` its tests must "
        "kill (0 to 1). Empty: the project's [checks] mutation_score (default 0.7).",
    )
    document: list[str] = Field(
        default_factory=list,
        description="For a `doc` item: the qualified names in `file` that must carry a "
        "docstring after the change (`parse_duration`, `RateLimiter.check`). The code itself "
        "must stay identical.",
    )
    doc_style: DocStyle | None = Field(
        default=None,
        description="For a `doc` item: the docstring convention, google, numpy or pep257. "
        "Empty: the project's (from [checks] docstring_convention or its ruff/pydocstyle "
        "settings), else pep257.",
    )
    like: str | None = Field(
        default=None,
        description="A pattern in the repository this item follows, `file::symbol` (e.g. "
        "`app/customers.py::CustomerRepo`): the implementer sees its source, so `description` "
        "says only what differs (\"for invoices; `number` is unique; no delete\"). Judged by "
        "its examples and tests like any code item.",
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="Ids of items that must be implemented first (their code is used or modified "
        "by this one). Dependencies form a DAG: no cycles.",
    )
    allow: list[Capability] = Field(
        default_factory=list,
        description="Capabilities the item's code needs and would otherwise be refused: "
        "`process` (exit, signals, subprocesses), `files` (writing files), `network`, `native` "
        "(ctypes, unsafe, syscall), `test-framework`, `runtime` (sys.modules, builtins). "
        "Usually empty: routine code needs none.",
    )
    risk: RiskFlags = Field(default_factory=RiskFlags, description=RiskFlags.__doc__)
    sizing: ItemSizing | None = Field(default=None, description=ItemSizing.__doc__)
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
    def doc_symbols(self) -> list[str]:
        """What a doc item must document: ``document``, else its ``symbol``."""
        return list(self.document) or ([self.symbol] if self.symbol else [])

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
        # Fields at their defaults are not written (the tool fills them in), nor is the
        # sizing, which is routing's; the kind fields count only on the items that use them.
        data = self.model_dump(mode="json", exclude_defaults=True,
                               exclude={"code", "route", "route_reason", "route_overridden",
                                        "sizing"})
        return tokens(json.dumps(data, ensure_ascii=False))

    def code_size(self) -> int:
        """Estimated tokens of the code the planner wrote in the plan (0 when none)."""
        return tokens(self.code or "")


def default_test_path(item_id: str, file: str) -> str | None:
    """Where an item's tests go when the spec names no path: Python tests in their own folder;
    Go and JavaScript/TypeScript tests beside the target, where their runners look for them
    (a Go test must sit in its package's folder). Every name says ``hybrid``, so no project
    file has it: pytest cannot collect two test modules of one basename in one run, and a
    project's ``tests/test_users.py`` or a test item's file must not clash with an item's
    acceptance tests. None for languages hybrid has no runner for."""
    pure = PurePosixPath(file)
    suffix = pure.suffix.lower()
    if suffix == ".py":
        return f"{TEST_DIR}/test_hybrid_{item_id.replace('-', '_')}.py"
    folder = "" if str(pure.parent) == "." else f"{pure.parent}/"
    if suffix == ".go":
        return f"{folder}hybrid_{item_id.replace('-', '_')}_test.go"
    if suffix in _JS_TEST_SUFFIXES:
        return f"{folder}{item_id}.hybrid.test{_JS_TEST_SUFFIXES[suffix]}"
    return None


# The test file's extension per target extension (a .d.ts-free .mts target gets .mts tests).
_JS_TEST_SUFFIXES = {".js": ".js", ".mjs": ".mjs", ".cjs": ".cjs", ".jsx": ".jsx",
                     ".ts": ".ts", ".mts": ".mts", ".cts": ".cts", ".tsx": ".tsx"}


# Fields of test, doc and look-alike items: absent from other items' size.
_KIND_FIELDS = ("under_test", "mutation_score", "document", "doc_style", "like")


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


def tokens(text: str) -> int:
    """Estimated tokens of ``text`` (0 for none), the estimate the ledger and routing use."""
    from hybridcode.models.base import estimate_tokens

    return estimate_tokens(text) if text else 0
