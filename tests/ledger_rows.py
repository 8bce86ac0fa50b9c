"""Scripted ledger rows for the stats, routing-history, export, feedback and sampling tests.

Rows go in through the ledger's public API: ``record_call`` for calls, ``transaction()`` for the
implement and review stages' tables, shaped exactly as migrations m002 and m003 define them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hybridcode.ledger import CallRecord, Ledger, new_id
from hybridcode.ledger.calls import utc_iso

_clock = [0]
_BASE = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)


def tick() -> str:
    """Strictly increasing past timestamps in the ledger's format, so order is deterministic
    (and older than anything ``record_call`` or ``hybrid feedback`` stamps with the clock)."""
    _clock[0] += 1
    return utc_iso(_BASE + timedelta(seconds=_clock[0]))


def call(ledger: Ledger, **kw: Any) -> str:
    kw.setdefault("step", "implement")
    kw.setdefault("tier", "implementer")
    kw.setdefault("backend", "ollama" if kw.get("is_local") else "anthropic")
    kw.setdefault("model", "qwen2.5-coder:32b" if kw.get("is_local") else "claude-sonnet-5-5")
    return ledger.record_call(CallRecord(**kw))


def item(ledger: Ledger, plan_id: str, item_id: str, kind: str, *, route: str = "local",
         state: str = "passed", rung: int | None = 0, attempts: int = 1, escalated: int = 0,
         run_id: str | None = None, started_at: str | None = None) -> None:
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT INTO items (plan_id, item_id, kind, route, state, rung, attempts, escalated, "
            "run_id, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (plan_id, item_id, kind, route, state, rung, attempts, escalated, run_id,
             started_at or tick(), None))


def attempt(ledger: Ledger, plan_id: str, item_id: str, *, rung: int = 0, attempt: int = 1,
            model: str = "qwen2.5-coder:32b", outcome: str = "passed",
            call_id: str | None = None, run_id: str | None = None, feedback: str | None = None,
            prompt: str | None = "implement it", output: str | None = "def f():\n    pass\n",
            ts: str | None = None) -> str:
    attempt_id = str(new_id())
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT INTO attempts (id, ts, plan_id, item_id, run_id, rung, attempt, model, "
            "call_id, outcome, feedback, prompt, output, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (attempt_id, ts or tick(), plan_id, item_id, run_id, rung, attempt, model, call_id,
             outcome, feedback, prompt, output))
    return attempt_id


def review(ledger: Ledger, plan_id: str | None, grades: dict[str, tuple[str, str, str | None]],
           *, reviewer_model: str = "claude-opus-5-5", verdict: dict[str, Any] | None = None,
           decision: str = "approve", ts: str | None = None) -> str:
    """One review row and its grades: ``{item_id: (kind, grade, failure_mode)}``."""
    review_id = str(new_id())
    at = ts or tick()
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT INTO reviews (id, ts, run_id, plan_id, source, diff_sha256, reviewer_model, "
            "checklist_version, decision, verdict, checks) "
            "VALUES (?, ?, NULL, ?, 'plan', ?, ?, 'v1', ?, ?, '[]')",
            (review_id, at, plan_id, "d" * 64, reviewer_model, decision,
             json.dumps(verdict or {})))
        for item_id, (kind, grade, failure_mode) in grades.items():
            conn.execute(
                "INSERT INTO grades (review_id, plan_id, item_id, kind, grade, failure_mode, "
                "source, ts) VALUES (?, ?, ?, ?, ?, ?, 'reviewer', ?)",
                (review_id, plan_id, item_id, kind, grade, failure_mode, at))
    return review_id


def local_item(ledger: Ledger, plan_id: str, item_id: str, kind: str, *,
               escalate: bool = False, grade: str | None = None,
               failure_mode: str | None = None, output: str = "def f():\n    pass\n") -> None:
    """An item a local model implemented (one local call and attempt); ``escalate`` adds a
    Claude rescue; ``grade`` adds a review of it."""
    call_id = call(ledger, is_local=True, plan_id=plan_id, item_id=item_id, rung=0,
                   cost_usd=0.0)
    item(ledger, plan_id, item_id, kind, rung=1 if escalate else 0,
         attempts=2 if escalate else 1, escalated=int(escalate))
    attempt(ledger, plan_id, item_id, call_id=call_id, outcome="test_failed" if escalate
            else "passed", output=output, prompt=f"implement {item_id}")
    if escalate:
        claude = call(ledger, plan_id=plan_id, item_id=item_id, rung=1, cost_usd=0.01,
                      counterfactual_usd=0.01)
        attempt(ledger, plan_id, item_id, rung=1, model="claude-sonnet-5-5", call_id=claude,
                output="def f():\n    return 1\n")
    if grade is not None:
        review(ledger, plan_id, {item_id: (kind, grade, failure_mode)})
