"""The figures of ``hybrid stats``: pure queries over the ledger, returned as plain data.

    stats = compute_stats(ledger, settings, since=None, plan_id=None, by="tier")
    stats.as_dict()          # exactly what ``hybrid stats --json`` prints

Money: ``cost_usd`` is what the calls cost (a NULL cost — a model without a price — is never
counted as $0: such calls are counted and named as unpriced). The all-Claude counterfactual is
the sum of each call's ``counterfactual_usd``, which the Caller computed when the call was made
(docs/costs.md); the saving is counterfactual − cost. Both sides leave unpriced calls out,
because the Caller records their counterfactual as 0. What each figure means: docs/stats.md.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from hybridcode.ledger.calls import utc_iso
from hybridcode.ledger.history import (GOOD_GRADES, GRADES, ItemFacts, item_facts,
                                       latest_grades, misroutes)
from hybridcode.ledger.redact import one_line, redact

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger

GroupBy = Literal["tier", "step", "kind", "day", "model"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)

# Implement-stage attempt outcomes that count as a failure towards the circuit breaker.
FAILED_ATTEMPTS = frozenset({"test_failed", "syntax_error", "placement_error", "refused",
                             "model_error"})
BREAKER_STREAK = 3  # the implement stage switches a rung off after this many failures in a row
FINETUNE_MIN_POOR = 3
EXCERPT_CHARS = 160

METHOD = ("each local call priced as if {model} had read the same input (uncached) and "
          "written the same output; Claude calls at their recorded cost; saving = "
          "counterfactual − actual; Claude itself would have used other token counts and "
          "attempts")
DIRECT_METHOD = ("the direct floor — Claude implementing the request itself: the repository "
                 "context the planner read (request, map, named sources; not hybrid's "
                 "instructions and schema) as input and the final diff's added lines as "
                 "output (tests generated from examples counted at the examples' size), "
                 "both at 3.3 characters a token, uncached at {model}'s price, plus the same "
                 "review (the last review's recorded cost); saving = direct − actual")

# Below half a hundredth of a cent, a difference is no difference (usd() shows 4 decimals).
EVEN_USD = 0.00005


def saving_outcome(saving_usd: float | None) -> str | None:
    """What a saving figure means, so no reader has to interpret its sign: ``saved``,
    ``cost_more`` (hybrid spent more than the counterfactual) or ``even``."""
    if saving_usd is None:
        return None
    if abs(saving_usd) < EVEN_USD:
        return "even"
    return "saved" if saving_usd > 0 else "cost_more"


_GROUP_SQL = {
    "tier": "c.tier",
    "step": "c.step",
    "model": "c.model",
    "day": "substr(c.ts, 1, 10)",
    "kind": "COALESCE(NULLIF(i.kind, ''), '(no item)')",
}


@dataclass
class Spend:
    """Calls, tokens and money of one group of calls (or of all of them)."""

    key: str = "total"
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    counterfactual_usd: float = 0.0
    local_calls: int = 0


@dataclass
class Stats:
    filters: dict[str, Any]
    totals: Spend
    budget_stops: int
    unpriced_models: list[str]
    groups: list[Spend]
    by_day: list[Spend]
    by_tier: list[Spend]
    cache: dict[str, Any]
    counterfactual: dict[str, Any]
    direct: dict[str, Any]
    kinds: list[dict[str, Any]]
    breaker_trips: list[dict[str, Any]]
    misroutes: list[dict[str, Any]]
    finetune_candidates: list[dict[str, Any]]
    items: int = 0

    @property
    def empty(self) -> bool:
        return self.totals.calls == 0 and self.budget_stops == 0 and self.items == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------- spend

def _where(since: str | None, plan_id: str | None) -> tuple[str, list[Any]]:
    where, params = ["c.outcome != 'budget'"], []
    if since is not None:
        where.append("c.ts >= ?")
        params.append(since)
    if plan_id is not None:
        where.append("c.plan_id = ?")
        params.append(plan_id)
    return " WHERE " + " AND ".join(where), params


def _spend(ledger: Ledger, by: str | None, since: str | None,
           plan_id: str | None) -> list[Spend]:
    key = _GROUP_SQL[by] if by else "'total'"
    where, params = _where(since, plan_id)
    sql = (f"SELECT {key} AS key, COUNT(*) AS calls, "
           "TOTAL(c.input_tokens) AS input_tokens, TOTAL(c.output_tokens) AS output_tokens, "
           "TOTAL(c.cache_write_tokens) AS cache_write_tokens, "
           "TOTAL(c.cache_read_tokens) AS cache_read_tokens, TOTAL(c.cost_usd) AS cost_usd, "
           "SUM(c.cost_usd IS NULL) AS unpriced_calls, "
           "TOTAL(c.counterfactual_usd) AS counterfactual_usd, SUM(c.is_local) AS local_calls "
           "FROM calls c LEFT JOIN items i ON i.plan_id = c.plan_id AND i.item_id = c.item_id"
           f"{where} GROUP BY key ORDER BY key")
    out = []
    for row in ledger.query(sql, params):
        out.append(Spend(key=str(row["key"]), calls=row["calls"],
                         input_tokens=int(row["input_tokens"]),
                         output_tokens=int(row["output_tokens"]),
                         cache_write_tokens=int(row["cache_write_tokens"]),
                         cache_read_tokens=int(row["cache_read_tokens"]),
                         cost_usd=float(row["cost_usd"]), unpriced_calls=row["unpriced_calls"],
                         counterfactual_usd=float(row["counterfactual_usd"]),
                         local_calls=row["local_calls"]))
    return out


def _cache(ledger: Ledger, since: str | None, plan_id: str | None) -> dict[str, Any]:
    """Claude's prompt-cache hit rate: cache-read tokens over all input Anthropic read."""
    where, params = _where(since, plan_id)
    row = ledger.query(
        "SELECT COUNT(*) AS calls, TOTAL(c.cache_read_tokens) AS read, "
        "TOTAL(c.input_tokens + c.cache_write_tokens + c.cache_read_tokens) AS cacheable "
        f"FROM calls c{where} AND c.backend = 'anthropic'", params)[0]
    read, cacheable = int(row["read"]), int(row["cacheable"])
    # What the Anthropic backend recorded about its breakpoints (calls made before it did
    # have no such facts and are not counted here).
    facts = ledger.query(
        "SELECT c.model, json_extract(c.extra, '$.cache_min_tokens') AS minimum, "
        "COUNT(*) AS calls, "
        "TOTAL(json_extract(c.extra, '$.cache_short_breakpoints')) AS short, "
        "SUM(json_extract(c.extra, '$.cache_uncached') = 1) AS uncached "
        f"FROM calls c{where} AND json_extract(c.extra, '$.cache_breakpoints') > 0 "
        "GROUP BY c.model ORDER BY c.model", params)
    not_cached = [{"model": r["model"], "min_cache_tokens": r["minimum"] or 0,
                   "calls": r["calls"], "short_breakpoints": int(r["short"]),
                   "calls_without_cache": int(r["uncached"] or 0)}
                  for r in facts if r["short"] or r["uncached"]]
    ttls = {r[0]: r[1] for r in ledger.query(
        "SELECT json_extract(c.extra, '$.cache_ttl') AS ttl, COUNT(*) "
        f"FROM calls c{where} AND json_extract(c.extra, '$.cache_ttl') IS NOT NULL "
        "GROUP BY ttl", params)}
    return {"anthropic_calls": row["calls"], "cache_read_tokens": read,
            "input_tokens": cacheable, "hit_rate": read / cacheable if cacheable else None,
            "ttl_calls": ttls, "not_cached": not_cached}


