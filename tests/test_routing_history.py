"""Routing that learns: ledger rows → kind_history → route_item, flipping at each threshold in
both directions, with the reason and evidence the decision logs."""

from __future__ import annotations

import pytest

from hybridcode.config import load_settings
from hybridcode.ledger import Ledger
from hybridcode.ledger.history import kind_history, routing_report
from hybridcode.plan.routing import KindStats, route_decisions, route_item
from hybridcode.spec import Spec, SpecItem
from ledger_rows import attempt, call, item, local_item, review

KIND = "other/function"


def make_item(signature: str) -> SpecItem:
    """``other/function``: with a signature the tree says local (fixed-signature), without one
    claude (the safe default)."""
    return SpecItem.model_validate({
        "id": "item", "title": "An item", "kind": "function", "category": "other",
        "file": "app/x.py", "symbol": "f", "action": "create", "signature": signature,
        "description": "Does f.", "tests": {"code": "def test_f():\n    pass\n"}})


def fill(ledger: Ledger, *, good: int = 0, poor: int = 0, plain: int = 0,
         escalated: int = 0) -> None:
    """Local items of KIND: ``good``/``poor`` graded, ``plain`` ungraded, ``escalated`` rescued."""
    n = 0
    for count, kw in ((good, {"grade": "good"}), (poor, {"grade": "poor",
                                                         "failure_mode": "wrong"}),
                      (plain, {}), (escalated, {"escalate": True})):
        for _ in range(count):
            n += 1
            local_item(ledger, "p1", f"i{n}", KIND, **kw)


# (rows, tree signature, expected route, rule, reason)
CASES: list[tuple[dict[str, int], str, str, str, str]] = [
    # promote needs 20 reviewed uses …
    ({"good": 19}, "", "claude", "default", "no local signal; Claude is the safe default"),
    ({"good": 20}, "", "local", "history-promote",
     "history: 20 of 20 reviewed other/function items acceptable or good (100% ≥ 80%); the "
     "tree said claude: no local signal; Claude is the safe default"),
    # … and 80% of them acceptable or good
    ({"good": 79, "poor": 21}, "", "claude", "default",
     "no local signal; Claude is the safe default"),
    ({"good": 80, "poor": 20}, "", "local", "history-promote",
     "history: 80 of 100 reviewed other/function items acceptable or good (80% ≥ 80%); the "
     "tree said claude: no local signal; Claude is the safe default"),
    # demote at 50% of local uses escalated …
    ({"plain": 51, "escalated": 49}, "def f(x: int) -> int", "local", "fixed-signature",
     "single function with a fixed signature"),
    ({"plain": 50, "escalated": 50}, "def f(x: int) -> int", "claude", "history-demote",
     "history: 50 of 100 local other/function attempts escalated (50% ≥ 50%); the tree said "
     "local: single function with a fixed signature"),
    # … once there are 5 local uses
    ({"escalated": 4}, "def f(x: int) -> int", "local", "fixed-signature",
     "single function with a fixed signature"),
    ({"plain": 1, "escalated": 4}, "def f(x: int) -> int", "claude", "history-demote",
     "history: 4 of 5 local other/function attempts escalated (80% ≥ 50%); the tree said "
     "local: single function with a fixed signature"),
    # escalations outweigh good grades: no promotion while the kind is escalating
    ({"good": 20, "escalated": 20}, "", "claude", "default",
     "no local signal; Claude is the safe default"),
]


IDS = ["19-reviewed", "20-reviewed", "79-percent", "80-percent", "49-percent-escalated",
       "50-percent-escalated", "4-uses", "5-uses", "escalating-blocks-promotion"]


