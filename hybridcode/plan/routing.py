"""Routing: who implements each spec item, the local model or Claude — decided by an explicit,
explainable tree (docs/routing.md), moved by per-kind history, overridden by the user.

Every decision carries the rule that fired, a one-line reason and the evidence (the facts and
counts behind it), so the ledger can log it and ``hybrid stats --routing`` can explain it.

    1. user override (--route ITEM=…, or route_overridden in the spec)  → as chosen
    1b. the planner wrote the item's code in the spec                   → plan (no model call;
        the code is placed, tested and reviewed like any other; the reason gives the sizing
        the planner weighed: hybridcode.plan.sizing)
    2. security-sensitive flag or security category                     → claude (always)
    3. Claude signals: multi-step reasoning, broad knowledge, cross-file,
       more than N constraints, algorithm/integration/architecture      → claude
    4. look-alike of a pattern in the repository (``like``)             → local
    4b. routine category (extraction, crud, parsing, …)                 → local
    5. doc, test or config kind                                         → local
    6. function or method with a fixed signature                        → local
    7. anything else                                                    → claude (safe default)

History then moves the line: a task kind whose local attempts keep escalating goes to Claude;
a task kind with enough well-graded reviews goes local even where steps 3 or 7 said Claude —
never past step 2.

The planner decides, before it writes an item, whether delegating it pays (its sizing); the
evidence records the figures (:mod:`hybridcode.plan.sizing`), and a delegated item whose
figures say it did not pay keeps its route — its spec is already paid for, so the local model
is still the cheapest way on — with the reason saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hybridcode.config import Price, RoutingThresholds
from hybridcode.errors import UsageError
from hybridcode.spec import Route, Spec, SpecItem
from hybridcode.ledger.history import KindStats  # what the ledger knows per task kind
from hybridcode.plan.sizing import Sizing, size_item

LOCAL_CATEGORIES = frozenset({
    "extraction", "classification", "boilerplate", "crud", "data_transformation", "validation",
    "parsing", "docstring", "test",
})
CLAUDE_CATEGORIES = frozenset({"algorithm", "integration", "architecture"})
LOCAL_KINDS = frozenset({"doc", "test", "config"})
SIGNATURE_KINDS = frozenset({"function", "method"})
ROUTES: tuple[Route, ...] = ("local", "claude")  # what --route may choose
ALL_ROUTES: tuple[Route, ...] = ("local", "claude", "plan")


DEFAULT_THRESHOLDS = RoutingThresholds()


@dataclass(frozen=True)
class RouteDecision:
    route: Route
    reason: str
    rule: str  # which step decided: override, security, claude-signal, local-category, …
    evidence: dict[str, Any] = field(default_factory=dict)
    overridden: bool = False


def task_kind(item: SpecItem) -> str:
    """The key history is kept under: ``category/kind``, e.g. ``crud/function``."""
    return f"{item.category}/{item.kind}"


def _tree(item: SpecItem, t: RoutingThresholds) -> tuple[Route, str, str]:
    """Steps 2–7: (route, rule, reason) from the item alone."""
    if item.risk.security_sensitive or item.category == "security":
        return "claude", "security", "security-critical code goes to Claude"
    signals = []
    if item.risk.multi_step_reasoning:
        signals.append("needs multi-step reasoning")
    if item.risk.broad_knowledge:
        signals.append("needs broad knowledge")
    if item.risk.cross_file:
        signals.append("cross-file change")
    if len(item.constraints) > t.max_local_constraints:
        signals.append(f"{len(item.constraints)} constraints (more than "
                       f"{t.max_local_constraints})")
    if item.category in CLAUDE_CATEGORIES:
        signals.append(f"{item.category} work")
    if signals:
        return "claude", "claude-signal", "; ".join(signals)
    if item.like:
        return "local", "look-alike", f"follows the pattern of {item.like}"
    if item.category in LOCAL_CATEGORIES:
        return "local", "local-category", f"routine {item.category.replace('_', ' ')} work"
    if item.kind in LOCAL_KINDS:
        return "local", "local-kind", f"{item.kind} item"
    if item.kind in SIGNATURE_KINDS and item.signature.strip():
        return "local", "fixed-signature", f"single {item.kind} with a fixed signature"
    return "claude", "default", "no local signal; Claude is the safe default"


def written_in_plan(item: SpecItem, sizing: Sizing | None = None) -> tuple[str, str] | None:
    """(rule, reason) when the planner wrote the item's code, with the sizing it weighed."""
    if not (item.code or "").strip():
        return None
    if sizing is not None:
        why = ("delegating would not pay" if not sizing.pays
               else "the planner wrote it although delegating would pay")
        return "written-in-plan", f"written in the plan ({why}): {sizing.figures()}"
    code, spec = item.code_size(), item.spec_size()
    if code <= spec:
        return "written-in-plan", (f"written in the plan: ~{code} tokens of code, cheaper than "
                                   f"the ~{spec} tokens its spec would need on its own")
    return "written-in-plan", (f"written in the plan: ~{code} tokens of code against a "
                               f"~{spec}-token spec (a spec alone would have been cheaper)")


def _with_sizing(decision: RouteDecision, sizing: Sizing | None) -> RouteDecision:
    """A local decision carries whether delegating paid; the route stays (the spec is paid)."""
    if sizing is None or decision.route != "local" or decision.overridden:
        return decision
    reason = (f"{decision.reason}; {sizing.figures()}" if sizing.pays else
              f"{decision.reason}; delegated though it does not pay ({sizing.figures()}, under "
              f"the ${sizing.margin_usd:.4f} margin) — the spec is written, so the local model "
              "is still the cheapest way on")
    return RouteDecision(decision.route, reason, decision.rule, decision.evidence,
                         decision.overridden)


