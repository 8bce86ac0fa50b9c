"""Whole-file exercise tasks: a stub to modify, tests that come whole from upstream.

Public benchmarks (Aider's polyglot benchmark, built from Exercism exercises) hand a model a
stub file and instructions, and score the whole file it returns with the exercise's own tests.
Such a task is a folder::

    task.toml     id, kind = "module", action = "modify", language, title, file (the stub's
                  path), request (the exercise's instructions), [source] (where it came from),
                  notes (what the importer changed, e.g. tests enabled)
    files/        the exercise as a student gets it: the stub and what it needs to build
                  (go.mod, package.json, babel.config.js, LICENSE …)
    hidden/       the exercise's tests, at their paths in the exercise; never shown to a model
    reference.*   the exercise's example solution (a whole file), used only by the self-check

Tests run through the judge like every other test in hybrid (the sandbox, per-test accounting),
with the exercise's own runner: pytest for Python (which runs its unittest classes), ``go test``
for Go, and the ``package.json``'s runner (jest for Exercism's JavaScript track) for JavaScript.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hybridcode.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ExerciseTask", "ExerciseRun", "is_exercise_suite", "load_exercises",
           "score_exercise", "check_exercises"]

TASK_FILE = "task.toml"
LANGUAGES = {".py": "python", ".go": "go", ".js": "javascript", ".mjs": "javascript"}
_SKIP = shutil.ignore_patterns(".git", ".hybrid", "__pycache__", ".pytest_cache", "node_modules")
# Aider's harness sends the first 50 lines of the test output back with the second try.
FEEDBACK_LINES = 50


@dataclass(frozen=True)
class ExerciseTask:
    id: str
    language: str
    title: str
    file: str  # the stub the model modifies, relative to the exercise folder
    request: str
    directory: Path
    tests: tuple[str, ...]  # paths under hidden/
    source: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def files_dir(self) -> Path:
        return self.directory / "files"

    @property
    def hidden_dir(self) -> Path:
        return self.directory / "hidden"

    @property
    def reference_path(self) -> Path | None:
        found = sorted(self.directory.glob("reference.*"))
        return found[0] if found else None

    def stub(self) -> str:
        return (self.files_dir / self.file).read_text(encoding="utf-8")


def is_exercise_suite(path: Path) -> bool:
    """True when the suite's tasks are whole-file exercises (``kind = "module"``)."""
    for task in sorted(Path(path).glob(f"*/{TASK_FILE}")):
        try:
            return tomllib.loads(task.read_text(encoding="utf-8")).get("kind") == "module"
        except (OSError, tomllib.TOMLDecodeError):
            return False
    return False


def load_exercises(suite: Path, only: list[str] | None = None,
                   languages: list[str] | None = None) -> list[ExerciseTask]:
    """Every exercise task of ``suite`` (sorted by id), or the ids in ``only``."""
    if not Path(suite).is_dir():
        raise UsageError(f"bench suite {suite} is not a directory",
                         "pass --suite PATH to a folder made by `hybrid bench import-polyglot`")
    tasks = [load_exercise(d) for d in sorted(Path(suite).iterdir())
             if (d / TASK_FILE).is_file()]
    if not tasks:
        raise UsageError(f"bench suite {suite} has no tasks (no */{TASK_FILE})",
                         "make one with `hybrid bench import-polyglot CHECKOUT --out SUITE`")
    if languages:
        tasks = [t for t in tasks if t.language in languages]
    if only:
        known = {t.id: t for t in tasks}
        missing = [i for i in only if i not in known]
        if missing:
            raise UsageError(f"no exercise {missing[0]!r} in {suite}",
                             "task ids are <language>-<exercise>, e.g. python-bowling")
        tasks = [known[i] for i in dict.fromkeys(only)]
    return tasks


