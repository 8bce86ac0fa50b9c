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
    """Every reason the run does not pass; empty when it does."""
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
    for test in expected:
        key = (test.file, test.suite, test.name)
        found = by_name.get(key) or by_base.get(key, [])
        if not found:
            problems.append(Problem(test.id, "did not run (not collected, deselected, or the "
                                    "test process ended before reaching it)"))
            continue
        for outcome in found:
            claimed.add(id(outcome))
            if outcome.status != "passed":
                problems.append(Problem(outcome.id, _why(outcome)))
    for outcome in outcomes:
        if id(outcome) in claimed or outcome.status == "passed":
            continue
        if outcome.file in strict or outcome.status in ("failed", "error"):
            problems.append(Problem(outcome.id, _why(outcome)))
    return problems
