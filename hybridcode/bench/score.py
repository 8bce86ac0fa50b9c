"""Scoring: run a task's hidden tests against an implementation, in a scratch copy.

The hidden tests never enter the worktree the model works in: the implemented tree is copied to
a scratch folder and the tests are written there, so nothing a later attempt or the reviewer
sees can leak them. The tests run through the judge (:mod:`hybridcode.judge`, the same sandbox,
environment and time bound as implement and review) in its isolated mode — plugin
auto-loading off and an empty config — so neither the user's pytest setup nor this project's
warning filters change a score. Counts are per test, from pytest's JUnit XML.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hybridcode.bench.suite import BenchTask, TaskCheck

HIDDEN_NAME = "test_bench_hidden.py"
ACCEPTANCE_NAME = "test_bench_acceptance.py"
_SKIP = shutil.ignore_patterns(".git", ".hybrid", "__pycache__", ".pytest_cache")
# Enough of pytest's output to see which assertion failed, not the whole log.
OUTPUT_LIMIT = 3000


@dataclass
class TestRun:
    passed: int
    total: int
    output: str
    timed_out: bool = False
    verdict: bool | None = None  # a judge's own verdict (test and doc tasks), else all passed

    @property
    def ok(self) -> bool:
        if self.verdict is not None:
            return self.verdict
        return self.total > 0 and self.passed == self.total and not self.timed_out


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=_SKIP, dirs_exist_ok=True)


def _config(timeout_s: float):
    from hybridcode.judge import JudgeConfig

    return JudgeConfig(timeout_s=timeout_s, isolated=True)


def run_pytest(directory: Path, test_files: list[str], timeout_s: float) -> TestRun:
    """Run ``test_files`` inside ``directory``, counted test by test."""
    from hybridcode.judge import run_tests

    run = run_tests(directory, test_files, _config(timeout_s))
    total = max(len(run.expected), len(run.outcomes))
    passed = sum(1 for o in run.outcomes if o.status == "passed")
    if not run.ok:  # a test that did not run, or ended the process, is not a pass
        passed = min(passed, total - 1) if total else 0
    output = run.summary if run.ok else run.feedback()
    if len(output) > OUTPUT_LIMIT:
        output = "…" + output[-OUTPUT_LIMIT:]
    return TestRun(passed, total, output, run.timed_out)


def _junit_counts(report: Path) -> tuple[int, int]:
    """(tests, failed-or-errored-or-skipped). A missing report (collection crashed) is 0 tests."""
    from hybridcode.judge.junit import read_junit

    outcomes = read_junit(report) or []
    return len(outcomes), sum(1 for o in outcomes if o.status != "passed")


def find_node_modules(start: Path | None = None) -> Path | None:
    """The ``node_modules`` holding vitest that TypeScript tasks run with: at or above
    ``start`` (default: the current folder), the lookup node itself does."""
    from hybridcode.judge.detect import tool_bin

    found = tool_bin(Path(start or Path.cwd()), "vitest")
    return found.parent.parent if found else None


def link_node_modules(task: BenchTask, tree: Path, node_modules: Path | None) -> None:
    """A JavaScript/TypeScript task's tree gets the runners as an installed project has them."""
    if task.language == "python" or task.language == "go" or node_modules is None:
        return
    link = tree / "node_modules"
    if not link.exists():
        link.symlink_to(node_modules, target_is_directory=True)


def score_tree(task: BenchTask, tree: Path, timeout_s: float = 120.0,
               node_modules: Path | None = None) -> TestRun:
    """Copy the implemented ``tree`` to a scratch folder and run the hidden tests there."""
    if task.judged:
        from hybridcode.bench.judged import score_judged

        return score_judged(task, tree, timeout_s)
    with tempfile.TemporaryDirectory(prefix=f"hybrid-bench-score-{task.id}-") as tmp:
        scratch = Path(tmp)
        copy_tree(tree, scratch)
        link_node_modules(task, scratch, node_modules)
        name = task.hidden_name()
        shutil.copyfile(task.hidden_path, scratch / name)
        return run_pytest(scratch, [name], timeout_s)


# ------------------------------------------------------------------ the suite's self-check