def load_exercise(directory: Path) -> ExerciseTask:
    where = directory / TASK_FILE
    try:
        data: dict[str, Any] = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read exercise task {where}: {exc}",
                         "re-import the suite with `hybrid bench import-polyglot`") from exc
    if data.get("kind") != "module":
        raise UsageError(f"{where} is a function-level task, not a whole-file exercise",
                         "run it without --protocol (plain `hybrid bench --suite …`)")
    missing = [k for k in ("id", "language", "title", "file", "request")
               if not str(data.get(k, "")).strip()]
    if missing:
        raise UsageError(f"exercise task {where} lacks {', '.join(missing)}",
                         "re-import the suite with `hybrid bench import-polyglot`")
    hidden = directory / "hidden"
    tests = tuple(sorted(p.relative_to(hidden).as_posix() for p in hidden.rglob("*")
                         if p.is_file())) if hidden.is_dir() else ()
    if not tests:
        raise UsageError(f"exercise task {directory.name} has no tests under hidden/",
                         "re-import the suite with `hybrid bench import-polyglot`")
    if not (directory / "files" / data["file"]).is_file():
        raise UsageError(f"exercise task {directory.name} has no stub files/{data['file']}",
                         "re-import the suite with `hybrid bench import-polyglot`")
    return ExerciseTask(id=data["id"], language=data["language"], title=data["title"],
                        file=data["file"], request=data["request"].strip(),
                        directory=directory, tests=tests,
                        source={k: str(v) for k, v in dict(data.get("source", {})).items()},
                        notes=tuple(data.get("notes", ())))


# ------------------------------------------------------------------ running the tests

@dataclass
class ExerciseRun:
    """One run of an exercise's tests: counts per test, and the output a model may be shown."""

    passed: int
    total: int
    output: str
    timed_out: bool = False
    could_not_run: str | None = None  # the tests could not start (toolchain, dependencies)

    @property
    def ok(self) -> bool:
        return (self.total > 0 and self.passed == self.total and not self.timed_out
                and self.could_not_run is None)

    def feedback(self) -> str:
        """The first lines of the output, as Aider's harness sends them with a second try."""
        return "\n".join(self.output.splitlines()[:FEEDBACK_LINES])


def node_modules_for(task: ExerciseTask) -> Path | None:
    """The ``node_modules`` a JavaScript exercise runs with: the suite's own (``npm install``
    in the suite folder, see docs/bench.md), else one at or above the current folder, the
    lookup node itself does."""
    from hybridcode.judge.detect import tool_bin

    for start in (task.directory, Path.cwd()):
        found = tool_bin(start, "jest")
        if found is not None:
            return found.parent.parent.resolve()  # a link of a link is not bound whole
    return None


def prepare_tree(task: ExerciseTask, tree: Path, code: str | None = None) -> list[str]:
    """Fill ``tree`` with the exercise's files, ``code`` as the stub's new content (None keeps
    the stub), and its hidden tests; the test paths to run."""
    shutil.copytree(task.files_dir, tree, ignore=_SKIP, dirs_exist_ok=True)
    if code is not None:
        (tree / task.file).write_text(code, encoding="utf-8")
    for rel in task.tests:
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(task.hidden_dir / rel, target)
    if task.language == "javascript":
        modules = node_modules_for(task)
        link = tree / "node_modules"
        if modules is not None and not link.exists():
            link.symlink_to(modules, target_is_directory=True)
    return [rel for rel in task.tests if _is_test(task.language, rel)]


def _is_test(language: str, rel: str) -> bool:
    """Which of the hidden files the runner is pointed at (the rest — Go's cases_test.go,
    Python's test_utils.py — are support files the tests import)."""
    name = PurePosixPath(rel).name
    if language == "go":
        return name.endswith("_test.go")
    if language == "python":
        return name.endswith("_test.py")
    return ".spec." in name or ".test." in name


