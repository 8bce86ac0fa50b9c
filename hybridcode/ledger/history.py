"""What the ledger knows about each task kind, for routing that learns (docs/stats.md).

The implement stage writes ``items`` (one row per spec item, with its ``kind``, plan ``route``
and an ``escalated`` flag) and a call per attempt; the review stage writes ``grades``. From
those this module derives, per item:

- **local use** — a local model worked on it: it has an implementer call with ``is_local = 1``
  (or, in a ledger whose calls carry no item ids, it was routed local and attempted);
- **escalated** (past the local tiers) — a local-use item that also needed a paid model: it has
  a non-local implementer call (or, without item ids on calls, its ``escalated`` flag is set).
  With a ladder of two local rungs, climbing from 7B to 32B is not an escalation here;
- **local work** — a local use that did not escalate: its reviewed code is the local model's.

An item whose tests could not start (state ``could_not_run``) is none of these: it was never
judged, so it counts neither for nor against its kind.

Only grades of local work count as reviewed uses. A grade of Claude's rescue work says nothing
about whether the local model can do the kind, so it must never promote the kind.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger


@dataclass(frozen=True)
class KindStats:
    """What the ledger knows about one task kind (see
    :func:`hybridcode.plan.routing.task_kind`); routing reads it to move its thresholds."""

    reviewed: int = 0  # items of this kind with a review grade
    acceptable_or_good: int = 0  # of those, graded acceptable or good
    local_uses: int = 0  # items of this kind attempted by a local model
    escalated: int = 0  # of those, escalated past the local tiers

    @property
    def good_rate(self) -> float:
        return self.acceptable_or_good / self.reviewed if self.reviewed else 0.0

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.local_uses if self.local_uses else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"reviewed": self.reviewed, "acceptable_or_good": self.acceptable_or_good,
                "local_uses": self.local_uses, "escalated": self.escalated}


GOOD_GRADES = frozenset({"acceptable", "good"})
GRADES = ("poor", "acceptable", "good")


@dataclass(frozen=True)
class ItemFacts:
    plan_id: str
    item_id: str
    kind: str
    route: str
    state: str
    rung: int | None
    attempts: int
    local_use: bool
    escalated: bool  # past the local tiers
    started_at: str | None

    @property
    def local_work(self) -> bool:
        return self.local_use and not self.escalated


# Implementer calls per item: how many, and how many on local and on paid backends. The tier,
# not the step, identifies implementer work: fix rounds after a review use the same ladder.
_ITEMS_SQL = """
WITH impl AS (
    SELECT plan_id, item_id, COUNT(*) AS n,
           SUM(is_local) AS local_calls,
           SUM(1 - is_local) AS paid_calls
    FROM calls WHERE tier = 'implementer' AND item_id IS NOT NULL
    GROUP BY plan_id, item_id
)
SELECT i.plan_id, i.item_id, i.kind, i.route, i.state, i.rung, i.attempts, i.escalated,
       i.started_at, COALESCE(impl.n, 0) AS n, COALESCE(impl.local_calls, 0) AS local_calls,
       COALESCE(impl.paid_calls, 0) AS paid_calls