def place_code(tree: Path, task: BenchTask, code: str) -> None:
    """Append ``code`` to the target file (created when missing): how the self-check installs
    a reference or a stub without the implement engine. Go and TypeScript code goes through
    the engine's own placement (its imports must join the file's)."""
    if task.language != "python":
        from hybridcode.bench.suite import task_spec
        from hybridcode.implement.apply import apply_item
        from hybridcode.implement.parse import parse_code

        item = task_spec(task).items[0]
        fence = "go" if task.language == "go" else "typescript"
        apply_item(tree, item, parse_code(f"```{fence}\n{code.strip()}\n```\n", item), set())
        return
    target = tree / task.file
    target.parent.mkdir(parents=True, exist_ok=True)
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(before.rstrip("\n") + "\n\n\n" + code.strip("\n") + "\n", encoding="utf-8")


def stubs(task: BenchTask) -> dict[str, str]:
    """Trivial implementations the hidden tests must reject."""
    if task.language == "go":
        return {"panics": f'{task.signature} {{\n\tpanic("not implemented")\n}}\n'}
    if task.language != "python":
        return {"raises": f'{task.signature} {{\n  throw new Error("not implemented");\n}}\n',
                "returns-undefined": f"{task.signature} {{\n  return undefined as any;\n}}\n"}
    return {"raises": f"{task.signature}:\n    raise NotImplementedError\n",
            "returns-none": f"{task.signature}:\n    return None\n"}


def _prepare(root: Path, task: BenchTask, variant: str, code: str,
             tests: list[Path]) -> tuple[Path, list[str]]:
    """A scratch folder with the starting files, ``code`` placed, and ``tests`` copied in."""
    scratch = root / f"{task.id}--{variant}"
    copy_tree(task.files_dir, scratch)
    place_code(scratch, task, code)
    names = []
    for path in tests:
        if task.language == "python":
            name = (HIDDEN_NAME if path == task.hidden_path else
                    ACCEPTANCE_NAME if path == task.acceptance_path else path.name)
        elif path == task.hidden_path:
            name = task.hidden_name()
        else:
            from hybridcode.bench.suite import task_spec

            name = task_spec(task).items[0].test_path or ACCEPTANCE_NAME
        shutil.copyfile(path, scratch / name)
        names.append(name)
    return scratch, names


