"""What a test run produced, in terms every language adapter shares.

- :class:`ExpectedTest`: a test the tool knows must run (read from the test file it wrote).
- :class:`TestOutcome`: one test's result as the runner's report gives it.
- :class:`Problem`: why an expected or reported test does not count as passed.
- :class:`CouldNotRun`: the tests never got to run (no interpreter, no pytest, a collection
  error, an environment that cannot import the project, a Go module cache without the module's
  dependencies, a JavaScript runner that is not installed) — a result of its own, not a
  failure: it carries the cause, the fix, and the worktree file whose import failed (the
  *culprit*), so a caller that knows which files a change touched can tell an environment
  problem from code that breaks its own import (:meth:`TestRun.blames_environment`).
- :class:`TestRun`: the verdict of one run: ``passed``, ``failed`` or ``could_not_run``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CouldNotRun", "ExpectedTest", "Problem", "TestOutcome", "TestRun", "TestStatus"]

TestStatus = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
RunStatus = Literal["passed", "failed", "could_not_run"]


@dataclass(frozen=True)
class ExpectedTest:
    """``file`` is worktree-relative (POSIX); ``name`` the test's own name (a pytest function,
    a Go ``TestX``, a vitest title); ``suite`` the enclosing class / describe block, if any."""

    file: str
    name: str
    suite: str = ""

    @property
    def id(self) -> str:
        return "::".join(p for p in (self.file, self.suite, self.name) if p)


@dataclass(frozen=True)
class TestOutcome:
    """``name`` may carry a parameter suffix (``test_add[1-2]``): it still answers for the
    expected test ``test_add``. ``message`` is the failure, error or skip reason."""

    __test__ = False  # not a pytest test class, whatever its name

    file: str
    name: str
    status: TestStatus
    suite: str = ""
    message: str = ""

    @property
    def base_name(self) -> str:
        return self.name.split("[", 1)[0]

    @property
    def id(self) -> str:
        return "::".join(p for p in (self.file, self.suite, self.name) if p)


@dataclass(frozen=True)
class Problem:
    test: str  # an ExpectedTest/TestOutcome id, or a file when the whole file is concerned
    why: str

    def line(self) -> str:
        return f"{self.test}: {self.why}"


@dataclass(frozen=True)
class CouldNotRun:
    reason: str
    fix: str = ""  # what makes the tests runnable: a command to run in the repository, a setting
    culprit: str = ""  # worktree-relative file whose code raised while the tests were loaded


@dataclass
class TestRun:
    __test__ = False
    status: RunStatus
    summary: str  # one line for a person: "3 of 3 expected tests passed", the reason, …
    problems: list[Problem] = field(default_factory=list)
    outcomes: list[TestOutcome] = field(default_factory=list)
    expected: list[ExpectedTest] = field(default_factory=list)
    output: str = ""  # the runner's output, trimmed to what explains a failure
    timed_out: bool = False
    wall_s: float = 0.0
    sandbox: str = ""  # bwrap / sandbox-exec / off
    exit_code: int | None = None
    fix: str = ""  # could_not_run: what makes the tests runnable
    culprit: str = ""  # could_not_run: the worktree file whose code raised while loading

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    @property
    def could_not_run(self) -> bool:
        return self.status == "could_not_run"

    def blames_environment(self, changed: Collection[str] = ()) -> bool:
        """Whether this run could not run because of the environment rather than the code:
        true for every could-not-run result unless the file whose code raised while the tests
        were loaded is one of ``changed`` (worktree-relative) — a model's answer that imports a
        library that is not installed is the answer's fault, a missing generated file or test
        dependency is not."""
        return self.could_not_run and not (self.culprit and self.culprit in set(changed))

    def cause(self) -> str:
        """"could not run: <why> — <fix>", the one line every report shows."""
        return f"could not run: {self.summary}" + (f" — {self.fix}" if self.fix else "")

    def feedback(self) -> str:
        """The summary, each problem on a line of its own, then the trimmed output: what a
        model needs to act on."""
        parts = [self.summary]
        parts += [f"- {p.line()}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            parts.append(f"- … and {len(self.problems) - 20} more")
        if self.output.strip():
            parts.append(self.output)
        return "\n".join(parts)

    def to_dict(self) -> dict:
        return {"status": self.status, "summary": self.summary,
                "problems": [{"test": p.test, "why": p.why} for p in self.problems],
                "passed": sum(1 for o in self.outcomes if o.status == "passed"),
                "reported": len(self.outcomes), "expected": len(self.expected),
                "timed_out": self.timed_out, "wall_s": round(self.wall_s, 3),
                "sandbox": self.sandbox, "exit_code": self.exit_code,
                **({"fix": self.fix, "culprit": self.culprit} if self.could_not_run else {})}
