"""``hybrid stats``: every figure of ``--json`` against a hand-computed expectation.

Prices used below (USD per million tokens, the defaults in hybridcode/config.py):
opus-5-5 input 4, output 20, 5-min cache write 5, cache read 0.20;
sonnet-5-5 input 2, output 10 (also the counterfactual model: the ladder's Claude rung).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.cli.stats_cmd import parse_since
from hybridcode.config import load_settings
from hybridcode.errors import UsageError
from hybridcode.ledger import Ledger
from hybridcode.ledger.stats import compute_stats
from hybridcode.models.base import Message, ModelRequest
from hybridcode.models.caller import Caller
from hybridcode.testing import FakeAnthropic, FakeOllama
from ledger_rows import attempt, call, item, local_item, review

runner = CliRunner()


def rounded(value: Any) -> Any:
    """Floats to 10 places, recursively: sums of prices are not exact in binary."""
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def stats_json(root: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["stats", "--json", "--repo", str(root), *args],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def spend(key: str, calls: int, inp: int, out: int, cw: int, cr: int, cost: float,
          cf: float, local: int = 0, unpriced: int = 0) -> dict[str, Any]:
    return {"key": key, "calls": calls, "input_tokens": inp, "output_tokens": out,
            "cache_write_tokens": cw, "cache_read_tokens": cr, "cost_usd": cost,
            "unpriced_calls": unpriced, "counterfactual_usd": cf, "local_calls": local}


# ---------------------------------------------------------------------------- scripted rows

def scripted_ledger(root: Path) -> None:
    """Plan p1: two planner calls, items a, b (crud/function) and c (parsing/function) — b fails
    twice locally and is rescued by Sonnet — one review, one unpriced call, one budget stop."""
    with Ledger.open(root) as ledger:
        run = ledger.start_run("implement", plan_id="p1")
        common = {"run_id": run, "plan_id": "p1"}
        # planner: (1000*4 + 4000*5 + 2000*20)/1e6 = 0.064; (500*4 + 4000*0.2 + 1000*20)/1e6
        call(ledger, step="plan", tier="planner", model="claude-opus-5-5", input_tokens=1000,
             cache_write_tokens=4000, output_tokens=2000, cost_usd=0.064,
             counterfactual_usd=0.064, **common)
        call(ledger, step="plan", tier="planner", model="claude-opus-5-5", input_tokens=500,
             cache_read_tokens=4000, output_tokens=1000, cost_usd=0.0228,
             counterfactual_usd=0.0228, **common)
        # local calls: cost 0, counterfactual (in*2 + out*10)/1e6
        a1 = call(ledger, is_local=True, item_id="a", rung=0, input_tokens=3000,
                  output_tokens=500, cost_usd=0.0, counterfactual_usd=0.011, **common)
        b1 = call(ledger, is_local=True, item_id="b", rung=0, input_tokens=2000,
                  output_tokens=400, cost_usd=0.0, counterfactual_usd=0.008, **common)
        b2 = call(ledger, is_local=True, item_id="b", rung=0, input_tokens=2500,
                  output_tokens=400, cost_usd=0.0, counterfactual_usd=0.009, **common)
        b3 = call(ledger, item_id="b", rung=1, input_tokens=2000, output_tokens=600,
                  cost_usd=0.010, counterfactual_usd=0.010, **common)
        c1 = call(ledger, is_local=True, item_id="c", rung=0, input_tokens=1000,
                  output_tokens=200, cost_usd=0.0, counterfactual_usd=0.004, **common)
        # reviewer: (3000*4 + 2000*5 + 5000*0.2 + 1000*20)/1e6 = 0.043
        call(ledger, step="review", tier="reviewer", model="claude-opus-5-5", input_tokens=3000,
             cache_write_tokens=2000, cache_read_tokens=5000, output_tokens=1000,
             cost_usd=0.043, counterfactual_usd=0.043, **common)
        call(ledger, step="review", tier="reviewer", model="claude-mystery-1", input_tokens=100,
             output_tokens=10, cost_usd=None, counterfactual_usd=0.0, **common)
        call(ledger, rung=1, outcome="budget", cost_usd=0.0, **common)

        item(ledger, "p1", "a", "crud/function", attempts=1, run_id=run)
        item(ledger, "p1", "b", "crud/function", rung=1, attempts=3, escalated=1, run_id=run)
        item(ledger, "p1", "c", "parsing/function", attempts=1, run_id=run)
        attempt(ledger, "p1", "a", call_id=a1, run_id=run)
        attempt(ledger, "p1", "b", call_id=b1, run_id=run, outcome="test_failed")
        attempt(ledger, "p1", "b", call_id=b2, run_id=run, attempt=2, outcome="test_failed")
        attempt(ledger, "p1", "b", call_id=b3, run_id=run, rung=1, model="claude-sonnet-5-5")
        attempt(ledger, "p1", "c", call_id=c1, run_id=run)
        review(ledger, "p1", {"a": ("crud/function", "good", None),
                              "b": ("crud/function", "acceptable", None),
                              "c": ("parsing/function", "poor", "ignores empty input")})


def test_every_figure_from_scripted_rows(tmp_path):
    scripted_ledger(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        day = ledger.calls()[0].ts[:10]  # calls are stamped with the clock, in UTC
    data = stats_json(tmp_path)

    cost = 0.064 + 0.0228 + 0.010 + 0.043  # 0.1398
    cf = 0.064 + 0.0228 + 0.011 + 0.008 + 0.009 + 0.010 + 0.004 + 0.043  # 0.1718
    total = spend("total", 9, 15100, 6110, 6000, 9000, cost, cf, local=4, unpriced=1)
    by_tier = [
        spend("implementer", 5, 10500, 2100, 0, 0, 0.010, 0.042, local=4),
        spend("planner", 2, 1500, 3000, 4000, 4000, 0.0868, 0.0868),
        spend("reviewer", 2, 3100, 1010, 2000, 5000, 0.043, 0.043, unpriced=1),
    ]
    expected = {
        "filters": {"since": None, "plan_id": None, "by": "tier"},
        "totals": total,
        "budget_stops": 1,
        "unpriced_models": ["claude-mystery-1"],
        "groups": by_tier,
        "by_day": [{**total, "key": day}],
        "by_tier": by_tier,
        # read 4000 + 5000 over every Anthropic input token: 5000 + 4500 + 2000 + 10000 + 100
        "cache": {"anthropic_calls": 5, "cache_read_tokens": 9000, "input_tokens": 21600,
                  "hit_rate": 9000 / 21600, "ttl_calls": {}, "not_cached": []},
        "counterfactual": {
            "model": "claude-sonnet-5-5", "counterfactual_usd": cf, "actual_usd": cost,
            "saving_usd": 0.032, "saving_pct": 0.032 / 0.1718 * 100, "outcome": "saved",
            "estimate": True,
            "method": "each local call priced as if claude-sonnet-5-5 had read the same input "
                      "(uncached) and written the same output; Claude calls at their recorded "
                      "cost; saving = counterfactual − actual; Claude itself would have used "
                      "other token counts and attempts",
            "unpriced_calls_excluded": 1},
        "kinds": [
            # a: 3500 tokens; b: 2400 + 2900 + 2600 → (3500 + 7900) / 2
            {"kind": "crud/function", "items": 2, "attempts": 4, "attempts_per_item": 2.0,
             "escalated": 1, "escalation_rate": 0.5,
             "grades": {"poor": 0, "acceptable": 1, "good": 1}, "graded": 2,
             "acceptance_rate": 1.0, "avg_tokens": 5700.0},
            {"kind": "parsing/function", "items": 1, "attempts": 1, "attempts_per_item": 1.0,
             "escalated": 0, "escalation_rate": 0.0,
             "grades": {"poor": 1, "acceptable": 0, "good": 0}, "graded": 1,
             "acceptance_rate": 0.0, "avg_tokens": 1200.0},
        ],
        "breaker_trips": [],
        "misroutes": [{"plan_id": "p1", "item_id": "b", "kind": "crud/function",
                       "state": "passed", "rung": 1, "attempts": 3}],
        "finetune_candidates": [],
        "items": 3,
    }
    direct = data.pop("direct")  # no review recorded a diff: nothing to price directly
    assert direct["direct_usd"] is None and direct["plans"] == 0
    assert rounded(data) == rounded(expected)


def test_group_by_kind_step_and_model(tmp_path):
    scripted_ledger(tmp_path)
    by_kind = stats_json(tmp_path, "--by", "kind")["groups"]
    assert rounded(by_kind) == rounded([
        spend("(no item)", 4, 4600, 4010, 6000, 9000, 0.1298, 0.1298, unpriced=1),
        spend("crud/function", 4, 9500, 1900, 0, 0, 0.010, 0.038, local=3),
        spend("parsing/function", 1, 1000, 200, 0, 0, 0.0, 0.004, local=1),
    ])
    by_step = stats_json(tmp_path, "--by", "step")["groups"]
    assert [(g["key"], g["calls"]) for g in by_step] == [("implement", 5), ("plan", 2),
                                                         ("review", 2)]
    by_model = stats_json(tmp_path, "--by", "model")["groups"]
    assert rounded([(g["key"], g["calls"], g["cost_usd"]) for g in by_model]) == rounded([
        ("claude-mystery-1", 1, 0.0), ("claude-opus-5-5", 3, 0.1298),
        ("claude-sonnet-5-5", 1, 0.010), ("qwen2.5-coder:32b", 4, 0.0)])


def test_plan_and_since_filters(tmp_path):
    scripted_ledger(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        call(ledger, plan_id="p2", is_local=True, input_tokens=100, output_tokens=10,
             cost_usd=0.0, counterfactual_usd=0.0003)
    only_p2 = stats_json(tmp_path, "--plan", "p2")
    assert rounded(only_p2["totals"]) == rounded(spend("total", 1, 100, 10, 0, 0, 0.0, 0.0003,
                                                       local=1))
    assert only_p2["kinds"] == [] and only_p2["items"] == 0
    assert rounded(only_p2["counterfactual"]["saving_pct"]) == 100.0
    # items were started on 2026-01-05 (scripted); the calls just now
    recent = stats_json(tmp_path, "--since", "1d")
    assert recent["totals"]["calls"] == 10 and recent["items"] == 0 and recent["kinds"] == []
    future = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert stats_json(tmp_path, "--since", future)["totals"]["calls"] == 0


def test_costs_from_real_calls_through_the_fakes(tmp_path, monkeypatch):
    """Calls made by the Caller over HTTP, priced by the real pricing path."""
    with FakeAnthropic() as claude, FakeOllama(models={"qwen2.5-coder:32b": 1}) as ollama:
        env = {"ANTHROPIC_API_KEY": "sk-ant-test-0000", "ANTHROPIC_BASE_URL": claude.base_url,
               "OLLAMA_HOST": ollama.host}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings(tmp_path)
        claude.enqueue_text("plan one", usage={"input_tokens": 1200,
                                               "cache_creation_input_tokens": 3000,
                                               "cache_read_input_tokens": 0,
                                               "output_tokens": 800})
        claude.enqueue_text("plan two", usage={"input_tokens": 200,
                                               "cache_creation_input_tokens": 0,
                                               "cache_read_input_tokens": 3000,
                                               "output_tokens": 400})
        ollama.enqueue_text("def f():\n    return 1\n", prompt_eval_count=2000, eval_count=300)
        claude.enqueue_text("def f():\n    return 2\n", usage={"input_tokens": 1500,
                                                             "output_tokens": 500})
        request = ModelRequest(messages=(Message("user", "write f"),))
        with Ledger.open(tmp_path) as ledger:
            run = ledger.start_run("implement", plan_id="p9", settings=settings)
            caller = Caller(settings, ledger, run_id=run, plan_id="p9")
            tiers = settings.tiers
            caller.call(tiers.planner, request, step="plan", tier="planner")
            caller.call(tiers.planner, request, step="plan", tier="planner")
            caller.call(tiers.implementer[0], request, step="implement", tier="implementer",
                        item_id="f", rung=0)
            caller.call(tiers.implementer[1], request, step="implement", tier="implementer",
                        item_id="f", rung=1)
            item(ledger, "p9", "f", "other/function", rung=1, attempts=2, escalated=1)
        data = stats_json(tmp_path)

    # sonnet 5.5 plans by default: $2 input, $2.50 cache write, $0.10 read, $10 output per M
    plan_cost = (1200 * 2 + 3000 * 2.5 + 800 * 10) / 1e6 + (200 * 2 + 3000 * 0.1 + 400 * 10) / 1e6
    sonnet = (1500 * 2 + 500 * 10) / 1e6
    local_cf = (2000 * 2 + 300 * 10) / 1e6
    assert rounded(data["totals"]) == rounded(spend(
        "total", 4, 4900, 2000, 3000, 3000, plan_cost + sonnet,
        plan_cost + sonnet + local_cf, local=1))
    assert rounded(data["counterfactual"]["saving_usd"]) == rounded(local_cf)
    assert rounded(data["counterfactual"]["saving_pct"]) == rounded(
        local_cf / (plan_cost + sonnet + local_cf) * 100)
    assert rounded(data["cache"]) == rounded({"anthropic_calls": 3, "cache_read_tokens": 3000,
                                              "input_tokens": 8900, "hit_rate": 3000 / 8900,
                                              "ttl_calls": {}, "not_cached": []})
    assert rounded(data["kinds"]) == rounded([
        {"kind": "other/function", "items": 1, "attempts": 2, "attempts_per_item": 2.0,
         "escalated": 1, "escalation_rate": 1.0,
         "grades": {"poor": 0, "acceptable": 0, "good": 0}, "graded": 0,
         "acceptance_rate": None, "avg_tokens": 4300.0}])
    assert [m["item_id"] for m in data["misroutes"]] == ["f"]


# ---------------------------------------------------------------------------- quality figures

def test_breaker_trip_derived_from_three_failures_on_a_rung(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        run = ledger.start_run("implement", plan_id="p1")
        for n, outcome in enumerate(["test_failed", "passed", "syntax_error", "model_error",
                                     "test_failed", "test_failed"]):
            attempt(ledger, "p1", f"i{n}", run_id=run, outcome=outcome,
                    feedback=f"failure {n} key sk-ant-api03-abcdefghijkl")
        attempt(ledger, "p1", "j", run_id=run, rung=1, outcome="test_failed")  # other rung
        trips = compute_stats(ledger, load_settings(tmp_path)).breaker_trips
    assert len(trips) == 1
    trip = trips[0]
    assert (trip["run_id"], trip["rung"], trip["source"]) == (run, 0, "derived")
    assert [e["item_id"] for e in trip["errors"]] == ["i2", "i3", "i4"]
    assert [e["outcome"] for e in trip["errors"]] == ["syntax_error", "model_error",
                                                      "test_failed"]
    assert trip["errors"][0]["error"] == "failure 2 key [REDACTED]"


def test_breaker_needs_the_streak_within_one_run(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        runs = [ledger.start_run("implement", plan_id="p1") for _ in range(2)]
        for n in range(4):
            attempt(ledger, "p1", f"i{n}", run_id=runs[n % 2], outcome="test_failed")
        assert compute_stats(ledger, load_settings(tmp_path)).breaker_trips == []


def test_lora_candidates_need_three_poor_grades_sharing_a_failure_mode(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        for n in range(3):
            local_item(ledger, "p1", f"v{n}", "validation/function", grade="poor",
                       failure_mode=["Ignores empty input", "ignores empty input.",
                                     "ignores  EMPTY input"][n], output=f"def v{n}(): ...")
        for n in range(2):  # only two share this mode
            local_item(ledger, "p1", f"w{n}", "validation/function", grade="poor",
                       failure_mode="wrong exception type")
        for n in range(3):  # Claude's rescue work is no LoRA evidence
            local_item(ledger, "p1", f"x{n}", "parsing/function", escalate=True, grade="poor",
                       failure_mode="off by one")
        found = compute_stats(ledger, load_settings(tmp_path)).finetune_candidates
    assert found == [{"kind": "validation/function", "failure_mode": "ignores empty input",
                      "count": 3, "example": {"plan_id": "p1", "item_id": "v2",
                                              "failure_mode": "ignores  EMPTY input",
                                              "excerpt": "def v2(): ..."}}]


# ---------------------------------------------------------------------------- the command

def test_table_output_labels_the_estimate_and_draws_bars(tmp_path):
    scripted_ledger(tmp_path)
    result = runner.invoke(app, ["stats", "--repo", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "estimate (all-Claude): each local call priced as if claude-sonnet-5-5" in out
    assert "saved $0.0320 (18.6%)" in out
    assert "█" in out and "spend by day (UTC)" in out and "spend by tier" in out
    assert "hit rate 42%" in out
    assert "1 call has no price (claude-mystery-1)" in out
    assert "crud/function" in out and "1 item routed local escalated" in out


def test_empty_ledger_is_friendly(tmp_path):
    result = runner.invoke(app, ["stats", "--repo", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "no model calls recorded yet" in result.stdout
    assert not (tmp_path / ".hybrid").exists()  # stats never creates the ledger
    data = stats_json(tmp_path)
    assert data["totals"]["calls"] == 0 and data["counterfactual"]["saving_pct"] is None


def test_bad_arguments_are_usage_errors(tmp_path):
    result = runner.invoke(app, ["stats", "--repo", str(tmp_path), "--by", "colour"])
    assert result.exit_code == 2 and "--by" in result.output
    result = runner.invoke(app, ["stats", "--repo", str(tmp_path), "--since", "last tuesday"])
    assert result.exit_code == 2 and "--since 7d" in result.output


@pytest.mark.parametrize("text,expected", [
    ("7d", datetime(2026, 11, 16, 12, tzinfo=timezone.utc)),
    ("24h", datetime(2026, 11, 22, 12, tzinfo=timezone.utc)),
    ("2w", datetime(2026, 11, 9, 12, tzinfo=timezone.utc)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
    ("2026-11-01T08:00:00+02:00", datetime(2026, 11, 1, 6, tzinfo=timezone.utc)),
])
def test_parse_since(text, expected):
    now = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
    assert parse_since(text, now) == expected


def test_parse_since_rejects_words():
    with pytest.raises(UsageError, match="neither a duration nor a date"):
        parse_since("yesterday")


def test_a_loss_reads_as_a_cost_never_as_a_negative_saving(tmp_path):
    """Claude directly would have cost less than the pipeline did: the terminal says so in
    words and red, and the JSON says which side of zero the figure is on."""
    with Ledger.open(tmp_path) as ledger:
        run = ledger.start_run("implement", plan_id="p1")
        common = {"run_id": run, "plan_id": "p1"}
        call(ledger, step="plan", tier="planner", input_tokens=1000, output_tokens=4000,
             cost_usd=0.063, counterfactual_usd=0.063, **common)
        call(ledger, is_local=True, item_id="a", rung=0, input_tokens=3000, output_tokens=500,
             cost_usd=0.0, counterfactual_usd=0.011, **common)
        call(ledger, step="review", tier="reviewer", input_tokens=2000, output_tokens=500,
             cost_usd=0.011, counterfactual_usd=0.011, extra={"diff_tokens": 120}, **common)
    shown = runner.invoke(app, ["stats", "--repo", str(tmp_path)], catch_exceptions=False)
    data = json.loads(runner.invoke(app, ["stats", "--json", "--repo", str(tmp_path)],
                                    catch_exceptions=False).stdout)
    direct, cf = data["direct"], data["counterfactual"]
    assert direct["saving_usd"] < 0 and direct["outcome"] == "cost_more"
    assert cf["saving_usd"] > 0 and cf["outcome"] == "saved"
    out = " ".join(shown.stdout.split())
    assert f"cost ${-direct['saving_usd']:.4f} more ({-direct['saving_pct']:.1f}% more)" in out
    assert "saved $-" not in out and "(-" not in out
    assert f"saved ${cf['saving_usd']:.4f}" in out