def _run_batch(jobs: list[tuple[Path, list[str]]], timeout_s: float) -> list[TestRun]:
    """Run every job's pytest session in one sandboxed subprocess (see :mod:`._pytest_batch`),
    through the judge's runner."""
    import hybridcode
    from hybridcode.judge import run_command

    if not jobs:
        return []
    root = jobs[0][0].parent
    specs = []
    for directory, files in jobs:
        ini = directory / ".bench-pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        specs.append({"dir": str(directory), "files": files, "ini": str(ini),
                      "junit": str(directory / ".bench-junit.xml")})
    jobs_file = root / "jobs.json"
    jobs_file.write_text(json.dumps(specs), encoding="utf-8")
    package = Path(hybridcode.__file__).resolve().parent.parent
    result = run_command([sys.executable, "-m", "hybridcode.bench._pytest_batch",
                          str(jobs_file)], worktree=root, config=_config(timeout_s),
                         env={"PYTHONDONTWRITEBYTECODE": "1",
                              "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                              "PYTHONPATH": str(package)},
                         readable=[package])
    output = result.output.strip()
    if result.timed_out:
        output = f"the self-check timed out after {timeout_s:g}s"
    runs = []
    for directory, _files in jobs:
        total, failed = _junit_counts(directory / ".bench-junit.xml")
        # The batch's log interleaves every session: show its tail only when a session failed.
        runs.append(TestRun(total - failed, total, output[-OUTPUT_LIMIT:]))
    return runs


def check_examples(tasks: list[BenchTask], timeout_s: float = 600.0) -> list[TaskCheck]:
    """The tests the tool generates from each Python task's examples (hybridcode.spec.examples)
    pass the reference and fail every stub — examples alone catch wrong code. Go and
    TypeScript tasks carry written tests only (their examples stay documentation)."""
    from hybridcode.bench.suite import task_spec
    from hybridcode.spec.examples import example_tests

    checks = [TaskCheck(task.id) for task in tasks]
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-examples-") as tmp:
        root = Path(tmp)
        jobs: list[tuple[Path, list[str]]] = []
        plan: list[tuple[int, str]] = []
        for index, task in enumerate(tasks):
            if task.language != "python" or task.judged:  # examples: Python code tasks only
                continue
            generated = example_tests(task_spec(task).items[0])
            if generated is None or task.reference_path is None:
                checks[index].problems.append("no runnable examples or no reference.py")
                continue
            tests = root / f"test_examples_{index}.py"
            tests.write_text(generated, encoding="utf-8")
            variants = {"reference": task.reference_path.read_text(encoding="utf-8"),
                        **stubs(task)}
            for name, code in variants.items():
                jobs.append(_prepare(root, task, f"examples-{name}", code, [tests]))
                plan.append((index, name))
        runs = _run_batch(jobs, timeout_s)
    for (index, variant), run in zip(plan, runs):
        if variant == "reference" and not (run.ok and run.total):
            checks[index].problems.append(f"the reference fails the tests generated from the "
                                          f"examples ({run.passed}/{run.total}):\n{run.output}")
        elif variant != "reference" and run.ok:
            checks[index].problems.append(f"the {variant} stub passes the tests generated "
                                          "from the examples")
    return checks


def check_suite(tasks: list[BenchTask], timeout_s: float = 600.0,
                node_modules: Path | None = None) -> list[TaskCheck]:
    """Check every task: the reference passes the acceptance and the hidden tests; each stub
    fails the hidden tests; and the hidden tests outnumber the acceptance tests (scoring must
    be stricter than what the model could see). One subprocess runs all the Python sessions;
    Go and TypeScript sessions run one by one with their runners (TypeScript ones with
    ``node_modules``, default :func:`find_node_modules`)."""
    from hybridcode.bench.judged import check_judged

    judged = {c.task_id: c for c in check_judged([t for t in tasks if t.judged],
                                                 min(timeout_s, 120.0))}
    coded = [t for t in tasks if not t.judged]
    checks_of_code = _check_code(coded, timeout_s, node_modules)
    by_id = {c.task_id: c for c in checks_of_code} | judged
    return [by_id[t.id] for t in tasks]


def _check_code(tasks: list[BenchTask], timeout_s: float,
                node_modules: Path | None) -> list[TaskCheck]:
    node_modules = node_modules or find_node_modules()
    checks = [TaskCheck(task.id) for task in tasks]
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-check-") as tmp:
        root = Path(tmp)
        jobs: list[tuple[Path, list[str]]] = []
        plan: list[tuple[int, str]] = []
        for index, task in enumerate(tasks):
            reference = task.reference_path
            if reference is None:
                checks[index].problems.append(
                    "no reference.py: the hidden tests cannot be proven right")
                continue
            code = reference.read_text(encoding="utf-8")
            variants = [("acceptance", code, task.acceptance_path),
                        ("reference", code, task.hidden_path),
                        *((name, stub, task.hidden_path) for name, stub in stubs(task).items())]
            for variant, text, tests in variants:
                job = _prepare(root, task, variant, text, [tests])
                link_node_modules(task, job[0], node_modules)
                jobs.append(job)
                plan.append((index, variant))
        python = [i for i, (index, _) in enumerate(plan) if tasks[index].language == "python"]
        batch = iter(_run_batch([jobs[i] for i in python], timeout_s))
        runs = [next(batch) if i in python else run_pytest(jobs[i][0], jobs[i][1], timeout_s)
                for i in range(len(jobs))]
    visible: dict[int, TestRun] = {}
    for (index, variant), run in zip(plan, runs):
        problems = checks[index].problems
        if variant == "acceptance":
            visible[index] = run
            if not run.ok:
                problems.append(f"reference fails its acceptance tests "
                                f"({run.passed}/{run.total}):\n{run.output}")
        elif variant == "reference":
            if not run.ok:
                problems.append(f"reference fails its hidden tests "
                                f"({run.passed}/{run.total}):\n{run.output}")
            if run.total <= visible[index].total:
                problems.append(f"only {run.total} hidden tests for {visible[index].total} "
                                "acceptance tests: the hidden set should be larger, with the "
                                "edge cases")
        elif run.ok:
            problems.append(f"the {variant} stub passes the hidden tests")
    return checks
