"""The implementer ladder, the circuit breaker, and the feedback that goes into the next attempt.

The ladder is ``settings.tiers.implementer`` (e.g. Qwen 32B on Ollama → Claude Sonnet). Every item
gets ``settings.attempts`` attempts per rung, each seeing what went wrong last time; then it
climbs one rung; after the last rung it has failed. Items the plan routed to Claude start on the
first Claude rung (the local rungs would only burn time on work routing judged too hard).

The breaker keeps a broken or hopeless rung from eating the run: three consecutive failures on a
rung (model errors or failed attempts, across items) switch it off until the run ends. Items
then start on, or climb to, the next rung that is still on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hybridcode.errors import (
    AuthenticationError,
    ContextOverflowError,
    ModelError,
    ModelNotFoundError,
    PlacementError,
)

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings
    from hybridcode.spec import SpecItem

BREAKER_THRESHOLD = 3
# Errors that another attempt on the same model cannot fix: climb at once instead of retrying.
NO_RETRY_ERRORS: tuple[type[ModelError], ...] = (ContextOverflowError, ModelNotFoundError,
                                                 AuthenticationError)
# Long enough for a pytest failure's assertion, locals and traceback tail; short enough that a
# small model's window still has room for the spec and the code (about 1,300 tokens).
FEEDBACK_LIMIT = 4000


@dataclass(frozen=True)
class Rung:
    index: int
    spec: ModelSpec

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def is_claude(self) -> bool:
        return self.spec.backend == "anthropic"


@dataclass(frozen=True)
class Step:
    """The next attempt: which rung, and its 1-based number on that rung."""

    rung: Rung
    attempt: int


class CircuitBreaker:
    """Counts consecutive failures per rung; shared by the run's threads."""

    def __init__(self, threshold: int = BREAKER_THRESHOLD) -> None:
        self.threshold = threshold
        self._failures: dict[int, int] = {}
        self._open: set[int] = set()
        self._lock = threading.Lock()

    def record(self, rung: int, ok: bool) -> bool:
        """Count one outcome; True exactly when this failure switches the rung off."""
        with self._lock:
            if ok:
                self._failures[rung] = 0
                return False
            self._failures[rung] = self._failures.get(rung, 0) + 1
            if rung not in self._open and self._failures[rung] >= self.threshold:
                self._open.add(rung)
                return True
            return False

    def switch_off(self, rung: int) -> None:
        """Off for the rest of the run without failures counted (a rung found not ready)."""
        with self._lock:
            self._open.add(rung)

    def is_open(self, rung: int) -> bool:
        with self._lock:
            return rung in self._open

    @property
    def open_rungs(self) -> set[int]:
        with self._lock:
            return set(self._open)


class Ladder:
    def __init__(self, rungs: list[ModelSpec], attempts: int,
                 breaker: CircuitBreaker | None = None) -> None:
        self.rungs = [Rung(i, spec) for i, spec in enumerate(rungs)]
        self.attempts = attempts
        self.breaker = breaker or CircuitBreaker()

    @classmethod
    def from_settings(cls, settings: Settings, breaker: CircuitBreaker | None = None) -> Ladder:
        return cls(list(settings.tiers.implementer), settings.attempts, breaker)

    def first_index(self, item: SpecItem) -> int:
        """Where the item's ladder starts: the first Claude rung for items routed to Claude
        (the strongest rung when the ladder has none), else the bottom. Items written in the
        plan count as Claude's: when the planner's code fails, a Claude rung fixes it."""
        if item.route in ("claude", "plan"):
            for rung in self.rungs:
                if rung.is_claude:
                    return rung.index
            return len(self.rungs) - 1
        return 0

    def live_from(self, index: int) -> Rung | None:
        """The first rung at or above ``index`` that the breaker has not switched off."""
        for rung in self.rungs[index:]:
            if not self.breaker.is_open(rung.index):
                return rung
        return None

    def start(self, item: SpecItem) -> Step | None:
        rung = self.live_from(self.first_index(item))
        return Step(rung, 1) if rung else None

    def after_failure(self, step: Step, *, climb: bool = False) -> Step | None:
        """The attempt after a failed one: the same rung while attempts remain and the rung is
        on, else the next live rung; None when the ladder is exhausted."""
        if not climb and step.attempt < self.attempts and not self.breaker.is_open(
                step.rung.index):
            return Step(step.rung, step.attempt + 1)
        rung = self.live_from(step.rung.index + 1)
        return Step(rung, 1) if rung else None

    def resume_step(self, item: SpecItem, rung_index: int, attempt: int) -> Step | None:
        """Continue after attempt ``attempt`` on rung ``rung_index`` (from an earlier run)."""
        if 0 <= rung_index < len(self.rungs):
            return self.after_failure(Step(self.rungs[rung_index], attempt))
        return self.start(item)


# ---------------------------------------------------------------------------------- feedback

def trim(text: str, limit: int = FEEDBACK_LIMIT) -> str:
    """Keep the head (what failed) and the longer tail (the assertion and the summary)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n… {cut} characters cut …\n{text[-tail:]}"


def parse_feedback(message: str) -> str:
    return trim(f"Your answer could not be used: {message}")


def placement_feedback(exc: PlacementError) -> str:
    where = f" (line {exc.line})" if exc.line else ""
    text = f"Your code could not be placed{where}: {exc.message}"
    if exc.hint:
        text += f" — {exc.hint}"
    if exc.excerpt:
        text += f"\n{exc.excerpt}"
    return trim(text)


def refused_feedback(message: str) -> str:
    return trim(f"Your answer was refused: {message}. Return only the code for this item; "
                "never write other files and never change the acceptance tests.")


_STAGES = {"syntax": "The syntax check failed", "tests": "The acceptance tests failed",
           "related": "Tests of items accepted earlier failed",
           "mutation": "The tests pass but are too weak: mutants of the code under test "
                       "survived", "docs": "The doc check failed"}


def test_feedback(stage: str, output: str) -> str:
    return trim(f"{_STAGES.get(stage, f'The {stage} check failed')}:\n{output}")


HEADLINE_CHARS = 600


def headline(text: str) -> str:
    """One line for a table or an item's error: pytest's FAILED line, else the first line that
    says something (not a bare heading ending in a colon).

    A model error's line is its whole reason and the advice after it (a context overflow runs to
    ~400 characters): it is kept whole. Only a runaway line (an assertion printing a huge value)
    is cut, and the cut is marked."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chosen = next((line for line in lines if line.startswith(("FAILED ", "ERROR "))), None)
    if chosen is not None and chosen.endswith("...") and " - " in chosen:
        # pytest cuts the summary line's message to its terminal width ("- AssertionErr...");
        # the first failure's own "E" line has it whole.
        detail = next((line[1:].strip() for line in lines if line.startswith("E ")), "")
        if detail:
            chosen = f"{chosen.split(' - ', 1)[0]} - {detail}"
    if chosen is None:
        chosen = next((line for line in lines if line.startswith("E ")
                       or not line.endswith(":")), lines[0] if lines else "")
    if len(chosen) > HEADLINE_CHARS:
        return chosen[:HEADLINE_CHARS - 1].rstrip() + "…"
    return chosen


def error_feedback(exc: BaseException) -> str:
    return trim(f"{type(exc).__name__}: {exc}")