def _counterfactual(settings: Settings, totals: Spend) -> dict[str, Any]:
    saving = totals.counterfactual_usd - totals.cost_usd
    cf = totals.counterfactual_usd
    return {"model": settings.counterfactual, "counterfactual_usd": cf,
            "actual_usd": totals.cost_usd, "saving_usd": saving,
            "saving_pct": saving / cf * 100 if cf else None,
            "outcome": saving_outcome(saving), "estimate": True,
            "method": METHOD.format(model=settings.counterfactual),
            "unpriced_calls_excluded": totals.unpriced_calls}


def _direct(ledger: Ledger, settings: Settings, since: str | None, plan_id: str | None,
            actual_usd: float) -> dict[str, Any]:
    """Counterfactual (b), the direct floor, per plan with a review: Claude implementing the
    request itself — the repository context the planner read as input, the final diff's added
    lines as output (a test file generated from examples at the size of those examples), both
    at one characters-a-token convention, priced on the planner's model (or ``floor_model``),
    plus the same review. Plans without a recorded review (no final diff yet) are left out."""
    where, params = _where(since, plan_id)
    plans = [r[0] for r in ledger.query(
        f"SELECT DISTINCT c.plan_id FROM calls c{where} AND c.plan_id IS NOT NULL "
        "ORDER BY 1", params)]
    input_tokens = output_tokens = legacy = 0
    writing = review_usd = 0.0
    covered: list[str] = []
    models: set[str] = set()
    for plan in plans:
        first = ledger.query(
            "SELECT model, input_tokens + cache_write_tokens + cache_read_tokens AS whole, "
            "json_extract(extra, '$.context_tokens') AS context FROM calls "
            "WHERE plan_id = ? AND tier = 'planner' AND outcome != 'budget' "
            "ORDER BY id LIMIT 1", (plan,))
        last_review = ledger.query(
            "SELECT run_id FROM calls WHERE plan_id = ? AND tier = 'reviewer' AND "
            "json_extract(extra, '$.diff_tokens') IS NOT NULL ORDER BY id DESC LIMIT 1", (plan,))
        if not first or not last_review:
            continue
        model = settings.floor_model or first[0]["model"]
        price = settings.price_for(model)
        if price is None:
            continue
        review = ledger.query(
            "SELECT TOTAL(json_extract(extra, '$.diff_tokens')) AS diff, TOTAL(cost_usd) AS usd "
            "FROM calls WHERE plan_id = ? AND tier = 'reviewer' AND run_id IS ?",
            (plan, last_review[0][0]))[0]
        # Plans planned before the context was recorded: the planner's whole input (more
        # than the context, so such a floor is higher than it should be).
        context = first[0]["context"]
        read = int(context) if context is not None else int(first[0]["whole"])
        legacy += context is None
        covered.append(plan)
        models.add(model)
        input_tokens += read
        output_tokens += int(review["diff"])
        writing += (read * price.input + int(review["diff"]) * price.output) / 1_000_000
        review_usd += float(review["usd"])
    model = (next(iter(models)) if len(models) == 1
             else settings.floor_model or "the planner's model of each plan")
    base = {"model": model, "plans": len(covered),
            "plans_without_review": len(plans) - len(covered), "estimate": True,
            "method": DIRECT_METHOD.format(model=model)}
    if not covered:
        return {**base, "direct_usd": None, "actual_usd": actual_usd, "saving_usd": None,
                "saving_pct": None, "outcome": None, "ratio": None, "escalation_usd": None}
    direct = writing + review_usd
    actual = _plans_cost(ledger, covered)
    escalation = _escalation_cost(ledger, covered)
    return {**base, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "plans_with_legacy_input": legacy,
            "writing_usd": writing, "review_usd": review_usd, "direct_usd": direct,
            "actual_usd": actual, "saving_usd": direct - actual,
            "saving_pct": (direct - actual) / direct * 100 if direct else None,
            "outcome": saving_outcome(direct - actual),
            "ratio": actual / direct if direct else None,
            "escalation_usd": escalation,
            "ratio_without_escalations": (actual - escalation) / direct if direct else None}


