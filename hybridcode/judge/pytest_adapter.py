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
import re
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
                return CouldNotRun(f"pytest is not installed for {program}",
                                   f"install it there ({program} -m pip install pytest), or "
                                   "set [checks] python to an interpreter that has it")
            if process.returncode in _CANNOT_RUN or process.returncode == 127 \
                    or "execvp" in output or _startup_import_error(output):
                last = _last_line(output) or f"exit status {process.returncode}"
                culprit, fix = _import_cause(job, output)
                return CouldNotRun(f"pytest did not start with {program}: {last}", fix,
                                   culprit)
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
            culprit, fix = _import_cause(job, output)
            return CouldNotRun(f"{first.file or first.name} could not be collected: {detail}",
                               fix, culprit)
        return Parsed(outcomes)

    def trim(self, output: str) -> str:
        return trim_output(output)


# A frame of pytest's short traceback ("src/pkg/__init__.py:3: in <module>") and the error
# line that ends it ("E   ModuleNotFoundError: No module named 'pkg._version'").
_FRAME = re.compile(r"^(\S[^\n]*?\.py):\d+: in ", re.MULTILINE)
_MISSING = re.compile(r"No module named '([\w.]+)'")
_NAME_MISSING = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_IMPORT_ERROR = re.compile(r"^(?:E\s+)?(?:ModuleNotFoundError|ImportError)\b", re.MULTILINE)


def _startup_import_error(output: str) -> bool:
    """pytest (or a plugin it loads) failed to import before any test ran: no report, a
    traceback ending in an import error, and no test-session output."""
    tail = [ln for ln in output.strip().splitlines() if ln.strip()][-3:]
    return any(_IMPORT_ERROR.match(ln.strip()) for ln in tail) and \
        not re.search(r"\b\d+ (?:passed|failed|errors?)\b", output)


def _import_cause(job: Job, output: str) -> tuple[str, str]:
    """(culprit, fix): the last worktree file in the traceback of the load that failed, and
    what makes the tests runnable."""
    root = job.worktree.resolve()
    culprit = ""
    for found in _FRAME.finditer(output):
        path = Path(found.group(1))
        full = (path if path.is_absolute() else root / path).resolve()
        if full.is_relative_to(root) and full.is_file():
            culprit = full.relative_to(root).as_posix()
    name_missing = _NAME_MISSING.search(output)
    if name_missing:
        # The test imports a name the module does not define: the module is to blame (a
        # model's answer that named its function differently), not the test that imports it.
        owner = _module_file(root, name_missing.group(2))
        if owner:
            culprit = owner
    program = job.config.pytest_prefix()[0]
    where = ("set [checks] python to the interpreter that has them, or install them into "
             f"{program}")
    missing = _MISSING.search(output)
    if missing:
        module = missing.group(1)
        absent = _absent_project_file(root, module)
        if absent and _git_ignores(root, absent):
            return culprit, (f"{absent} does not exist: git ignores it, and the project's build "
                             "generates it (a hatch-vcs/setuptools-scm version file, say) when "
                             "the project is installed — run pip install -e . in the repository")
        if absent and culprit:
            return culprit, f"{culprit} imports {absent}, which does not exist in the checkout"
        if absent:
            return culprit, (f"{module} is not in this checkout, so {program} found the "
                             "package's name elsewhere (another installed copy, or a plugin "
                             "of one): run the tests with the project's own environment — "
                             "set [checks] python, or create the repository's .venv")
        return culprit, (f"{module.split('.')[0]} is not installed for {program}: install the "
                         f"project's test dependencies (e.g. {program} -m pip install -e "
                         f"'.[test]', or its requirements file), or {where.split(', or ')[0]}")
    if "Missing required plugins" in output or "unrecognized arguments" in output \
            or "Error importing plugin" in output:
        return culprit, f"install the pytest plugins the project's configuration uses; {where}"
    return culprit, ""


def _module_file(root: Path, module: str) -> str:
    """The worktree file of ``module`` (``pkg.calc`` → ``src/pkg/calc.py``), or ""."""
    parts = module.split(".")
    for base in (root, root / "src"):
        for candidate in (base.joinpath(*parts).with_suffix(".py"),
                          base.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate.relative_to(root).as_posix()
    return ""


def _absent_project_file(root: Path, module: str) -> str:
    """``src/pkg/_version.py`` when ``module`` names a module of a package the worktree holds
    but whose file is absent (a file the build generates); "" otherwise."""
    parts = module.split(".")
    if len(parts) < 2:
        return ""
    for base in (root, root / "src"):
        package = base.joinpath(*parts[:-1])
        if (package / "__init__.py").is_file():
            return (package / f"{parts[-1]}.py").relative_to(root).as_posix()
    return ""


def _git_ignores(root: Path, path: str) -> bool:
    import subprocess

    try:
        done = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=root,
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _last_line(text: str) -> str:
    """The line that says what went wrong: the last error line, else the last line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E ") or "error:" in ln.lower()]
    return (errors or lines or [""])[-1][:300]
