"""Bench suites: a folder of tasks, each a one-item spec plus tests the models never see.

A task is a directory holding::

    task.toml            id, category, title, file, symbol, signature, request, requirements,
                         examples (what the spec item says)
    files/               the starting repository (a tiny package)
    acceptance_test.py   the spec's acceptance tests: the implementer sees and runs these
    hidden_test.py       the scoring tests: never sent to a model, never placed in the worktree
    reference.py         optional: a correct answer (the code a model would return), used only
                         by the suite's self-check to prove the hidden tests are right

A Go or TypeScript task names its target with that extension (``file = "text/slug.go"``) and
its three files take the target's extension (``acceptance_test.go``, ``hidden_test.go``,
``reference.go``; ``acceptance_test.ts`` …). Their tests sit beside the target when run, in
its package, and import it as a neighbour (``import { slugify } from "./slug"``). A TypeScript
task's ``files/`` has a ``package.json`` naming vitest; the runners come from a
``node_modules`` found where the bench runs (see :func:`hybridcode.bench.runner.node_modules_for`).

A task may declare its ``kind`` (default ``function``): ``test`` tasks name ``under_test`` and
have the model write the test file ``file`` (``reference.py`` is a good test file; the score is
the mutation judge's: mutants of the code under test killed, at the task's ``mutation_score``);
``doc`` tasks name the symbols to ``document`` (``reference.py`` is the documented file; the
score is the doc judge's); look-alike tasks are code tasks with a ``like`` pattern. Test and doc
tasks have no acceptance or hidden tests: their judges are the scoring.

``docs/bench.md`` describes the format for people adding tasks.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hybridcode.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TASK_FILE = "task.toml"
FILES_DIR = "files"
ACCEPTANCE = "acceptance_test.py"
HIDDEN = "hidden_test.py"
REFERENCE = "reference.py"
_REQUIRED = ("id", "category", "title", "file", "symbol", "signature", "request")
_REQUIRED_BY_KIND = {"test": ("id", "category", "title", "file", "under_test", "request"),
                     "doc": ("id", "category", "title", "file", "document", "request")}
KINDS = ("function", "method", "class", "module", "test", "doc")
# Kinds judged by their own judge (mutation, docstrings), not by acceptance and hidden tests.
JUDGED_KINDS = ("test", "doc")
_EXTS = (".py", ".go", ".ts", ".js", ".mjs", ".mts", ".tsx")


def _ext(file: str) -> str:
    return PurePosixPath(file).suffix.lower()


@dataclass(frozen=True)
class BenchTask:
    id: str
    category: str
    title: str
    file: str
    symbol: str
    signature: str
    request: str
    directory: Path
    requirements: tuple[str, ...] = ()
    examples: tuple[dict[str, str], ...] = ()
    constraints: tuple[str, ...] = ()
    kind: str = "function"
    under_test: str = ""
    mutation_score: float | None = None
    document: tuple[str, ...] = ()
    doc_style: str | None = None
    like: str = ""

    @property
    def judged(self) -> bool:
        """A test or doc task: scored by its kind's judge, with no hidden tests."""
        return self.kind in JUDGED_KINDS

    @property
    def files_dir(self) -> Path:
        return self.directory / FILES_DIR

    @property
    def ext(self) -> str:
        """The target's extension, which the task's test and reference files share."""
        return _ext(self.file)

    @property
    def language(self) -> str:
        return {".py": "python", ".go": "go"}.get(self.ext, "typescript")

    @property
    def acceptance_path(self) -> Path:
        return self.directory / f"acceptance_test{self.ext}"

    @property
    def hidden_path(self) -> Path:
        return self.directory / f"hidden_test{self.ext}"

    @property
    def reference_path(self) -> Path | None:
        path = self.directory / f"reference{self.ext}"
        return path if path.is_file() else None

    def hidden_name(self) -> str:
        """Where the hidden tests are written when scoring: for Go and TypeScript beside the
        target (its package), for Python at the top of the tree."""
        if self.ext == ".py":
            return "test_bench_hidden.py"
        folder = str(PurePosixPath(self.file).parent)
        prefix = "" if folder == "." else folder + "/"
        return prefix + ("bench_hidden_test.go" if self.ext == ".go"
                         else f"bench-hidden.test{self.ext}")

    def acceptance_code(self) -> str:
        return self.acceptance_path.read_text(encoding="utf-8")


def default_suite_path() -> Path:
    """``fixtures/bench`` next to the package (a source checkout or an editable install)."""
    from hybridcode.resources import fixtures_dir

    return fixtures_dir() / "bench"


def load_suite(path: Path | None = None, only: list[str] | None = None) -> list[BenchTask]:
    """Every task under ``path`` (sorted by id), or just the ids in ``only``."""
    suite = path if path is not None else default_suite_path()
    if not suite.is_dir():
        raise UsageError(f"bench suite {suite} is not a directory",
                         "pass --suite PATH to a folder of tasks (see docs/bench.md)")
    tasks = [load_task(d) for d in sorted(suite.iterdir()) if (d / TASK_FILE).is_file()]
    if not tasks:
        raise UsageError(f"bench suite {suite} has no tasks (no */{TASK_FILE})",
                         "each task is a folder with task.toml, files/, acceptance_test.py "
                         "and hidden_test.py — see docs/bench.md")
    if only:
        known = {t.id: t for t in tasks}
        missing = [i for i in only if i not in known]
        if missing:
            raise UsageError(f"no bench task {missing[0]!r} in {suite}",
                             f"tasks: {', '.join(sorted(known))}")
        tasks = [known[i] for i in dict.fromkeys(only)]
    return tasks


