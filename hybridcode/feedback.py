"""``hybrid feedback``: a person's grade of one item, recorded next to the reviewer's.

The grade goes into ``grades`` with ``source = 'feedback'`` and the person's "why" as its
failure mode. Being the newest grade of the item, it is the one routing history, ``hybrid
stats`` and ``hybrid export`` use; a poor one also sends the kind's next diff to the full
reviewer (hybridcode/review/sampling.py).

Every feedback gets its own review row, id ``feedback-<ulid>`` (source ``feedback``, decision
``feedback``, no diff hash), pointing at the review it answers in its verdict JSON. It cannot
share the reviewer's review id: ``grades`` is keyed by (review id, item id), so that row is
already taken by the reviewer's grade, and ``grades.review_id`` must name a real review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from hybridcode.errors import UsageError
from hybridcode.ledger import new_id
from hybridcode.ledger.calls import utc_iso
from hybridcode.ledger.redact import one_line, redact

if TYPE_CHECKING:
    from hybridcode.ledger import Ledger

Grade = Literal["poor", "acceptable", "good"]
GRADE_VALUES: tuple[str, ...] = ("poor", "acceptable", "good")
FAILURE_MODE_CHARS = 200


@dataclass(frozen=True)
class FeedbackRecord:
    review_id: str
    plan_id: str | None
    item_id: str
    kind: str
    grade: str
    failure_mode: str | None
    answers_review: str | None  # the latest reviewer review of the item, if any


def _find_item(ledger: Ledger, item_id: str, plan_id: str | None) -> tuple[str | None, str]:
    """(plan id, kind) of the item, from the implement stage's rows or, for items only ever
    reviewed (e.g. a staged diff), from earlier grades."""
    sql = ("SELECT plan_id, kind, started_at AS ts FROM items WHERE item_id = ?{p} "
           "UNION ALL SELECT plan_id, kind, ts FROM grades WHERE item_id = ?{p}")
    cond = " AND plan_id = ?" if plan_id else ""
    params = [item_id, plan_id, item_id, plan_id] if plan_id else [item_id, item_id]
    rows = ledger.query(sql.format(p=cond), params)
    plans = sorted({r["plan_id"] for r in rows}, key=lambda p: p or "")
    if not rows:
        where = f" in plan {plan_id}" if plan_id else ""
        known = [r[0] for r in ledger.query(
            "SELECT DISTINCT item_id FROM items" + (" WHERE plan_id = ?" if plan_id else "")
            + " ORDER BY item_id LIMIT 8", [plan_id] if plan_id else [])]
        hint = (f"known items: {', '.join(known)}" if known
                else "only items that were implemented or reviewed can get feedback")
        raise UsageError(f'no item "{item_id}"{where} in the ledger', hint)
    if len(plans) > 1:
        raise UsageError(f'item "{item_id}" is in several plans: '
                         f"{', '.join(p or '(no plan)' for p in plans)}",
                         f"choose one with --plan, e.g. --plan {plans[-1]}")
    kinds = [r["kind"] for r in rows if r["kind"]]
    return plans[0], kinds[0] if kinds else ""


def record_feedback(ledger: Ledger, item_id: str, grade: str, why: str = "",
                    plan_id: str | None = None) -> FeedbackRecord:
    if grade not in GRADE_VALUES:
        raise UsageError(f'grade "{grade}" is not one of {", ".join(GRADE_VALUES)}',
                         f'e.g. hybrid feedback {item_id} poor "ignores empty input"')
    plan, kind = _find_item(ledger, item_id, plan_id)
    why = one_line(redact(why), FAILURE_MODE_CHARS) if why.strip() else ""
    if grade == "poor" and not why:
        raise UsageError("a poor grade needs the reason, which becomes its failure mode",
                         f'e.g. hybrid feedback {item_id} poor "ignores empty input"')
    latest = ledger.query(
        "SELECT g.review_id, r.diff_sha256 FROM grades g JOIN reviews r ON r.id = g.review_id "
        "WHERE g.item_id = ? AND COALESCE(g.plan_id, '') = ? AND g.source = 'reviewer' "
        "ORDER BY g.ts DESC, g.rowid DESC LIMIT 1", (item_id, plan or ""))
    answers = latest[0]["review_id"] if latest else None
    now = utc_iso(datetime.now(timezone.utc))
    review_id = f"feedback-{new_id()}"
    verdict = {"feedback": {"item_id": item_id, "grade": grade, "why": why,
                            "answers_review": answers,
                            "diff_sha256": latest[0]["diff_sha256"] if latest else None}}
    with ledger.transaction("record feedback in") as conn:
        # An empty diff hash and decision "feedback": no approval lookup can ever match it.
        conn.execute(
            "INSERT INTO reviews (id, ts, run_id, plan_id, source, diff_sha256, reviewer_model, "
            "checklist_version, decision, verdict, checks) VALUES (?, ?, NULL, ?, 'feedback', "
            "'', 'user', '', 'feedback', ?, '[]')",
            (review_id, now, plan, json.dumps(verdict, sort_keys=True)))
        conn.execute(
            "INSERT INTO grades (review_id, plan_id, item_id, kind, grade, failure_mode, "
            "source, ts) VALUES (?, ?, ?, ?, ?, ?, 'feedback', ?)",
            (review_id, plan, item_id, kind, grade, why or None, now))
    return FeedbackRecord(review_id, plan, item_id, kind, grade, why or None, answers)