@pytest.mark.parametrize("rows,signature,route,rule,reason", CASES, ids=IDS)
def test_routing_flips_at_the_thresholds(tmp_path, rows, signature, route, rule, reason):
    with Ledger.open(tmp_path) as ledger:
        fill(ledger, **rows)
        history = kind_history(ledger)
    good, poor = rows.get("good", 0), rows.get("poor", 0)
    esc, uses = rows.get("escalated", 0), sum(rows.values())
    assert history == {KIND: KindStats(reviewed=good + poor, acceptable_or_good=good,
                                       local_uses=uses, escalated=esc)}
    decision = route_item(make_item(signature), history[KIND])
    assert (decision.route, decision.rule, decision.reason) == (route, rule, reason)
    assert decision.evidence["history"] == {"reviewed": good + poor, "acceptable_or_good": good,
                                            "local_uses": uses, "escalated": esc}
    assert decision.evidence["task_kind"] == KIND


def test_history_reaches_route_decisions_per_kind(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        fill(ledger, good=20)
        history = kind_history(ledger)
    spec = Spec(title="t", items=[make_item("")])
    decisions = route_decisions(spec, history=history)
    assert decisions["item"].rule == "history-promote"


# ---------------------------------------------------------------------------- what counts

def test_only_local_work_counts_as_reviewed(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        # Claude implemented it from the start: no local use, its grade says nothing local
        claude = call(ledger, plan_id="p1", item_id="c1", rung=1, cost_usd=0.01)
        item(ledger, "p1", "c1", KIND, route="claude", rung=1)
        attempt(ledger, "p1", "c1", rung=1, model="claude-sonnet-5-5", call_id=claude)
        review(ledger, "p1", {"c1": (KIND, "good", None)})
        # escalated: a local use that escalated; the grade is of Claude's rescue
        local_item(ledger, "p1", "e1", KIND, escalate=True, grade="good")
        # a local item never reviewed, and one reviewed twice (the newest grade counts)
        local_item(ledger, "p1", "l1", KIND)
        local_item(ledger, "p1", "l2", KIND, grade="poor", failure_mode="x")
        review(ledger, "p1", {"l2": (KIND, "acceptable", None)})
        assert kind_history(ledger) == {KIND: KindStats(reviewed=1, acceptable_or_good=1,
                                                        local_uses=3, escalated=1)}


def test_history_without_item_ids_on_calls_uses_the_items_columns(tmp_path):
    """A ledger whose calls carry no item ids: the plan's route and the escalated flag."""
    with Ledger.open(tmp_path) as ledger:
        item(ledger, "p1", "a", KIND, attempts=1)
        item(ledger, "p1", "b", KIND, attempts=4, escalated=1, rung=1)
        item(ledger, "p1", "c", KIND, attempts=0, state="pending")  # never ran
        item(ledger, "p1", "d", KIND, route="claude", attempts=1)
        review(ledger, "p1", {"a": (KIND, "good", None), "b": (KIND, "good", None)})
        assert kind_history(ledger) == {KIND: KindStats(reviewed=1, acceptable_or_good=1,
                                                        local_uses=2, escalated=1)}


def test_routing_report_explains_each_kind(tmp_path):
    settings = load_settings(tmp_path, environ={})
    with Ledger.open(tmp_path) as ledger:
        for n in range(20):
            local_item(ledger, "p1", f"g{n}", "crud/function", grade="good")
        for n in range(5):
            local_item(ledger, "p1", f"e{n}", "parsing/function", escalate=n < 3)
        local_item(ledger, "p1", "o1", KIND, grade="poor", failure_mode="x")
        report = routing_report(ledger, settings)
    assert report["thresholds"] == settings.routing.model_dump()
    by_kind = {k["kind"]: k for k in report["kinds"]}
    assert by_kind["crud/function"]["status"] == "promoted"
    assert by_kind["crud/function"]["why"] == ("20 of 20 reviewed local uses acceptable or "
                                               "good (100% ≥ 80%)")
    assert by_kind["parsing/function"]["status"] == "demoted"
    assert by_kind["parsing/function"]["why"] == "3 of 5 local uses escalated (60% ≥ 50%)"
    assert by_kind[KIND]["status"] == "neutral"
    assert by_kind[KIND]["why"] == ("1 of 20 reviewed uses needed to promote; 1 of 5 local "
                                    "uses before escalations can demote")
    assert [(m["item_id"], m["kind"]) for m in report["misroutes"]] == [
        ("e0", "parsing/function"), ("e1", "parsing/function"), ("e2", "parsing/function")]