def _escalation_cost(ledger: Ledger, plans: list[str]) -> float:
    """Claude implementer calls of items the plan routed local: what local failures cost. The
    promise (Claude spend ≤ 1.05 × the floor) is stated without them, and they are shown."""
    marks = ", ".join("?" for _ in plans)
    return float(ledger.query(
        "SELECT TOTAL(c.cost_usd) FROM calls c JOIN items i ON i.plan_id = c.plan_id AND "
        "i.item_id = c.item_id WHERE c.tier = 'implementer' AND c.is_local = 0 AND "
        f"i.route = 'local' AND c.outcome != 'budget' AND c.plan_id IN ({marks})",
        plans)[0][0])


def _plans_cost(ledger: Ledger, plans: list[str]) -> float:
    marks = ", ".join("?" for _ in plans)
    return float(ledger.query(
        f"SELECT TOTAL(cost_usd) FROM calls WHERE outcome != 'budget' AND plan_id IN ({marks})",
        plans)[0][0])


def usual_claude_gap_s(ledger: Ledger, last: int = 200) -> float | None:
    """The median gap in seconds between consecutive Claude calls of the same plan, over the
    ledger's most recent ``last`` Claude calls; None without two such calls. It is the
    expected gap that ``anthropic.cache_ttl = "auto"`` chooses the cache lifetime from."""
    rows = ledger.query(
        "SELECT plan_id, ts FROM (SELECT plan_id, ts, id FROM calls WHERE backend = 'anthropic' "
        "AND plan_id IS NOT NULL ORDER BY id DESC LIMIT ?) ORDER BY plan_id, ts", (last,))
    gaps: list[float] = []
    for a, b in zip(rows, rows[1:]):
        if a["plan_id"] == b["plan_id"]:
            gaps.append((datetime.fromisoformat(b["ts"])
                         - datetime.fromisoformat(a["ts"])).total_seconds())
    if not gaps:
        return None
    gaps.sort()
    return gaps[len(gaps) // 2]


# ---------------------------------------------------------------------------- task kinds

def _item_tokens(ledger: Ledger, plan_id: str | None) -> dict[tuple[str, str], int]:
    sql = ("SELECT plan_id, item_id, TOTAL(input_tokens + output_tokens + cache_write_tokens "
           "+ cache_read_tokens) AS tokens FROM calls WHERE item_id IS NOT NULL"
           + (" AND plan_id = ?" if plan_id else "") + " GROUP BY plan_id, item_id")
    return {(r["plan_id"], r["item_id"]): int(r["tokens"])
            for r in ledger.query(sql, [plan_id] if plan_id else [])}


def _attempt_counts(ledger: Ledger, plan_id: str | None) -> dict[tuple[str, str], int]:
    sql = ("SELECT plan_id, item_id, COUNT(*) AS n FROM attempts"
           + (" WHERE plan_id = ?" if plan_id else "") + " GROUP BY plan_id, item_id")
    return {(r["plan_id"], r["item_id"]): r["n"]
            for r in ledger.query(sql, [plan_id] if plan_id else [])}


def _kinds(ledger: Ledger, items: list[ItemFacts], grades: dict[tuple[str, str], dict[str, Any]],
           plan_id: str | None) -> list[dict[str, Any]]:
    tokens = _item_tokens(ledger, plan_id)
    attempts = _attempt_counts(ledger, plan_id)
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "items": 0, "attempts": 0, "escalated": 0, "tokens": 0,
        "grades": dict.fromkeys(GRADES, 0)})
    for item in items:
        row = rows[item.kind]
        key = (item.plan_id, item.item_id)
        row["items"] += 1
        # The attempts table is the record; the items column covers ledgers without it.
        row["attempts"] += attempts.get(key, item.attempts)
        row["escalated"] += item.escalated
        row["tokens"] += tokens.get(key, 0)
    for grade in grades.values():
        if grade["grade"] in GRADES:
            rows[grade["kind"] or "(unknown)"]["grades"][grade["grade"]] += 1
    out = []
    for kind, row in sorted(rows.items()):
        n, graded = row["items"], sum(row["grades"].values())
        good = sum(row["grades"][g] for g in GOOD_GRADES)
        out.append({
            "kind": kind, "items": n, "attempts": row["attempts"],
            "attempts_per_item": row["attempts"] / n if n else None,
            "escalated": row["escalated"], "escalation_rate": row["escalated"] / n if n else None,
            "grades": row["grades"], "graded": graded,
            "acceptance_rate": good / graded if graded else None,
            "avg_tokens": row["tokens"] / n if n else None,
        })
    return out


