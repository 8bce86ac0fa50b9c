"""Per-test accounting: a run passes when every expected test ran and passed — never because an
exit status was 0.

For the *strict* files (the acceptance tests the tool wrote) every expected test must appear in
the report, and every reported instance of it (each parameter set) must have passed: a missing
test (not collected, deselected, the process ended early), a skip, an xfail, an xpass, an error
or a failure each fail the run and are named. Tests the report has beyond the expected ones in
a strict file must pass too. For the other files (a project's own tests that a review runs)
failures and errors count, and skips are the project's business.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from hybridcode.judge.outcome import ExpectedTest, Problem, TestOutcome

__all__ = ["account"]

_WHY = {"failed": "failed", "error": "errored", "skipped": "was skipped",
        "xfailed": "was marked xfail (an expected failure is not a pass)",
        "xpassed": "was marked xfail and passed (a test marked to fail is not accepted)"}


def _why(outcome: TestOutcome) -> str:
    text = _WHY.get(outcome.status, outcome.status)
    message = " ".join(outcome.message.split())[:300]
    return f"{text}: {message}" if message else text


def account(expected: Iterable[ExpectedTest], outcomes: Iterable[TestOutcome],
            strict_files: Iterable[str]) -> list[Problem]:
    """Every reason the run does not pass; empty when it does.

    Test by test: every expected test is reported as often as the file declares it (a title
    written twice in one ``describe`` runs twice; a parametrized pytest test once per
    parameter set), a generated family (``test.each``) as many times as its table has rows,
    and a strict file reports no test it does not declare (Go subtests of a declared test
    aside) — a report for a test that does not exist is somebody else's report."""
    expected = list(expected)
    outcomes = list(outcomes)
    strict = set(strict_files)
    problems: list[Problem] = []
    # A parametrized pytest test reports as name[params]; a vitest/jest title may itself hold
    # "[": the whole name matches first, the name before "[" after.
    by_name: dict[tuple[str, str, str], list[TestOutcome]] = {}
    by_base: dict[tuple[str, str, str], list[TestOutcome]] = {}
    for outcome in outcomes:
        by_name.setdefault((outcome.file, outcome.suite, outcome.name), []).append(outcome)
        by_base.setdefault((outcome.file, outcome.suite, outcome.base_name), []).append(outcome)
    claimed: set[int] = set()
    declared = Counter((t.file, t.suite, t.name) for t in expected if not t.pattern)
    for (file, suite, name), times in declared.items():
        test = ExpectedTest(file, name, suite)
        exact = by_name.get((file, suite, name), [])
        found = exact or by_base.get((file, suite, name), [])
        if not found:
            problems.append(Problem(test.id, "did not run (not collected, deselected, or the "
                                    "test process ended before reaching it)"))
            continue
        if exact and len(exact) != times:
            problems.append(Problem(test.id, f"was reported {len(exact)} times; the file "
                                    f"declares it {times} time(s)"))
        for outcome in found:
            claimed.add(id(outcome))
            if outcome.status != "passed":
                problems.append(Problem(outcome.id, _why(outcome)))
    for family in (t for t in expected if t.pattern):
        name, suite = re.compile(family.name), re.compile(family.suite)
        found = [o for o in outcomes if id(o) not in claimed and o.file == family.file
                 and suite.fullmatch(o.suite) and name.fullmatch(o.name)]
        if not found or (family.count and len(found) != family.count):
            rows = f"{family.count}" if family.count else "at least 1"
            problems.append(Problem(family.id, f"declares {rows} generated test(s); the "
                                    f"runner reported {len(found)}"))
        for outcome in found:
            claimed.add(id(outcome))
            if outcome.status != "passed":
                problems.append(Problem(outcome.id, _why(outcome)))
    parents = {(t.file, t.suite, t.name) for t in expected if not t.pattern}
    for outcome in outcomes:
        if id(outcome) in claimed:
            continue
        if outcome.status == "passed":
            if outcome.file in strict and not _subtest(outcome, parents):
                problems.append(Problem(outcome.id, "was reported, but the file declares no "
                                        "such test (a report the runner did not make?)"))
            continue
        if outcome.file in strict or outcome.status in ("failed", "error"):
            problems.append(Problem(outcome.id, _why(outcome)))
    return problems


def _subtest(outcome: TestOutcome, parents: set[tuple[str, str, str]]) -> bool:
    """A Go subtest (``TestX/case``) of a declared test."""
    name = outcome.name
    while "/" in name:
        name = name.rsplit("/", 1)[0]
        if (outcome.file, outcome.suite, name) in parents:
            return True
    return False
