"""Delegation only where it pays: the planner's sizing weighed on the planner's model, the
acceptance rate from history with a stated prior, and the decision lines `hybrid plan` shows."""

from __future__ import annotations

from typing import Any

import pytest

from hybridcode.config import DEFAULT_PRICES, Price, RoutingThresholds
from hybridcode.ledger.history import KindStats
from hybridcode.plan.planner import delegation_line, delegation_note
from hybridcode.plan.routing import route_decisions, route_item
from hybridcode.plan.sizing import acceptance, rule_of_thumb, size
from hybridcode.spec import Spec, SpecItem

T = RoutingThresholds()
SONNET = Price.model_validate(DEFAULT_PRICES["claude-sonnet-5-5"])


def item(code_tokens: int, spec_tokens: int, **fields: Any) -> SpecItem:
    base: dict[str, Any] = {
        "id": "item", "title": "An item", "kind": "function", "category": "crud",
        "file": "app/x.py", "symbol": "f", "action": "create",
        "signature": "def f(x: int) -> int", "description": "Does f.",
        "tests": {"code": "def test_f():\n    pass\n"},
        "sizing": {"code_tokens": code_tokens, "spec_tokens": spec_tokens}}
    base.update(fields)
    return SpecItem.model_validate(base)


def test_the_saving_formula_in_dollars_on_the_planners_model():
    s = size(1000, 200, None, T, SONNET)
    out, inp = 10 / 1e6, 2 / 1e6
    escalation = (1500 + 200 + 1000) * inp + 1000 * out
    assert s.escalation_usd == pytest.approx(escalation)
    assert s.saving_usd == pytest.approx(1000 * out - 200 * out - 0.3 * escalation)
    assert s.margin_usd == pytest.approx(0.2 * 1000 * out) and s.pays
    assert not size(300, 120, None, T, SONNET).pays  # short code: its spec does not pay


def test_acceptance_is_history_with_a_stated_prior():
    assert acceptance(None, T).rate == pytest.approx(0.7) and acceptance(None, T).source == "prior"
    p = acceptance(KindStats(local_uses=10, escalated=5), T)
    assert p.rate == pytest.approx((5 + 7) / 20) and "5 of 10 local uses" in p.source


def test_the_rule_given_to_the_planner_is_the_formula_solved():
    a, b = rule_of_thumb(0.7, T, SONNET)
    for spec_tokens in (50, 200, 800):
        edge = a * spec_tokens + b
        assert size(int(edge) + 2, spec_tokens, None, T, SONNET).pays
        assert not size(int(edge) - 2, spec_tokens, None, T, SONNET).pays
    assert rule_of_thumb(0.2, T, SONNET) is None  # a kind that mostly fails never pays
    note = delegation_note({"crud/function": KindStats(local_uses=30, escalated=0)}, T, SONNET)
    assert "code_tokens ≥ 2.4 × spec_tokens + 205" in note and "`crud/function`" in note


def test_decisions_carry_the_figures_and_say_when_a_spec_did_not_pay():
    paid = route_item(item(1200, 150), price=SONNET)
    assert paid.route == "local" and paid.evidence["sizing"]["pays"] is True
    assert "delegating saves ~$" in paid.reason
    unpaid = route_item(item(200, 300), price=SONNET)
    assert unpaid.route == "local"  # the spec is paid for: local is still the cheapest way on
    assert unpaid.evidence["sizing"]["pays"] is False and "does not pay" in unpaid.reason
    written = route_item(item(80, 200, code="def f(x: int) -> int:\n    return x\n"),
                         price=SONNET)
    assert written.route == "plan" and "delegating would not pay" in written.reason


def test_the_request_line_names_claudes_own_change_when_nothing_pays():
    code = "def f(x: int) -> int:\n    return x\n"
    spec = Spec(title="t", items=[item(80, 200, id="a", code=code),
                                  item(90, 200, id="b", symbol="g", code=code)])
    decisions = route_decisions(spec, price=SONNET)
    routed = spec.model_copy(update={"items": [
        i.model_copy(update={"route": decisions[i.id].route}) for i in spec.items]})
    assert delegation_line(routed, decisions).startswith(
        "nothing pays to delegate: the plan is Claude's own change — all 2 items")
    spec = Spec(title="t", items=[item(1200, 150, id="a"), item(80, 200, id="b", symbol="g",
                                                                code=code)])
    decisions = route_decisions(spec, price=SONNET)
    routed = spec.model_copy(update={"items": [
        i.model_copy(update={"route": decisions[i.id].route}) for i in spec.items]})
    line = delegation_line(routed, decisions)
    assert line.startswith("1 of 2 items delegated to the local model; ~1,200 code tokens")
    assert "1 written in the plan" in line
