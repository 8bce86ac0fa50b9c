"""Scoring and self-checking test and doc tasks, whose judges are not hidden tests.

- A **test** task is scored by the mutation judge (:mod:`hybridcode.judge.mutation`) on a
  scratch copy of the implemented tree: the model's test file must pass against the code under
  test and kill mutants of it at the task's mutation score (every sampled mutant is run, so the
  figures are complete). ``passed``/``total`` are mutants killed / run.
- A **doc** task is scored by the doc judge (:mod:`hybridcode.judge.docstrings`): the file
  against the task's starting file — code identical, the named symbols documented, the
  convention kept. ``passed``/``total`` is 1/1 or 0/1.

The self-check proves both judges right on each task: the reference passes; for a test task a
test file that only imports the module fails (nothing is killed), and for a doc task the
reference with one line of code changed fails, naming the line.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hybridcode.bench.score import TestRun, copy_tree
from hybridcode.bench.suite import BenchTask, TaskCheck

__all__ = ["check_judged", "score_judged", "vacuous_tests"]


def _config(timeout_s: float):
    from hybridcode.judge import JudgeConfig

    return JudgeConfig(timeout_s=timeout_s, isolated=True)


def score_judged(task: BenchTask, tree: Path, timeout_s: float = 120.0) -> TestRun:
    """The verdict of the task's judge on the implemented ``tree`` (left untouched)."""
    with tempfile.TemporaryDirectory(prefix=f"hybrid-bench-score-{task.id}-") as tmp:
        scratch = Path(tmp)
        copy_tree(tree, scratch)
        if task.kind == "doc":
            return _score_doc(task, scratch)
        return _score_tests(task, scratch, timeout_s)


def _score_tests(task: BenchTask, scratch: Path, timeout_s: float) -> TestRun:
    from hybridcode.judge.mutation import DEFAULT_SCORE, peeks_at_source, run_mutation

    test_file = scratch / task.file
    if not test_file.is_file():
        return TestRun(0, 1, f"{task.file} was not written", verdict=False)
    code_file, _, symbol = task.under_test.partition("::")
    peek = peeks_at_source(test_file.read_text(encoding="utf-8", errors="replace"), code_file)
    if peek:
        return TestRun(0, 1, f"the tests read the code under test ({peek})", verdict=False)
    threshold = task.mutation_score if task.mutation_score is not None else DEFAULT_SCORE
    result = run_mutation(scratch, code_file, symbol or None, [task.file], _config(timeout_s),
                          threshold=threshold, stop_early=False)
    baseline = result.baseline
    if baseline is not None and not baseline.ok:
        return TestRun(0, max(1, len(baseline.expected)),
                       "the tests do not pass against the code under test: "
                       + baseline.feedback()[-2000:], baseline.timed_out, verdict=False)
    return TestRun(len(result.killed), result.total, result.feedback(), verdict=result.ok)


def _score_doc(task: BenchTask, scratch: Path) -> TestRun:
    from hybridcode.judge.docstrings import check_doc_change

    before = (task.files_dir / task.file).read_text(encoding="utf-8")
    target = scratch / task.file
    after = target.read_text(encoding="utf-8") if target.is_file() else ""
    verdict = check_doc_change(before, after, list(task.document), root=scratch,
                               style=task.doc_style, filename=task.file)
    return TestRun(1 if verdict.ok else 0, 1, verdict.feedback(), verdict=verdict.ok)


def vacuous_tests(task: BenchTask) -> str:
    """A test file that imports the code under test and asserts nothing about it."""
    from hybridcode.spec.examples import module_of

    module = module_of(task.under_test.partition("::")[0])
    return f"import {module}\n\n\ndef test_imports():\n    assert {module} is not None\n"


def code_changed(reference: str) -> str:
    """The reference with one line of code changed (its first mutant)."""
    from hybridcode.judge.mutation import generate_mutants

    mutants = generate_mutants(reference, None)
    if not mutants:
        return reference + "\nCHANGED = 1\n"
    return mutants[0].source


def _tree_with(task: BenchTask, root: Path, variant: str, text: str) -> Path:
    scratch = root / f"{task.id}--{variant}"
    copy_tree(task.files_dir, scratch)
    target = scratch / task.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return scratch


def check_judged(tasks: list[BenchTask], timeout_s: float = 120.0) -> list[TaskCheck]:
    """The self-check of test and doc tasks (see the module's docstring)."""
    checks = []
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-judged-") as tmp:
        root = Path(tmp)
        for task in tasks:
            check = TaskCheck(task.id)
            checks.append(check)
            if task.reference_path is None:
                check.problems.append("no reference.py: the judge cannot be proven right")
                continue
            reference = task.reference_path.read_text(encoding="utf-8")
            run = score_judged(task, _tree_with(task, root, "reference", reference), timeout_s)
            if not run.ok:
                check.problems.append(f"the reference fails its judge:\n{run.output}")
            if task.kind == "test":
                stub, what = vacuous_tests(task), "a test file that asserts nothing"
            else:
                stub, what = code_changed(reference), "the reference with one line changed"
            run = score_judged(task, _tree_with(task, root, "stub", stub), timeout_s)
            if run.ok:
                check.problems.append(f"{what} passes the judge")
            shutil.rmtree(root / f"{task.id}--reference", ignore_errors=True)
    return checks
