"""Deterministic acceptance of one item: its file's syntax, its tests, then the tests of the
items already accepted — and the failure text trimmed to what a model can act on.

Stages (``Verification.stage`` names the one that failed, or ``ok``):

- ``syntax``: Python files are compiled by the interpreter that will run the tests (tree-sitter
  grammars lag new syntax, and CPython is the judge that matters); other languages are checked
  with ``placement.check_syntax``. Files without a grammar (docs, config) are not checked.
- ``tests``: the item's acceptance tests, through the judge (:mod:`hybridcode.judge`): in the
  sandbox, with the timeout as a hard bound, and judged test by test — the item passes only
  when every test its file declares was collected, ran and passed (a skip, an xfail, a
  deselection, an early exit or fewer tests than written fail it, naming the test).
- ``related``: the acceptance tests of ``passed_items``, in one run, so an item that breaks
  earlier work is caught where it happens.

Items whose output is itself judged differently get a stage of their own before ``related``:

- ``docs`` (a Python ``doc`` item): the code identical to ``before`` (the file as it was before
  the change) with docstrings aside, every ``document`` symbol documented, the convention kept
  (:mod:`hybridcode.judge.docstrings`);
- ``tests`` then ``mutation`` (a ``test`` item): the test file the model wrote runs and every
  test it declares passes against the code under test; then the tests must kill mutants of that
  code at the item's or the project's mutation score (:mod:`hybridcode.judge.mutation`), and
  the surviving mutants are the feedback.

Test files run when a judge adapter handles their language (pytest is built in); others are
left to the review stage, and the output says so. The timeout applies to each run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hybridcode.context.languages import language_for_path
from hybridcode.context.placement import check_syntax
from hybridcode.errors import PlacementError
from hybridcode.judge import JudgeConfig, TestRun, adapter_for, run_tests
from hybridcode.judge.docstrings import check_doc_change
from hybridcode.judge.mutation import peeks_at_source, run_mutation
from hybridcode.judge.pytest_output import trim_output
from hybridcode.spec import Spec, SpecItem

__all__ = ["Verification", "trim_output", "verify_item"]


@dataclass
class Verification:
    ok: bool
    stage: str  # syntax | tests | related | ok
    output: str
    duration_ms: int
    run: TestRun | None = None  # the judge's verdict of the failing (or last) test run


def verify_item(worktree: Path, item: SpecItem, spec: Spec, passed_items: list[str],
                config: JudgeConfig, *, before: bytes | None = None) -> Verification:
    """``before``: the item's file as it was before the change (doc items compare with it)."""
    started = time.monotonic()

    def result(ok: bool, stage: str, output: str, run: TestRun | None = None) -> Verification:
        return Verification(ok, stage, output, int((time.monotonic() - started) * 1000), run)

    worktree = Path(worktree)
    problem = syntax_problem(worktree, item.file)
    if problem:
        return result(False, "syntax", problem)
    outputs: list[str] = []
    own = item.test_path
    last: TestRun | None = None
    if item.kind == "doc" and item.file.endswith(".py") and before is not None:
        verdict = check_doc_change(before.decode("utf-8", "replace"),
                                   (worktree / item.file).read_text(encoding="utf-8",
                                                                    errors="replace"),
                                   item.doc_symbols, root=worktree,
                                   style=item.doc_style or config.docstring_convention,
                                   filename=item.file)
        if not verdict.ok:
            return result(False, "docs", verdict.feedback())
        outputs.append(verdict.feedback())
    if item.kind == "test" and adapter_for(item.file) is not None:
        stage, text, last = _judge_test_item(worktree, item, config)
        if stage is not None:
            return result(False, stage, text, last)
        outputs.append(text)
    if own is not None and adapter_for(own) is not None:
        if not (worktree / own).is_file():
            return result(False, "tests", f"acceptance tests {own} are missing from the "
                          "worktree (they are written by the tool before verification)")
        last = run_tests(worktree, [own], config)
        if not last.ok:
            return result(False, "tests", _failure_text(last), last)
        outputs.append(last.summary)
    elif own is not None:
        outputs.append(f"{own}: not run (no test runner for this language; the review "
                       "sees them)")
    related: list[str] = []
    for item_id in passed_items:
        try:
            other = spec.item(item_id)
        except KeyError:
            continue
        path = other.test_path
        if path and adapter_for(path) is not None and path != own and path not in related \
                and (worktree / path).is_file():
            related.append(path)
    if related:
        last = run_tests(worktree, related, config)
        if not last.ok:
            return result(False, "related", "tests of items that passed before now fail:\n"
                          + _failure_text(last), last)
        outputs.append(last.summary)
    return result(True, "ok", "\n".join(outputs) or "syntax ok; the item has no tests", last)


def _judge_test_item(worktree: Path, item: SpecItem, config: JudgeConfig
                     ) -> tuple[str | None, str, TestRun]:
    """(failed stage or None, text, the tests' run) for a test item's own test file."""
    run = run_tests(worktree, [item.file], config)
    if not run.ok:
        return "tests", _failure_text(run), run
    code_file, _, symbol = (item.under_test or "").partition("::")
    if not (code_file.endswith(".py") and item.file.endswith(".py")
            and (worktree / code_file).is_file()):
        return None, run.summary, run
    peek = peeks_at_source((worktree / item.file).read_text(encoding="utf-8", errors="replace"),
                           code_file)
    if peek:
        return "mutation", (f"the tests read the code under test instead of calling it "
                            f"({peek}); test its behaviour through calls and results"), run
    threshold = item.mutation_score if item.mutation_score is not None else config.mutation_score
    mutation = run_mutation(worktree, code_file, symbol or None, [item.file], config,
                            threshold=threshold, max_mutants=config.max_mutants, baseline=run)
    if mutation.could_not_run:
        return "mutation", f"tests could not run against a mutant: {mutation.could_not_run}", run
    if not mutation.ok:
        return "mutation", mutation.feedback(), run
    return None, f"{run.summary}; {mutation.summary()}", run


def _failure_text(run: TestRun) -> str:
    if run.could_not_run:
        return f"tests could not run: {run.summary}" + (f"\n{run.output}" if run.output else "")
    return run.feedback()


def syntax_problem(worktree: Path, file: str) -> str | None:
    """Why ``file`` does not parse, with its line; None when it does (or has no grammar)."""
    path = Path(worktree) / file
    if not path.is_file():
        return f"{file} does not exist in the worktree"
    language = language_for_path(file)
    data = path.read_bytes()
    if language == "python":
        try:
            compile(data, file, "exec", dont_inherit=True)
        except SyntaxError as exc:
            excerpt = (exc.text or "").strip()[:80]
            return f"{file} line {exc.lineno}: {exc.msg}" + (f": {excerpt}" if excerpt else "")
        except ValueError as exc:  # null bytes
            return f"{file}: {exc}"
        return None
    if language is None:
        return None
    try:
        check_syntax(data.decode("utf-8", "surrogateescape"), language)
    except PlacementError as exc:
        return f"{file}: {exc.message}"
    return None