def load_task(directory: Path) -> BenchTask:
    """Read and check one task folder; problems name the folder and the field."""
    where = directory / TASK_FILE
    try:
        data: dict[str, Any] = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read bench task {where}: {exc}",
                         "fix the file (see docs/bench.md for the format)") from exc
    kind = str(data.get("kind", "function"))
    if kind not in KINDS:
        raise UsageError(f"bench task {where}: kind {kind!r} is not one of {', '.join(KINDS)}",
                         "set kind to the spec item kind the task exercises")
    missing = [k for k in _REQUIRED_BY_KIND.get(kind, _REQUIRED)
               if not str(data.get(k, "")).strip()]
    if missing:
        raise UsageError(f"bench task {where} lacks {', '.join(missing)}",
                         "add the field(s); docs/bench.md lists them")
    if data["id"] != directory.name:
        raise UsageError(f"bench task {where}: id {data['id']!r} differs from its folder name",
                         f"rename the folder or set id = {directory.name!r}")
    ext = _ext(str(data["file"]))
    if ext not in _EXTS:
        raise UsageError(f"bench task {where}: file {data['file']!r} is not a Python, Go or "
                         "TypeScript/JavaScript file", "the bench runs those languages only")
    for name in (() if kind in JUDGED_KINDS else (f"acceptance_test{ext}",
                                                   f"hidden_test{ext}")):
        if not (directory / name).is_file():
            raise UsageError(f"bench task {directory.name} has no {name}",
                             "every task needs acceptance and hidden tests")
    if not (directory / FILES_DIR).is_dir():
        raise UsageError(f"bench task {directory.name} has no {FILES_DIR}/ folder",
                         "put the starting package there")
    try:
        if ext == ".py" and kind in ("function", "method"):
            ast.parse(f"{data['signature']}:\n    pass\n")
    except SyntaxError as exc:
        raise UsageError(f"bench task {directory.name}: signature is not valid Python: {exc.msg}",
                         "write it as it appears in code, e.g. `def f(x: int) -> str`") from exc
    return BenchTask(
        id=data["id"], category=data["category"], title=data["title"], file=data["file"],
        symbol=data.get("symbol", ""), signature=data.get("signature", ""),
        request=data["request"].strip(),
        directory=directory,
        requirements=tuple(data.get("requirements", ())),
        examples=tuple(data.get("examples", ())),
        constraints=tuple(data.get("constraints", ())),
        kind=kind, under_test=str(data.get("under_test", "")),
        mutation_score=data.get("mutation_score"),
        document=tuple(data.get("document", ())), doc_style=data.get("doc_style"),
        like=str(data.get("like", "")),
    )


def task_spec(task: BenchTask, route: str | None = None) -> Any:
    """The one-item :class:`~hybridcode.spec.Spec` the implementer gets: the request, the
    signature and the acceptance tests — never the hidden tests or the reference."""
    from hybridcode.spec import AcceptanceTests, Example, Spec, SpecItem

    routing = {"route": route, "route_reason": "bench mode" if route else "",
               "route_overridden": route is not None}
    if task.kind == "test":
        item = SpecItem(id=task.id, title=task.title, kind="test", category=task.category,  # type: ignore[arg-type]
                        file=task.file, action="create", description=task.request,
                        requirements=list(task.requirements), under_test=task.under_test,
                        mutation_score=task.mutation_score, **routing)  # type: ignore[arg-type]
    elif task.kind == "doc":
        item = SpecItem(id=task.id, title=task.title, kind="doc", category=task.category,  # type: ignore[arg-type]
                        file=task.file, action="modify", description=task.request,
                        requirements=list(task.requirements), document=list(task.document),
                        doc_style=task.doc_style, **routing)  # type: ignore[arg-type]
    if task.judged:
        return Spec(title=f"bench: {task.title}", summary=task.request.splitlines()[0],
                    items=[item])
    item = SpecItem(
        id=task.id, title=task.title, kind=task.kind, category=task.category,  # type: ignore[arg-type]
        file=task.file, symbol=task.symbol, action="create", signature=task.signature,
        description=task.request, requirements=list(task.requirements),
        constraints=list(task.constraints),
        examples=[Example(**e) for e in task.examples],
        tests=AcceptanceTests(code=task.acceptance_code()), like=task.like or None,
        route=route,  # type: ignore[arg-type]
        route_reason="bench mode" if route else "",
        route_overridden=route is not None,
    )
    return Spec(title=f"bench: {task.title}", summary=task.request.splitlines()[0], items=[item])


@dataclass
class TaskCheck:
    """What the self-check found for one task: empty ``problems`` means the task is sound."""

    task_id: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
