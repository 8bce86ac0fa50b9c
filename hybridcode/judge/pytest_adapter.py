"""The pytest adapter: expected tests from the file's syntax tree, outcomes from the judge's
own plugin over its signed channel.

pytest's own reports are written by the process that runs the code under test (the JUnit path
is in ``sys.argv``), so none is read: the plugin ``agents/hybrid_judge_pytest.py`` (loaded with
``-p`` before conftest files and test modules, standard library only, so any project
interpreter can load it) signs one record per test and an end-of-run record
(:mod:`hybridcode.judge.channel`). A run without a whole, signed record set — the process ended
early (``os._exit``, a signal), something else wrote to the channel, the exit status disagrees
with the record, the test framework was patched while the tests ran — is "could not judge",
a failure with its reason.

What is *expected* is read with :mod:`ast` from the test file the tool wrote — module-level
``test*`` functions, ``test*`` methods of ``Test*`` classes and of every ``unittest.TestCase``
subclass, as pytest collects them — never from a collection run, which code under test (or a
conftest it planted) could steer.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from hybridcode.judge.adapter import Invocation, Job, Parsed
from hybridcode.judge.config import interpreter_paths
from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem, TestOutcome
from hybridcode.judge.process import ProcessResult
from hybridcode.judge.pytest_output import trim_output

__all__ = ["PytestAdapter", "expected_tests"]

AGENTS = Path(__file__).resolve().parent / "agents"
AGENT = "hybrid_judge_pytest"
# pytest's exit statuses: 2 interrupted (collection errors), 3 internal error, 4 usage error.
_CANNOT_RUN = {2, 3, 4}


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "fixture":
            return True
    return False


_UNITTEST_BASES = frozenset({"TestCase", "IsolatedAsyncioTestCase", "AsyncTestCase",
                             "SimpleTestCase", "TransactionTestCase"})


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(target, ast.Attribute):
            names.append(target.attr)
        elif isinstance(target, ast.Name):
            names.append(target.id)
    return names


def expected_tests(source: str, file: str) -> list[ExpectedTest]:
    """The tests pytest's default collection finds in ``source`` (``file`` names it):
    module-level ``test*`` functions, ``test*`` methods of ``Test*`` classes, and ``test*``
    methods of every ``unittest.TestCase`` subclass whatever its name (``class
    BowlingTest(unittest.TestCase)``), inherited ones from the file's own classes included."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [ExpectedTest(file, "<module>")]  # cannot run: reported as "did not run"
    found: list[ExpectedTest] = []
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def unittest_class(node: ast.ClassDef, seen: frozenset[str] = frozenset()) -> bool:
        for base in _base_names(node):
            if base in _UNITTEST_BASES:
                return True
            if base in classes and base not in seen and unittest_class(classes[base],
                                                                       seen | {node.name}):
                return True
        return False

    def methods(node: ast.ClassDef, seen: frozenset[str] = frozenset()) -> list[str]:
        own = [m.name for m in node.body if isinstance(m, functions)]
        names = [m.name for m in node.body if isinstance(m, functions)
                 and m.name.startswith("test") and not _is_fixture(m)]
        for base in _base_names(node):  # inherited tests from the file's own classes
            if base in classes and base not in seen:
                names += [n for n in methods(classes[base], seen | {node.name})
                          if n not in own and n not in names]
        return names

    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test") \
                and not _is_fixture(node):
            found.append(ExpectedTest(file, node.name))
        elif isinstance(node, ast.ClassDef) and unittest_class(node):
            found += [ExpectedTest(file, name, node.name) for name in methods(node)]
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
        # The judge's own plugin reports each test over the judge's channel (channel.py); no
        # report file is read: the code under test could write one.
        argv = [*config.pytest_prefix(), "-q", "-rfEs", "-p", "no:cacheprovider",
                "-p", AGENT, f"--rootdir={root}", f"--confcutdir={root}"]
        env = {"PYTHONDONTWRITEBYTECODE": "1"}  # no __pycache__ in the reviewed tree
        paths = [root] + ([str(job.worktree / "src")] if (job.worktree / "src").is_dir() else [])
        if config.isolated:
            ini = job.report_dir / "isolated.ini"
            ini.write_text("[pytest]\n", encoding="utf-8")
            argv += ["-c", str(ini)]
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        elif os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        paths.append(str(AGENTS))  # last: a project module cannot be shadowed by it
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return Invocation(argv + list(job.paths), env, [*interpreter_paths(argv[0]), AGENTS])

    def parse(self, job: Job, process: ProcessResult) -> Parsed | CouldNotRun:
        output = process.output
        records = job.records
        program = job.config.pytest_prefix()[0]
        where = ", ".join(job.paths)
        if records is None or not records.started:
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
        if records is None or records.problems or records.unfinished or len(records.ends) != 1:
            why = records.problems[0] if records is not None and records.problems else \
                "the runner did not finish its own way (its end-of-run record is missing)"
            return Parsed([], [Problem(where, f"could not judge: {why}; the test process "
                                       f"ended with {_how(process.returncode)} — the code "
                                       "under test ended it (os._exit, a signal or a crash)")])
        end = records.ends[0]
        problems = [Problem(where, "could not judge: the test framework was changed while the "
                            f"tests ran ({r.get('what')} was replaced, seen after "
                            f"{r.get('where')}); code under test may not patch the test "
                            "framework, builtins or sys.modules") for r in records.of("tamper")]
        if end.get("exit") != process.returncode:
            problems.append(Problem(where, f"could not judge: pytest ended with "
                                    f"{_how(process.returncode)} but its end-of-run record "
                                    f"says exit status {end.get('exit')}"))
        outcomes = [TestOutcome(str(r.get("file", "")), str(r.get("name", "")),
                                r.get("status", "error"), str(r.get("suite", "")),
                                str(r.get("message", ""))) for r in records.of("test")]
        if len(outcomes) != end.get("tests"):
            problems.append(Problem(where, "could not judge: the channel holds "
                                    f"{len(outcomes)} test record(s), the end-of-run record "
                                    f"counts {end.get('tests')}"))
        broken = records.of("collect")
        if broken and process.returncode in _CANNOT_RUN:
            first = broken[0]
            detail = str(first.get("message") or "see the output")
            culprit, fix = _import_cause(job, output)
            return CouldNotRun(f"{first.get('file')} could not be collected: {detail}", fix,
                               culprit)
        problems += [Problem(str(r.get("file")), f"could not be collected: {r.get('message')}")
                     for r in broken]
        return Parsed(outcomes, problems)

    def trim(self, output: str) -> str:
        return trim_output(output)


def _how(status: int | None) -> str:
    if status is None:
        return "no exit status"
    return f"exit status {status}" if status >= 0 else f"signal {-status}"


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
