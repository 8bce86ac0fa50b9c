"""Review records in the ledger (migration m003): reviews, per-item grades, approvals.

An approval is keyed by the diff's SHA-256 *and* the checklist version: any change to the
diff, or to the questions it was judged by, leaves it behind. A review, its grades and its
approval are written in one transaction, so a crash never leaves an approval without the
review that gave it.

The latest word counts: a later review of the same diff and checklist that does not approve
(a ``--fresh`` second opinion) withdraws the approval.

Re-reviewing an identical diff is answered from the record (see :mod:`hybridcode.review.service`):
an approval, and also a model's request for changes — the same reviewer on the same bytes would
be paid to say the same again; ``--fresh`` asks anew. A *blocked* review is never reused: it
was decided by checks, which cost nothing to run again (a flaky test or a missing tool may
have been fixed since).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hybridcode.ledger import new_id
from hybridcode.ledger.calls import utc_iso

if TYPE_CHECKING:
    from hybridcode.ledger import Ledger
    from hybridcode.review.checks import CheckResult
    from hybridcode.review.verdict import FinalDecision, Verdict

# ReviewOutcome.decision → the word the reviews table stores.
STORED_DECISION = {"approved": "approve", "changes_requested": "request_changes",
                   "blocked": "blocked"}
FINAL_DECISION = {v: k for k, v in STORED_DECISION.items()}


@dataclass(frozen=True)
class Approval:
    diff_sha256: str
    checklist_version: str
    plan_id: str | None
    review_id: str
    reviewer_model: str
    ts: str


@dataclass(frozen=True)
class StoredReview:
    id: str
    ts: str
    run_id: str | None
    plan_id: str | None
    source: str
    diff_sha256: str
    reviewer_model: str
    checklist_version: str
    decision: str  # approve / request_changes / blocked
    verdict: dict[str, Any]
    checks: list[dict[str, Any]]

    @property
    def final_decision(self) -> FinalDecision:
        return FINAL_DECISION[self.decision]  # type: ignore[return-value]


def _review(row: Any) -> StoredReview:
    return StoredReview(
        id=row["id"], ts=row["ts"], run_id=row["run_id"], plan_id=row["plan_id"],
        source=row["source"], diff_sha256=row["diff_sha256"],
        reviewer_model=row["reviewer_model"], checklist_version=row["checklist_version"],
        decision=row["decision"], verdict=json.loads(row["verdict"] or "{}"),
        checks=json.loads(row["checks"] or "[]"))


def record_review(ledger: Ledger, *, source: str, diff_sha256: str, checklist_version: str,
                  decision: FinalDecision, reviewer_model: str = "",
                  verdict: Verdict | None = None, checks: Sequence[CheckResult] = (),
                  run_id: str | None = None, plan_id: str | None = None,
                  item_kinds: dict[str, str] | None = None) -> str:
    """Store a review with its grades, and its approval when it approved. Returns its id."""
    ulid = new_id()
    review_id, ts = str(ulid), utc_iso(ulid.datetime)
    kinds = item_kinds or {}
    with ledger.transaction("record a review in") as conn:
        conn.execute(
            "INSERT INTO reviews (id, ts, run_id, plan_id, source, diff_sha256, reviewer_model, "
            "checklist_version, decision, verdict, checks) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (review_id, ts, run_id, plan_id, source, diff_sha256, reviewer_model,
             checklist_version, STORED_DECISION[decision],
             verdict.model_dump_json() if verdict is not None else "{}",
             json.dumps([c.to_dict() for c in checks], ensure_ascii=False)))
        for grade in (verdict.grades if verdict is not None else []):
            conn.execute(
                "INSERT OR REPLACE INTO grades (review_id, plan_id, item_id, kind, grade, "
                "failure_mode, source, ts) VALUES (?, ?, ?, ?, ?, ?, 'reviewer', ?)",
                (review_id, plan_id, grade.item_id, kinds.get(grade.item_id, ""), grade.grade,
                 grade.failure_mode or None, ts))
        if decision == "approved":
            conn.execute(
                "INSERT OR REPLACE INTO approvals (diff_sha256, checklist_version, plan_id, "
                "review_id, reviewer_model, ts) VALUES (?, ?, ?, ?, ?, ?)",
                (diff_sha256, checklist_version, plan_id, review_id, reviewer_model, ts))
        else:
            conn.execute("DELETE FROM approvals WHERE diff_sha256 = ? AND checklist_version = ?",
                         (diff_sha256, checklist_version))
    return review_id


def find_approval(ledger: Ledger, diff_sha256: str, checklist_version: str) -> Approval | None:
    """The approval of exactly this diff under this checklist, or None."""
    rows = ledger.query(
        "SELECT diff_sha256, checklist_version, plan_id, review_id, reviewer_model, ts "
        "FROM approvals WHERE diff_sha256 = ? AND checklist_version = ?",
        (diff_sha256, checklist_version))
    if not rows:
        return None
    row = rows[0]
    return Approval(row["diff_sha256"], row["checklist_version"], row["plan_id"],
                    row["review_id"], row["reviewer_model"], row["ts"])


def load_review(ledger: Ledger, review_id: str) -> StoredReview | None:
    rows = ledger.query("SELECT * FROM reviews WHERE id = ?", (review_id,))
    return _review(rows[0]) if rows else None


def reusable_review(ledger: Ledger, diff_sha256: str,
                    checklist_version: str) -> StoredReview | None:
    """The record that answers a re-review of this diff: its approval's review, else the
    latest model review that requested changes (blocked reviews are never reused)."""
    approval = find_approval(ledger, diff_sha256, checklist_version)
    if approval is not None:
        return load_review(ledger, approval.review_id)
    rows = ledger.query(
        "SELECT * FROM reviews WHERE diff_sha256 = ? AND checklist_version = ? "
        "ORDER BY id DESC LIMIT 1", (diff_sha256, checklist_version))
    if rows and rows[0]["decision"] == "request_changes":
        return _review(rows[0])
    return None


def reviews_for_plan(ledger: Ledger, plan_id: str) -> list[StoredReview]:
    rows = ledger.query("SELECT * FROM reviews WHERE plan_id = ? ORDER BY id", (plan_id,))
    return [_review(r) for r in rows]