FROM items i LEFT JOIN impl ON impl.plan_id = i.plan_id AND impl.item_id = i.item_id
"""


def item_facts(ledger: Ledger, plan_id: str | None = None,
               since: str | None = None) -> list[ItemFacts]:
    """Every item (of ``plan_id``; started at or after ``since``, an ISO UTC string)."""
    where, params = [], []
    if plan_id is not None:
        where.append("i.plan_id = ?")
        params.append(plan_id)
    if since is not None:
        where.append("i.started_at >= ?")
        params.append(since)
    sql = _ITEMS_SQL + (" WHERE " + " AND ".join(where) if where else "")
    facts = []
    for row in ledger.query(sql + " ORDER BY i.plan_id, i.item_id", params):
        has_calls = row["n"] > 0
        # An item whose tests could not start was never judged: its calls say nothing about
        # whether the local model can do the kind (an environment problem is not the model's).
        judged = row["state"] != "could_not_run"
        local_use = judged and (row["local_calls"] > 0 or (
            not has_calls and row["route"] == "local" and row["attempts"] > 0))
        escalated = local_use and (row["paid_calls"] > 0 or (not has_calls
                                                             and bool(row["escalated"])))
        facts.append(ItemFacts(
            plan_id=row["plan_id"], item_id=row["item_id"], kind=row["kind"] or "(unknown)",
            route=row["route"], state=row["state"], rung=row["rung"],
            attempts=int(row["attempts"] or 0), local_use=local_use, escalated=escalated,
            started_at=row["started_at"]))
    return facts


def latest_grades(ledger: Ledger, plan_id: str | None = None,
                  since: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest grade of each (plan id, item id) — a user's feedback outranks the reviewer's
    earlier grade because it is newer. A grade without a plan keys as plan ``""``."""
    where, params = [], []
    if plan_id is not None:
        where.append("plan_id = ?")
        params.append(plan_id)
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    sql = ("SELECT review_id, COALESCE(plan_id, '') AS plan_id, item_id, kind, grade, "
           "failure_mode, source, ts FROM grades"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts, rowid")
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in ledger.query(sql, params):
        latest[(row["plan_id"], row["item_id"])] = dict(row)
    return latest


def kind_history(ledger: Ledger) -> dict[str, KindStats]:
    """Per task kind: reviewed uses of local work, how many graded acceptable or good, local
    uses and how many of them escalated — what :func:`hybridcode.plan.routing.route_item` reads."""
    grades = latest_grades(ledger)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for item in item_facts(ledger):
        c = counts[item.kind]
        if item.local_use:
            c[2] += 1
            c[3] += item.escalated
        grade = grades.get((item.plan_id, item.item_id))
        if item.local_work and grade is not None:
            c[0] += 1
            c[1] += grade["grade"] in GOOD_GRADES
    return {kind: KindStats(*c) for kind, c in sorted(counts.items())}


def misroutes(items: list[ItemFacts]) -> list[dict[str, Any]]:
    """Items the plan routed local whose local attempts had to be rescued by a paid model."""
    return [{"plan_id": i.plan_id, "item_id": i.item_id, "kind": i.kind, "state": i.state,
             "rung": i.rung, "attempts": i.attempts}
            for i in items if i.route == "local" and i.escalated]


def kind_status(stats: KindStats, settings: Settings) -> tuple[str, str]:
    """(status, why) for one kind under the configured thresholds: ``demoted`` (routes to
    Claude even where the tree says local), ``promoted`` (may route local where the tree says
    Claude, never for security work) or ``neutral`` — with the counts behind it."""
    t = settings.routing
    escalating = (stats.local_uses >= t.demote_min_uses
                  and stats.escalation_rate >= t.demote_escalation_rate)
    if escalating:
        return "demoted", (f"{stats.escalated} of {stats.local_uses} local uses escalated "
                           f"({stats.escalation_rate:.0%} ≥ {t.demote_escalation_rate:.0%})")
    if stats.reviewed >= t.promote_min_reviewed and stats.good_rate >= t.promote_min_good_rate:
        return "promoted", (f"{stats.acceptable_or_good} of {stats.reviewed} reviewed local "
                            f"uses acceptable or good ({stats.good_rate:.0%} ≥ "
                            f"{t.promote_min_good_rate:.0%})")
    needs = []
    if stats.reviewed < t.promote_min_reviewed:
        needs.append(f"{stats.reviewed} of {t.promote_min_reviewed} reviewed uses needed to "
                     "promote")
    elif stats.good_rate < t.promote_min_good_rate:
        needs.append(f"{stats.good_rate:.0%} acceptable or good, below "
                     f"{t.promote_min_good_rate:.0%}")
    if stats.local_uses < t.demote_min_uses:
        needs.append(f"{stats.local_uses} of {t.demote_min_uses} local uses before "
                     "escalations can demote")
    else:
        needs.append(f"escalation rate {stats.escalation_rate:.0%} below "
                     f"{t.demote_escalation_rate:.0%}")
    return "neutral", "; ".join(needs)


def routing_report(ledger: Ledger, settings: Settings) -> dict[str, Any]:
    """What ``hybrid stats --routing`` shows: the thresholds, each kind's record and status,
    and the misroutes."""
    history = kind_history(ledger)
    kinds = []
    for kind, stats in history.items():
        status, why = kind_status(stats, settings)
        kinds.append({"kind": kind, **stats.as_dict(),
                      "good_rate": round(stats.good_rate, 4),
                      "escalation_rate": round(stats.escalation_rate, 4),
                      "status": status, "why": why})
    return {"thresholds": settings.routing.model_dump(), "kinds": kinds,
            "misroutes": misroutes(item_facts(ledger))}
