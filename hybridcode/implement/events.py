"""Where a run stands, item by item, and how it tells the UI: :class:`Item` and :class:`Events`.

The scheduler (:mod:`.schedule`) and one item's attempt lifecycle (:mod:`.attempt`) both move
an :class:`Item` and report through one :class:`Events`; the ledger holds the durable copy
(:mod:`.state`). Generation runs on worker threads, so token counters, clocks and event
delivery go through one lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hybridcode.implement.result import ItemEvent

if TYPE_CHECKING:
    from hybridcode.implement.ladder import Step
    from hybridcode.spec import SpecItem

PROGRESS_INTERVAL_S = 0.1  # live token counts: at most ten updates a second per item
# In a rework run, an item that is neither reworked nor passed: left as it is, not run.
HELD = "held"


@dataclass
class Item:
    """One item's progress in this run (the ledger holds the durable copy)."""

    spec: SpecItem
    pos: int
    state: str = "pending"  # pending / generating / queued / verifying / passed / failed /
    #                         skipped / held (rework runs: not part of this run)
    step: Step | None = None
    # ``plan:<planner>`` while ``step`` (attempt 0) judges the code written in the plan
    plan_label: str | None = None
    feedback: str | None = None
    review: str | None = None  # the reviewer's findings, in a rework run
    previous_output: str | None = None
    # A Claude rung's edits to the failing code that were not used (why), and whether the next
    # attempt asks for the whole item because they did not apply (see .escalation).
    edit_problem: str | None = None
    whole: bool = False
    saved: tuple[str, str] | None = None  # (attempt id, output) to verify without a call
    started_at: str | None = None
    attempts: int = 0
    escalated: bool = False
    escalation: str | None = None  # "<from> → <to>: <why>", shown and stored
    tokens: int = 0
    live_tokens: int = 0
    clock: float | None = None
    elapsed: float = 0.0
    error: str | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def written_in_plan(self) -> bool:
        return self.plan_label is not None and self.step is not None and self.step.attempt == 0

    @property
    def author(self) -> str:
        """Who wrote the item's current code: its rung's model, or — for the code written in
        the plan, attempt 0 of its first rung — the planner (no implementer model ran)."""
        if self.step is None:
            return ""
        if self.plan_label is not None and self.step.attempt == 0:
            return self.plan_label
        return self.step.rung.label


def models(items: Iterable[Item]) -> dict[str, str]:
    """Who wrote each item's current code (its rung's model, or the plan): the plan summary's
    "model" column."""
    return {i.id: i.author for i in items if i.step is not None}


class Events:
    """The run's messages and live item events, delivered one at a time to ``on_event``."""

    def __init__(self, on_event: Callable[[ItemEvent], None] | None) -> None:
        self.on_event = on_event
        self.messages: list[str] = []
        self._lock = threading.Lock()  # item token counters and event delivery
        self._last_progress: dict[str, float] = {}

    def note(self, message: str) -> None:
        self.messages.append(message)
        self._deliver(ItemEvent(None, "message", message=message))

    def emit(self, item: Item, state: str, *, rung: int | None = None,
             message: str = "") -> None:
        step = item.step
        with self._lock:
            tokens = item.tokens + item.live_tokens
            elapsed = item.elapsed + (time.monotonic() - item.clock if item.clock else 0.0)
        self._deliver(ItemEvent(
            item.id, state, rung=rung if rung is not None else (step.rung.index if step else None),
            model=item.author, attempt=step.attempt if step else 0,
            written_in_plan=item.written_in_plan,
            tokens=tokens, elapsed_s=elapsed,
            message=message or (f"escalated: {item.escalation.split(': ', 1)[-1]}"
                                if item.escalation else "")))

    def live_tokens(self, item: Item, output_tokens: int) -> None:
        """A streaming call's running count, shown at most every PROGRESS_INTERVAL_S."""
        with self._lock:
            item.live_tokens = output_tokens
            now = time.monotonic()
            if now - self._last_progress.get(item.id, 0.0) < PROGRESS_INTERVAL_S:
                return
            self._last_progress[item.id] = now
        self.emit(item, "generating")

    def end_live(self, item: Item) -> None:
        with self._lock:
            item.live_tokens = 0

    def add_tokens(self, item: Item, tokens: int) -> None:
        with self._lock:
            item.tokens += tokens

    def start_clock(self, item: Item) -> None:
        with self._lock:
            if item.clock is None:
                item.clock = time.monotonic()

    def stop_clock(self, item: Item) -> None:
        with self._lock:
            if item.clock is not None:
                item.elapsed += time.monotonic() - item.clock
                item.clock = None

    def _deliver(self, event: ItemEvent) -> None:
        if self.on_event is not None:
            with self._lock:
                self.on_event(event)


def now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