def run_exercise_tests(task: ExerciseTask, tree: Path, tests: list[str],
                       timeout_s: float) -> ExerciseRun:
    """The exercise's tests in ``tree``, through the judge, counted test by test."""
    from hybridcode.judge import JudgeConfig, run_tests

    if task.language == "javascript" and not (tree / "node_modules").exists():
        return ExerciseRun(0, 0, "", could_not_run=(
            "no node_modules with jest for the JavaScript exercises — run `npm install` in the "
            "suite folder (docs/bench.md)"))
    run = run_tests(tree, tests, JudgeConfig(timeout_s=timeout_s, isolated=True))
    total = max(len(run.expected), len(run.outcomes))
    passed = sum(1 for o in run.outcomes if o.status == "passed")
    if run.could_not_run:
        return ExerciseRun(0, total, run.feedback(), could_not_run=run.summary)
    if not run.ok:  # a test that did not run, or ended the process, is not a pass
        passed = min(passed, total - 1) if total else 0
    output = run.summary if run.ok else run.feedback()
    return ExerciseRun(passed, total, output, run.timed_out)


def score_exercise(task: ExerciseTask, code: str | None, timeout_s: float = 120.0
                   ) -> ExerciseRun:
    """``code`` as the stub's content (None: the stub itself), scored on the hidden tests in
    a scratch folder that nothing else sees."""
    with tempfile.TemporaryDirectory(prefix=f"hybrid-exercise-{task.id}-") as tmp:
        tree = Path(tmp) / task.id
        tests = prepare_tree(task, tree, code)
        return run_exercise_tests(task, tree, tests, timeout_s)


# ------------------------------------------------------------------ the self-check

@dataclass
class ExerciseCheck:
    """What the self-check found: the reference must pass and the stub must fail; an exercise
    for which either is not so is listed with the reason, never silently counted."""

    task_id: str
    language: str
    reference: ExerciseRun | None = None
    stub: ExerciseRun | None = None
    exception: str | None = None  # why the task cannot be scored here (listed in reports)

    @property
    def ok(self) -> bool:
        return self.exception is None


_NEWER_GO = ("requires go >=", "undefined: min", "undefined: max", "undefined: clear",
             'package slices is not in', 'package maps is not in', "package cmp is not in",
             "cannot range over")


def check_exercises(tasks: list[ExerciseTask], timeout_s: float = 120.0,
                    on_checked: Any = None) -> list[ExerciseCheck]:
    """Run every task's reference and stub through its tests; classify the exceptions."""
    checks = []
    for task in tasks:
        check = ExerciseCheck(task.id, task.language)
        reference = task.reference_path
        if reference is None:
            check.exception = "no reference solution"
        else:
            check.reference = score_exercise(task, reference.read_text(encoding="utf-8"),
                                             timeout_s)
            check.stub = score_exercise(task, None, timeout_s)
            check.exception = _exception(task, check.reference, check.stub)
        checks.append(check)
        if on_checked is not None:
            on_checked(check)
    return checks


def _exception(task: ExerciseTask, reference: ExerciseRun, stub: ExerciseRun) -> str | None:
    if reference.could_not_run:
        return f"tests could not run here: {reference.could_not_run}"
    if not reference.ok and reference.total == 0:
        return ("its tests declare no test to run (an exercise where the student writes the "
                "tests): nothing to score")
    if not reference.ok:
        text = reference.output
        if task.language == "go" and any(marker in text for marker in _NEWER_GO):
            return (f"the reference needs a newer Go than this machine's "
                    f"(go {_go_version() or 'of unknown version'}): " + _first_line(text))
        return (f"the reference fails its own tests here ({reference.passed}/"
                f"{reference.total}): " + _first_line(text))
    if stub.ok:
        return ("the stub already passes the tests (a refactoring exercise): nothing to "
                "measure")
    return None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return "no output"


def _go_version() -> str | None:
    import re
    import subprocess

    go = shutil.which("go")
    if go is None:
        return None
    proc = subprocess.run([go, "version"], capture_output=True, text=True, check=False)
    found = re.search(r"go(\d+\.\d+(?:\.\d+)?)", proc.stdout)
    return found.group(1) if found else None
