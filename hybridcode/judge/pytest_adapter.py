"""The pytest adapter: expected tests from the file's syntax tree, outcomes from JUnit XML.

Why JUnit XML and not a plugin of ours: pytest writes it itself (no code of ours has to be
importable by the project's interpreter, which may be any virtual environment), the format is
the one CI systems already read, and vitest/jest/Go runners can write the same format for the
adapters that follow. ``junit_family=xunit1`` adds each test's file, which makes the match with
the expected tests exact. The report goes to a folder outside the worktree that is created for
the run and removed after it, so a file in the worktree cannot stand in for it.

What is *expected* is read with :mod:`ast` from the test file the tool wrote — module-level
``test*`` functions and ``test*`` methods of ``Test*`` classes, as pytest collects them by
default — never from a collection run, which code under test (or a conftest it planted) could
steer.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from hybridcode.judge.adapter import Invocation, Job, Parsed
from hybridcode.judge.config import interpreter_paths
from hybridcode.judge.junit import COLLECTION_FAILURE, read_junit
from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem
from hybridcode.judge.process import ProcessResult
from hybridcode.judge.pytest_output import trim_output

__all__ = ["PytestAdapter", "expected_tests"]

REPORT = "pytest-junit.xml"
# pytest's exit statuses: 2 interrupted (collection errors), 3 internal error, 4 usage error.
_CANNOT_RUN = {2, 3, 4}


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "fixture":
            return True
    return False


def expected_tests(source: str, file: str) -> list[ExpectedTest]:
    """The tests pytest's default collection finds in ``source`` (``file`` names it)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [ExpectedTest(file, "<module>")]  # cannot run: reported as "did not run"
    found: list[ExpectedTest] = []
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test") \
                and not _is_fixture(node):
            found.append(ExpectedTest(file, node.name))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            if any(isinstance(n, functions) and n.name == "__init__" for n in node.body):
                continue  # pytest does not collect classes with an __init__
            for member in node.body:
                if isinstance(member, functions) and member.name.startswith("test") \
                        and not _is_fixture(member):
                    found.append(ExpectedTest(file, member.name, node.name))
    return found


class PytestAdapter:
    name = "pytest"

    def handles(self, path: str) -> bool:
        return path.endswith(".py")

    def expected(self, worktree: Path, path: str) -> list[ExpectedTest]:
        source = (worktree / path).read_text(encoding="utf-8", errors="replace")
        return expected_tests(source, path)

    def invocation(self, job: Job) -> Invocation:
        root = str(job.worktree)
        config = job.config
        argv = [*config.pytest_prefix(), "-q", "-rfEs", "-p", "no:cacheprovider",
                f"--rootdir={root}", f"--confcutdir={root}",
                f"--junitxml={job.report_dir / REPORT}", "-o", "junit_family=xunit1",
                "-o", "junit_logging=no", "-o", "junit_log_passing_tests=false"]
        env = {"PYTHONDONTWRITEBYTECODE": "1"}  # no __pycache__ in the reviewed tree
        paths = [root] + ([str(job.worktree / "src")] if (job.worktree / "src").is_dir() else [])
        if config.isolated:
            ini = job.report_dir / "isolated.ini"
            ini.write_text("[pytest]\n", encoding="utf-8")
            argv += ["-c", str(ini)]
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        elif os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return Invocation(argv + list(job.paths), env, interpreter_paths(argv[0]))

    def parse(self, job: Job, process: ProcessResult) -> Parsed | CouldNotRun:
        output = process.output
        outcomes = read_junit(job.report_dir / REPORT)
        program = job.config.pytest_prefix()[0]
        if outcomes is None:
            if "No module named pytest" in output:
                return CouldNotRun(f"pytest is not installed for {program} (install it there, "
                                   "or set [checks] python to an interpreter that has it)")
            if process.returncode in _CANNOT_RUN or process.returncode == 127 \
                    or "execvp" in output:
                last = _last_line(output) or f"exit status {process.returncode}"
                return CouldNotRun(f"pytest did not start with {program}: {last}")
            status = process.returncode
            how = f"exit status {status}" if status is not None and status >= 0 else \
                f"signal {-status}" if status is not None else "no exit status"
            return Parsed([], [Problem(", ".join(job.paths), (
                f"the test process ended before pytest wrote its report ({how}): the code "
                "under test ended it (os._exit, a signal or a crash)"))])
        broken = [o for o in outcomes if o.status == "error"
                  and o.message.startswith(COLLECTION_FAILURE)]
        if broken and process.returncode in _CANNOT_RUN:
            first = broken[0]
            detail = first.message[len(COLLECTION_FAILURE):].lstrip(": ") or "see the output"
            return CouldNotRun(f"{first.file or first.name} could not be collected: {detail}")
        return Parsed(outcomes)

    def trim(self, output: str) -> str:
        return trim_output(output)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
