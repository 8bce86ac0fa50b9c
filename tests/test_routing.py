"""Routing: the decision tree, history thresholds on both sides, and user overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hybridcode.errors import UsageError
from hybridcode.plan.routing import (
    KindStats,
    RoutingThresholds,
    parse_route_overrides,
    route_decisions,
    route_item,
    route_spec,
    task_kind,
)
from hybridcode.spec import SpecItem, load_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "ratelimit.json"


def make_item(**fields: Any) -> SpecItem:
    """A plain module-level function of category `other`: local only for its fixed signature."""
    base: dict[str, Any] = {
        "id": "item", "title": "An item", "kind": "function", "category": "other",
        "file": "app/x.py", "symbol": "f", "action": "create",
        "signature": "def f(x: int) -> int", "description": "Does f.",
        "tests": {"code": "def test_f():\n    pass\n"},
    }
    base.update(fields)
    return SpecItem.model_validate(base)


def risk(**flags: bool) -> dict[str, bool]:
    return flags


TREE = [
    # (fields, route, rule)
    ({}, "local", "fixed-signature"),
    ({"kind": "method", "symbol": "C.f"}, "local", "fixed-signature"),
    ({"signature": ""}, "claude", "default"),
    ({"kind": "class", "symbol": "C", "signature": "class C:"}, "claude", "default"),
    ({"kind": "module", "symbol": None}, "claude", "default"),
    ({"kind": "doc", "symbol": None, "signature": ""}, "local", "local-kind"),
    ({"kind": "test", "symbol": None, "signature": ""}, "local", "local-kind"),
    ({"kind": "config", "symbol": None, "signature": ""}, "local", "local-kind"),
    *[({"kind": "class", "symbol": "C", "category": c}, "local", "local-category")
      for c in ("extraction", "classification", "boilerplate", "crud", "data_transformation",
                "validation", "parsing", "docstring", "test")],
    *[({"category": c}, "claude", "claude-signal")
      for c in ("algorithm", "integration", "architecture")],
    ({"category": "security"}, "claude", "security"),
    ({"risk": risk(security_sensitive=True)}, "claude", "security"),
    ({"risk": risk(security_sensitive=True), "category": "crud"}, "claude", "security"),
    ({"risk": risk(cross_file=True)}, "claude", "claude-signal"),
    ({"risk": risk(multi_step_reasoning=True)}, "claude", "claude-signal"),
    ({"risk": risk(broad_knowledge=True)}, "claude", "claude-signal"),
    ({"risk": risk(cross_file=True), "kind": "doc", "symbol": None}, "claude", "claude-signal"),
    ({"risk": risk(broad_knowledge=True), "category": "crud"}, "claude", "claude-signal"),
    ({"constraints": ["c"] * 4, "category": "crud"}, "local", "local-category"),
    ({"constraints": ["c"] * 5, "category": "crud"}, "claude", "claude-signal"),
]


@pytest.mark.parametrize("fields, route, rule", TREE)
def test_decision_tree(fields, route, rule) -> None:
    decision = route_item(make_item(**fields))
    assert (decision.route, decision.rule, decision.overridden) == (route, rule, False)
    assert decision.reason
    assert decision.evidence["tree"] == {"route": route, "rule": rule}


def test_reasons_name_what_fired() -> None:
    item = make_item(constraints=["c"] * 5, category="integration",
                     risk=risk(cross_file=True, multi_step_reasoning=True))
    assert route_item(item).reason == (
        "needs multi-step reasoning; cross-file change; 5 constraints (more than 4); "
        "integration work")
    assert route_item(make_item(category="data_transformation")).reason == (
        "routine data transformation work")


def test_constraint_limit_is_a_threshold() -> None:
    item = make_item(constraints=["c"] * 3)
    assert route_item(item).route == "local"
    assert route_item(item, thresholds=RoutingThresholds(max_local_constraints=2)).route == \
        "claude"


HISTORY = [
    # (fields, stats, route, rule)
    # promotion: ≥ 20 reviewed and ≥ 80% acceptable-or-good moves Claude items local
    ({"signature": ""}, KindStats(reviewed=20, acceptable_or_good=16), "local",
     "history-promote"),
    ({"signature": ""}, KindStats(reviewed=19, acceptable_or_good=19), "claude", "default"),
    ({"signature": ""}, KindStats(reviewed=20, acceptable_or_good=15), "claude", "default"),
    ({"risk": risk(cross_file=True)}, KindStats(reviewed=40, acceptable_or_good=40), "local",
     "history-promote"),
    ({"constraints": ["c"] * 6}, KindStats(reviewed=25, acceptable_or_good=21), "local",
     "history-promote"),
    # never past the security step
    ({"risk": risk(security_sensitive=True)}, KindStats(reviewed=99, acceptable_or_good=99),
     "claude", "security"),
    ({"category": "security"}, KindStats(reviewed=99, acceptable_or_good=99), "claude",
     "security"),
    # demotion: ≥ 5 local uses and ≥ 50% escalated moves local items to Claude
    ({}, KindStats(local_uses=5, escalated=3), "claude", "history-demote"),
    ({}, KindStats(local_uses=10, escalated=5), "claude", "history-demote"),
    ({}, KindStats(local_uses=10, escalated=4), "local", "fixed-signature"),
    ({}, KindStats(local_uses=4, escalated=4), "local", "fixed-signature"),
    # escalations beat good grades, both ways
    ({}, KindStats(reviewed=30, acceptable_or_good=30, local_uses=6, escalated=3), "claude",
     "history-demote"),
    ({"signature": ""}, KindStats(reviewed=30, acceptable_or_good=30, local_uses=6,
                                  escalated=3), "claude", "default"),
    # empty history changes nothing
    ({}, KindStats(), "local", "fixed-signature"),
    ({"signature": ""}, KindStats(), "claude", "default"),
]


@pytest.mark.parametrize("fields, stats, route, rule", HISTORY)
def test_history_moves_the_line(fields, stats, route, rule) -> None:
    decision = route_item(make_item(**fields), history=stats)
    assert (decision.route, decision.rule) == (route, rule)
    assert decision.evidence["history"] == stats.as_dict()


def test_history_reasons_carry_the_counts() -> None:
    promoted = route_item(make_item(signature=""),
                          KindStats(reviewed=20, acceptable_or_good=17))
    assert promoted.reason == (
        "history: 17 of 20 reviewed other/function items acceptable or good (85% ≥ 80%); "
        "the tree said claude: no local signal; Claude is the safe default")
    demoted = route_item(make_item(category="crud"), KindStats(local_uses=6, escalated=3))
    assert demoted.reason == (
        "history: 3 of 6 local crud/function attempts escalated (50% ≥ 50%); "
        "the tree said local: routine crud work")


def test_history_thresholds_are_parameters() -> None:
    strict = RoutingThresholds(promote_min_reviewed=50, promote_min_good_rate=0.95,
                               demote_min_uses=2, demote_escalation_rate=0.25)
    stats = KindStats(reviewed=40, acceptable_or_good=40)
    assert route_item(make_item(signature=""), stats, thresholds=strict).route == "claude"
    stats = KindStats(local_uses=4, escalated=1)
    assert route_item(make_item(), stats, thresholds=strict).route == "claude"
    assert route_item(make_item(), stats).route == "local"


@pytest.mark.parametrize("bad", [{"promote_min_good_rate": 1.5}, {"demote_min_uses": 0},
                                 {"max_local_constraints": -1}, {"surprise": 1}])
def test_thresholds_reject_nonsense(bad) -> None:
    with pytest.raises(ValidationError):
        RoutingThresholds(**bad)


def test_evidence_records_the_facts() -> None:
    decision = route_item(make_item(category="crud", constraints=["a", "b"],
                                    risk=risk(broad_knowledge=True)))
    evidence = decision.evidence
    assert evidence["task_kind"] == "crud/function" == task_kind(make_item(category="crud"))
    assert evidence["constraints"] == 2
    assert evidence["risk"] == ["broad_knowledge"]
    assert evidence["signature"] is True
    assert evidence["history"] is None
    assert evidence["thresholds"]["promote_min_reviewed"] == 20


# ------------------------------------------------------------------------------- overrides

@pytest.mark.parametrize("fields, override, tree_route", [
    ({"risk": risk(security_sensitive=True)}, "local", "claude"),
    ({"category": "crud"}, "claude", "local"),
    ({}, "local", "local"),
])
def test_override_wins_and_is_recorded(fields, override, tree_route) -> None:
    stats = KindStats(local_uses=9, escalated=9)
    decision = route_item(make_item(**fields), history=stats, override=override)
    assert (decision.route, decision.rule, decision.overridden) == (override, "override", True)
    assert decision.reason.startswith(f"override by user (routing said {tree_route}: ")


def test_override_must_be_local_or_claude() -> None:
    with pytest.raises(UsageError, match='route "gpu" for item "item"'):
        route_item(make_item(), override="gpu")


def test_parse_route_overrides() -> None:
    assert parse_route_overrides(["a=local", " b = Claude "]) == {"a": "local", "b": "claude"}
    assert parse_route_overrides([]) == {}


@pytest.mark.parametrize("value", ["a", "a=", "=local", "a=gpu", "a:local"])
def test_parse_route_overrides_rejects_bad_values(value) -> None:
    with pytest.raises(UsageError, match="is not ITEM=local or ITEM=claude") as err:
        parse_route_overrides([value])
    assert err.value.exit_code == 2


# ------------------------------------------------------------------------------- whole specs

def test_route_spec_routes_the_fixture() -> None:
    spec = load_spec(FIXTURE)
    routed = route_spec(spec)
    assert {i.id: i.route for i in routed.items} == {
        "ratelimit-store": "local", "ratelimit-limiter": "local",
        "ratelimit-client-ip": "claude", "login-throttled-error": "local",
        "login-ratelimit": "claude"}
    assert all(i.route_reason and not i.route_overridden for i in routed.items)
    assert all(i.route is None for i in spec.items)  # the input is not changed


def test_route_spec_uses_history_by_task_kind() -> None:
    spec = load_spec(FIXTURE)
    history = {"crud/class": KindStats(local_uses=8, escalated=6)}
    routed = route_spec(spec, history=history)
    assert routed.item("ratelimit-store").route == "claude"
    assert routed.item("ratelimit-limiter").route == "local"  # validation/class: no history


def test_route_spec_records_overrides() -> None:
    routed = route_spec(load_spec(FIXTURE), overrides={"login-ratelimit": "local"})
    item = routed.item("login-ratelimit")
    assert (item.route, item.route_overridden) == ("local", True)
    assert item.route_reason.startswith("override by user (routing said claude: ")


def test_route_spec_rejects_unknown_override_ids() -> None:
    with pytest.raises(UsageError, match='unknown item "login"') as err:
        route_spec(load_spec(FIXTURE), overrides={"login": "local"})
    assert "ratelimit-store" in (err.value.hint or "")


def test_a_pinned_route_survives_rerouting_until_overridden_again() -> None:
    pinned = route_spec(load_spec(FIXTURE), overrides={"ratelimit-store": "claude"})
    again = route_spec(pinned)
    store = again.item("ratelimit-store")
    assert (store.route, store.route_overridden) == ("claude", True)
    assert store.route_reason == pinned.item("ratelimit-store").route_reason
    flipped = route_spec(pinned, overrides={"ratelimit-store": "local"})
    assert flipped.item("ratelimit-store").route == "local"


def test_a_hand_pinned_route_without_reason_gets_one() -> None:
    spec = load_spec(FIXTURE)
    items = [i.model_copy(update={"route": "claude", "route_overridden": True})
             if i.id == "ratelimit-store" else i for i in spec.items]
    decisions = route_decisions(spec.model_copy(update={"items": items}))
    store = decisions["ratelimit-store"]
    assert (store.route, store.overridden) == ("claude", True)
    assert store.reason.startswith("override by user")