# ---------------------------------------------------------------------------- breaker

def breaker_trips(ledger: Ledger, since: str | None = None,
                  plan_id: str | None = None) -> list[dict[str, Any]]:
    """Rungs switched off by the circuit breaker, with the errors that tripped them.

    An explicit record wins: an attempt whose outcome starts with ``breaker``. Otherwise the
    trip is derived the way the implement stage's ``CircuitBreaker`` decides it: on one rung
    within one run, ``BREAKER_STREAK`` failures in a row across items in time order (failed
    attempts; failed implementer calls in a run without attempt rows); a pass resets the count.
    """
    where, params = ["1 = 1"], []
    if since is not None:
        where.append("a.ts >= ?")
        params.append(since)
    if plan_id is not None:
        where.append("a.plan_id = ?")
        params.append(plan_id)
    events: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in ledger.query(
            "SELECT a.id, a.ts, a.plan_id, a.item_id, a.run_id, a.rung, a.model, a.outcome, "
            "a.feedback, c.error FROM attempts a LEFT JOIN calls c ON c.id = a.call_id WHERE "
            + " AND ".join(where), params):
        events[(r["run_id"] or "", r["rung"])].append({
            "ts": r["ts"], "plan_id": r["plan_id"], "item_id": r["item_id"],
            "model": r["model"], "outcome": r["outcome"],
            "error": r["error"] or r["feedback"] or ""})
    # Failed calls stand in for attempts only in runs that recorded none: elsewhere the
    # attempt of a failed call (outcome model_error) already counts it.
    cwhere = [w.replace("a.", "c.") for w in where]
    for r in ledger.query(
            "SELECT c.ts, c.plan_id, c.item_id, c.run_id, c.rung, c.model, c.outcome, c.error "
            "FROM calls c WHERE c.tier = 'implementer' AND c.outcome IN ('error', "
            "'invalid_output') AND c.rung IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attempts "
            "a WHERE a.run_id IS c.run_id) AND " + " AND ".join(cwhere), params):
        events[(r["run_id"] or "", r["rung"])].append({
            "ts": r["ts"], "plan_id": r["plan_id"], "item_id": r["item_id"],
            "model": r["model"], "outcome": r["outcome"], "error": r["error"] or ""})
    trips = []
    for (run_id, rung), seq in sorted(events.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        seq.sort(key=lambda e: e["ts"])
        streak: list[dict[str, Any]] = []
        for event in seq:
            if event["outcome"].startswith("breaker"):
                trips.append(_trip(run_id, rung, event, streak or [event], "recorded"))
                break
            if event["outcome"] == "generated":  # not verified yet: neither pass nor fail
                continue
            streak = streak + [event] if _failed(event["outcome"]) else []
            if len(streak) == BREAKER_STREAK:
                trips.append(_trip(run_id, rung, event, streak, "derived"))
                break
    return trips


def _failed(outcome: str) -> bool:
    return outcome in FAILED_ATTEMPTS or outcome in ("error", "invalid_output")


def _trip(run_id: str, rung: int, last: dict[str, Any], failures: list[dict[str, Any]],
          how: str) -> dict[str, Any]:
    return {"run_id": run_id or None, "plan_id": last["plan_id"], "rung": rung,
            "model": last["model"], "at": last["ts"], "source": how,
            "errors": [{"item_id": f["item_id"], "outcome": f["outcome"],
                        "error": one_line(redact(f["error"]), 200)} for f in failures]}


# ---------------------------------------------------------------------------- fine-tuning

def normalize_failure_mode(text: str | None) -> str:
    """Failure modes match case-, space- and punctuation-insensitively."""
    return " ".join(re.sub(r"[^\w\s-]", " ", (text or "").lower()).split())


def finetune_candidates(ledger: Ledger, items: list[ItemFacts],
                        min_poor: int = FINETUNE_MIN_POOR) -> list[dict[str, Any]]:
    """Task kinds with ``min_poor`` or more local-work items graded poor for the same failure
    mode: what a LoRA on exported examples (``hybrid export``) could fix."""
    local_work = {(i.plan_id, i.item_id): i for i in items if i.local_work}
    groups: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for g in ledger.query("SELECT COALESCE(plan_id, '') AS plan_id, item_id, kind, "
                          "failure_mode, ts FROM grades WHERE grade = 'poor' ORDER BY ts"):
        key = (g["plan_id"], g["item_id"])
        mode = normalize_failure_mode(g["failure_mode"])
        if key in local_work and mode:
            groups[(local_work[key].kind, mode)][key] = dict(g)
    out = []
    for (kind, mode), graded in sorted(groups.items()):
        if len(graded) < min_poor:
            continue
        example = list(graded.values())[-1]
        out.append({"kind": kind, "failure_mode": mode, "count": len(graded),
                    "example": {"plan_id": example["plan_id"], "item_id": example["item_id"],
                                "failure_mode": example["failure_mode"],
                                "excerpt": _excerpt(ledger, example)}})
    return sorted(out, key=lambda c: (-c["count"], c["kind"], c["failure_mode"]))


def _excerpt(ledger: Ledger, grade: dict[str, Any]) -> str:
    rows = ledger.query("SELECT output FROM attempts WHERE plan_id = ? AND item_id = ? "
                        "AND output IS NOT NULL AND ts <= ? ORDER BY ts DESC LIMIT 1",
                        (grade["plan_id"], grade["item_id"], grade["ts"]))
    text = rows[0]["output"] if rows else grade["failure_mode"] or ""
    return one_line(redact(text), EXCERPT_CHARS)


# ---------------------------------------------------------------------------- all of it

def compute_stats(ledger: Ledger, settings: Settings, since: datetime | None = None,
                  plan_id: str | None = None, by: GroupBy = "tier") -> Stats:
    if by not in GROUP_BYS:
        raise ValueError(f"by must be one of {', '.join(GROUP_BYS)}")
    since_iso = utc_iso(since) if since is not None else None
    totals = (_spend(ledger, None, since_iso, plan_id) or [Spend()])[0]
    items = item_facts(ledger, plan_id, since_iso)
    grades = latest_grades(ledger, plan_id, since_iso)
    where, params = _where(since_iso, plan_id)
    stops = ledger.query("SELECT COUNT(*) FROM calls c" + where.replace(
        "c.outcome != 'budget'", "c.outcome = 'budget'"), params)[0][0]
    unpriced = [r[0] for r in ledger.query(
        f"SELECT DISTINCT c.model FROM calls c{where} AND c.cost_usd IS NULL ORDER BY 1", params)]
    counts = Counter(i.kind for i in items)
    return Stats(
        filters={"since": since_iso, "plan_id": plan_id, "by": by},
        totals=totals,
        budget_stops=stops,
        unpriced_models=unpriced,
        groups=_spend(ledger, by, since_iso, plan_id),
        by_day=_spend(ledger, "day", since_iso, plan_id),
        by_tier=_spend(ledger, "tier", since_iso, plan_id),
        cache=_cache(ledger, since_iso, plan_id),
        counterfactual=_counterfactual(settings, totals),
        direct=_direct(ledger, settings, since_iso, plan_id, totals.cost_usd),
        kinds=_kinds(ledger, items, grades, plan_id),
        breaker_trips=breaker_trips(ledger, since_iso, plan_id),
        misroutes=misroutes(items),
        finetune_candidates=finetune_candidates(ledger, items),
        items=sum(counts.values()),
    )