def route_item(item: SpecItem, history: KindStats | None = None, override: str | None = None,
               thresholds: RoutingThresholds = DEFAULT_THRESHOLDS,
               price: Price | None = None) -> RouteDecision:
    """Decide one item's route. ``history`` is the item's task kind's record, if any;
    ``price`` the planner's model's (it prices the sizing; default Sonnet's)."""
    sizing = size_item(item, history, thresholds, price)
    decision = _route_item(item, history, override, thresholds, sizing)
    if sizing is not None:
        decision.evidence["sizing"] = sizing.as_dict()
    return _with_sizing(decision, sizing)


def _route_item(item: SpecItem, history: KindStats | None, override: str | None,
                thresholds: RoutingThresholds, sizing: Sizing | None) -> RouteDecision:
    t = thresholds
    route, rule, reason = _tree(item, t)
    evidence: dict[str, Any] = {
        "task_kind": task_kind(item),
        "constraints": len(item.constraints),
        "risk": item.risk.raised(),
        "signature": bool(item.signature.strip()),
        "tree": {"route": route, "rule": rule},
        "history": history.as_dict() if history else None,
        "thresholds": t.model_dump(),
        "spec_tokens": item.spec_size(),
        "code_tokens": item.code_size(),
    }
    if override is not None and override == "plan" and (item.code or "").strip():
        return RouteDecision("plan", "override by user: the code written in the plan",
                             "override", evidence, overridden=True)
    if override is not None:
        if override not in ROUTES:
            raise UsageError(f'route "{override}" for item "{item.id}" is not local or claude',
                             f"use --route {item.id}=local or --route {item.id}=claude")
        chosen: Route = "local" if override == "local" else "claude"
        return RouteDecision(chosen, f"override by user (routing said {route}: {reason})",
                             "override", evidence, overridden=True)
    planned = written_in_plan(item, sizing)
    if planned is not None:
        return RouteDecision("plan", planned[1], planned[0], evidence)
    if history is None:
        return RouteDecision(route, reason, rule, evidence)
    kind = task_kind(item)
    escalating = (history.local_uses >= t.demote_min_uses
                  and history.escalation_rate >= t.demote_escalation_rate)
    if escalating and route == "local":
        return RouteDecision(
            "claude",
            f"history: {history.escalated} of {history.local_uses} local {kind} attempts "
            f"escalated ({history.escalation_rate:.0%} ≥ {t.demote_escalation_rate:.0%}); "
            f"the tree said local: {reason}",
            "history-demote", evidence)
    # Good grades never outweigh escalations: they may be grades of Claude's rescue work.
    if (route == "claude" and rule != "security" and not escalating
            and history.reviewed >= t.promote_min_reviewed
            and history.good_rate >= t.promote_min_good_rate):
        return RouteDecision(
            "local",
            f"history: {history.acceptable_or_good} of {history.reviewed} reviewed {kind} items "
            f"acceptable or good ({history.good_rate:.0%} ≥ {t.promote_min_good_rate:.0%}); "
            f"the tree said claude: {reason}",
            "history-promote", evidence)
    return RouteDecision(route, reason, rule, evidence)


def parse_route_overrides(values: Iterable[str]) -> dict[str, Route]:
    """``["store=local", "login=claude"]`` (from ``--route``) → ``{"store": "local", …}``."""
    overrides: dict[str, Route] = {}
    for value in values:
        item_id, sep, route = value.partition("=")
        item_id, route = item_id.strip(), route.strip().lower()
        if not sep or not item_id or route not in ROUTES:
            raise UsageError(f'--route "{value}" is not ITEM=local or ITEM=claude',
                             "e.g. --route ratelimit-store=claude")
        overrides[item_id] = "local" if route == "local" else "claude"
    return overrides


def route_decisions(spec: Spec, overrides: Mapping[str, str] | None = None,
                    history: Mapping[str, KindStats] | None = None,
                    thresholds: RoutingThresholds = DEFAULT_THRESHOLDS,
                    price: Price | None = None) -> dict[str, RouteDecision]:
    """One decision per item id. A route a person pinned in the spec is kept unless overridden
    again; ``history`` maps :func:`task_kind` keys to their records."""
    overrides = dict(overrides or {})
    known = {item.id for item in spec.items}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UsageError(f'--route names unknown item "{unknown[0]}"',
                         f"items in this plan: {', '.join(sorted(known))}")
    decisions = {}
    for item in spec.items:
        override = overrides.get(item.id)
        if override is None and item.route_overridden and item.route is not None:
            decision = route_item(item, (history or {}).get(task_kind(item)), item.route,
                                  thresholds, price)
            if item.route_reason:
                decision = RouteDecision(decision.route, item.route_reason, decision.rule,
                                         decision.evidence, overridden=True)
        else:
            decision = route_item(item, (history or {}).get(task_kind(item)), override,
                                  thresholds, price)
        decisions[item.id] = decision
    return decisions


def route_spec(spec: Spec, overrides: Mapping[str, str] | None = None,
               history: Mapping[str, KindStats] | None = None,
               thresholds: RoutingThresholds = DEFAULT_THRESHOLDS,
               price: Price | None = None) -> Spec:
    """A copy of ``spec`` with ``route``, ``route_reason`` and ``route_overridden`` set."""
    decisions = route_decisions(spec, overrides, history, thresholds, price)
    items = []
    for item in spec.items:
        decision = decisions[item.id]
        items.append(item.model_copy(update={"route": decision.route,
                                             "route_reason": decision.reason,
                                             "route_overridden": decision.overridden}))
    return spec.model_copy(update={"items": items})
