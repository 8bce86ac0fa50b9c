"""Scoring: run a task's hidden tests against an implementation, in a scratch copy.

The hidden tests never enter the worktree the model works in: the implemented tree is copied to
a scratch folder and the tests are written there, so nothing a later attempt or the reviewer
sees can leak them. pytest runs in a subprocess with plugin auto-loading off and an empty
config, so neither the user's pytest setup nor this project's warning filters change a score.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
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

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.passed == self.total and not self.timed_out


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=_SKIP, dirs_exist_ok=True)


def run_pytest(directory: Path, test_files: list[str], timeout_s: float) -> TestRun:
    """Run ``test_files`` inside ``directory``; counts come from pytest's JUnit XML."""
    report = directory / ".bench-junit.xml"
    ini = directory / ".bench-pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(directory), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini),
           "--rootdir", str(directory), f"--junitxml={report}", *test_files]
    try:
        proc = subprocess.run(cmd, cwd=directory, env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return TestRun(0, _count_tests(report), f"timed out after {timeout_s:g}s", True)
    output = (proc.stdout + proc.stderr).strip()
    if len(output) > OUTPUT_LIMIT:
        output = "…" + output[-OUTPUT_LIMIT:]
    total, failed = _junit_counts(report)
    return TestRun(total - failed, total, output)


def _junit_counts(report: Path) -> tuple[int, int]:
    """(tests, failed-or-errored-or-skipped). A missing report (collection crashed) is 0 tests."""
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return 0, 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = failed = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += sum(int(suite.get(k, 0)) for k in ("failures", "errors", "skipped"))
    return total, failed


def _count_tests(report: Path) -> int:
    return _junit_counts(report)[0]


def score_tree(task: BenchTask, tree: Path, timeout_s: float = 120.0) -> TestRun:
    """Copy the implemented ``tree`` to a scratch folder and run the hidden tests there."""
    with tempfile.TemporaryDirectory(prefix=f"hybrid-bench-score-{task.id}-") as tmp:
        scratch = Path(tmp)
        copy_tree(tree, scratch)
        shutil.copyfile(task.hidden_path, scratch / HIDDEN_NAME)
        return run_pytest(scratch, [HIDDEN_NAME], timeout_s)


# ------------------------------------------------------------------ the suite's self-check

def place_code(tree: Path, task: BenchTask, code: str) -> None:
    """Append ``code`` to the target file (created when missing): how the self-check installs
    a reference or a stub without the implement engine."""
    target = tree / task.file
    target.parent.mkdir(parents=True, exist_ok=True)
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(before.rstrip("\n") + "\n\n\n" + code.strip("\n") + "\n", encoding="utf-8")


def stubs(task: BenchTask) -> dict[str, str]:
    """Trivial implementations the hidden tests must reject."""
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
        name = HIDDEN_NAME if path == task.hidden_path else ACCEPTANCE_NAME
        shutil.copyfile(path, scratch / name)
        names.append(name)
    return scratch, names


def _run_batch(jobs: list[tuple[Path, list[str]]], timeout_s: float) -> list[TestRun]:
    """Run every job's pytest session in one subprocess (see :mod:`._pytest_batch`)."""
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
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    try:
        proc = subprocess.run([sys.executable, "-m", "hybridcode.bench._pytest_batch",
                               str(jobs_file)], cwd=root, env=env, capture_output=True,
                              text=True, timeout=timeout_s, check=False)
        output = (proc.stdout + proc.stderr).strip()
    except subprocess.TimeoutExpired:
        output = f"the self-check timed out after {timeout_s:g}s"
    runs = []
    for directory, _files in jobs:
        total, failed = _junit_counts(directory / ".bench-junit.xml")
        # The batch's log interleaves every session: show its tail only when a session failed.
        runs.append(TestRun(total - failed, total, output[-OUTPUT_LIMIT:]))
    return runs


def check_suite(tasks: list[BenchTask], timeout_s: float = 600.0) -> list[TaskCheck]:
    """Check every task: the reference passes the acceptance and the hidden tests; each stub
    fails the hidden tests; and the hidden tests outnumber the acceptance tests (scoring must
    be stricter than what the model could see). One subprocess runs all the sessions."""
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
            jobs.append(_prepare(root, task, "acceptance", code, [task.acceptance_path]))
            plan.append((index, "acceptance"))
            jobs.append(_prepare(root, task, "reference", code, [task.hidden_path]))
            plan.append((index, "reference"))
            for name, stub in stubs(task).items():
                jobs.append(_prepare(root, task, name, stub, [task.hidden_path]))
                plan.append((index, name))
        runs = _run_batch(jobs, timeout_s)
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
