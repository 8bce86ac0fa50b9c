"""The Caller: every call in the ledger with its cost, failures recorded, budgets enforced."""

from __future__ import annotations

import json
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from hybridcode.config import ModelSpec, Price, Settings, load_settings
from hybridcode.errors import (
    BudgetExceededError,
    ConfigError,
    OutputFormatError,
    RateLimitedError,
)
from hybridcode.ledger import Ledger
from hybridcode.models.base import Backend, Message, ModelRequest, ModelResult, Usage
from hybridcode.models.caller import Caller

SONNET = ModelSpec(backend="anthropic", model="claude-sonnet-5-5", max_output_tokens=1000)
QWEN = ModelSpec(backend="ollama", model="qwen2.5-coder:32b")


class ScriptedBackend(Backend):
    """A seam fake: answers (or raises) from a script, and remembers every request."""

    name = "scripted"

    def __init__(self, spec: ModelSpec, settings: Settings, script: list[Any],
                 local: bool = False, gate: threading.Event | None = None) -> None:
        super().__init__(spec, settings)
        self.script = script
        self.requests: list[ModelRequest] = []
        self.is_local = local  # type: ignore[misc]
        self.gate = gate
        self._lock = threading.Lock()

    def complete(self, request: ModelRequest, on_progress=None) -> ModelResult:
        with self._lock:
            self.requests.append(request)
            step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if self.gate is not None:
            assert self.gate.wait(10)
        if isinstance(step, Exception):
            raise step
        return step


def answer(model: str, usage: Usage, backend: str = "anthropic", latency_ms: int = 800,
           **extra: Any) -> ModelResult:
    return ModelResult(text="ok", usage=usage, model=model, backend=backend,
                       latency_ms=latency_ms, extra=extra)


def ask(text: str = "implement it") -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), system="you write code")


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger.open(tmp_path) as led:
        yield led


def make(tmp_path: Path, ledger: Ledger, backends: dict[str, Backend] | None = None,
         environ: dict[str, str] | None = None, overrides: dict[str, Any] | None = None,
         **kw: Any) -> Caller:
    settings = load_settings(tmp_path, overrides=overrides, environ=environ or {})
    table = backends or {}
    return Caller(settings, ledger, backend_factory=lambda spec, _s: table[spec.model], **kw)


def test_a_paid_call_lands_with_its_cost(tmp_path: Path, ledger: Ledger) -> None:
    run_id = ledger.start_run("implement", plan_id="p1")
    settings = load_settings(tmp_path, environ={})
    backend = ScriptedBackend(SONNET, settings, [
        answer("claude-sonnet-5-5", Usage(1000, 200, 300, 500), request_id="req_1")])
    caller = Caller(settings, ledger, run_id=run_id, plan_id="p1",
                    backend_factory=lambda spec, _s: backend)

    result = caller.call(SONNET, ask(), step="implement", tier="implementer",
                         item_id="item-1", rung=1)

    assert result.text == "ok"
    [row] = ledger.calls(run_id=run_id)
    # Sonnet 5.5: $2 in, $10 out, $2.50 cache write (5 min), $0.10 cache read per MTok.
    expected = (1000 * 2 + 200 * 10 + 300 * 2.5 + 500 * 0.10) / 1_000_000
    assert expected == pytest.approx(0.0048)
    assert row.cost_usd == pytest.approx(expected)
    assert row.counterfactual_usd == pytest.approx(expected)  # already Claude: its own cost
    assert (row.step, row.tier, row.item_id, row.rung, row.plan_id) == (
        "implement", "implementer", "item-1", 1, "p1")
    assert (row.backend, row.model, row.outcome, row.is_local, row.error) == (
        "anthropic", "claude-sonnet-5-5", "ok", False, None)
    assert (row.input_tokens, row.output_tokens, row.cache_write_tokens,
            row.cache_read_tokens, row.latency_ms) == (1000, 200, 300, 500, 800)
    assert row.extra == {"request_id": "req_1", "via": "scripted"}
    assert caller.spent == pytest.approx(expected)
    assert ledger.spend(run_id) == pytest.approx(expected)


def test_a_local_call_is_free_with_an_all_claude_counterfactual(tmp_path: Path,
                                                                 ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={})
    backend = ScriptedBackend(QWEN, settings, [
        answer("qwen2.5-coder:32b", Usage(1000, 200, 300, 500), backend="ollama")], local=True)
    caller = Caller(settings, ledger, backend_factory=lambda spec, _s: backend)
    caller.call(QWEN, ask(), step="implement", tier="implementer", rung=0)
    [row] = ledger.calls()
    assert row.cost_usd == 0.0 and row.is_local is True
    # Counterfactual model: the ladder's last Claude rung (Sonnet 5.5), all input uncached.
    assert row.counterfactual_usd == pytest.approx(((1000 + 300 + 500) * 2 + 200 * 10) / 1e6)
    assert caller.spent == 0.0


def test_a_local_model_with_an_hourly_price(tmp_path: Path, ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={})
    settings.prices = {**settings.prices, "qwen2.5-coder:32b": Price(hourly=3.6)}
    backend = ScriptedBackend(QWEN, settings, [
        answer("qwen2.5-coder:32b", Usage(10, 10), backend="ollama", latency_ms=2000)],
        local=True)
    Caller(settings, ledger, backend_factory=lambda spec, _s: backend).call(
        QWEN, ask(), step="implement", tier="implementer")
    assert ledger.calls()[0].cost_usd == pytest.approx(3.6 * 2000 / 3_600_000)


def test_an_unpriced_paid_model_has_no_cost(tmp_path: Path, ledger: Ledger) -> None:
    mystery = ModelSpec(backend="anthropic", model="claude-mystery-9")
    settings = load_settings(tmp_path, environ={})
    caller = make(tmp_path, ledger, {"claude-mystery-9": ScriptedBackend(
        mystery, settings, [answer("claude-mystery-9", Usage(5, 5))])})
    caller.call(mystery, ask(), step="plan", tier="planner")
    assert ledger.calls()[0].cost_usd is None


def test_failures_are_recorded_then_re_raised(tmp_path: Path, ledger: Ledger) -> None:
    key = "sk-ant-api03-NEVERLOGTHIS000"
    settings = load_settings(tmp_path, environ={"ANTHROPIC_API_KEY": key})
    limited = RateLimitedError(f"rate limited\n(key {key})", "wait a minute")
    garbled = OutputFormatError("not a Verdict", "retry", raw="{")
    backend = ScriptedBackend(SONNET, settings, [limited, garbled])
    caller = Caller(settings, ledger, backend_factory=lambda spec, _s: backend)

    with pytest.raises(RateLimitedError) as err:
        caller.call(SONNET, ask(), step="review", tier="reviewer")
    assert err.value is limited
    with pytest.raises(OutputFormatError) as err2:
        caller.call(SONNET, ask(), step="review", tier="reviewer", item_id="i2")
    assert err2.value is garbled

    first, second = ledger.calls()
    assert first.outcome == "error" and second.outcome == "invalid_output"
    assert first.error == "RateLimitedError: rate limited (key [REDACTED]) — wait a minute"
    assert second.error.startswith("OutputFormatError: not a Verdict")
    assert (first.input_tokens, first.output_tokens, first.cost_usd) == (0, 0, 0.0)
    assert first.model == "claude-sonnet-5-5" and first.backend == "anthropic"
    assert "NEVERLOGTHIS" not in json.dumps([r.error for r in ledger.calls()])


def test_usage_attached_to_an_error_is_recorded(tmp_path: Path, ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={})
    garbled = OutputFormatError("still not JSON", "re-record")
    garbled.usage = Usage(1000, 100)  # type: ignore[attr-defined]
    caller = make(tmp_path, ledger, {"claude-sonnet-5-5": ScriptedBackend(SONNET, settings,
                                                                          [garbled])})
    with pytest.raises(OutputFormatError):
        caller.call(SONNET, ask(), step="plan", tier="planner")
    row = ledger.calls()[0]
    assert row.cost_usd == pytest.approx((1000 * 2 + 100 * 10) / 1e6)
    assert caller.spent == pytest.approx(row.cost_usd)


def test_budget_stops_a_call_before_it_is_made(tmp_path: Path, ledger: Ledger) -> None:
    run_id = ledger.start_run("implement")
    settings = load_settings(tmp_path, environ={})
    # First call: 1000 in / 1000 out on Sonnet = $0.012.
    # Estimate per call: the prompt + 1000 output tokens ≈ $0.01.
    backend = ScriptedBackend(SONNET, settings, [answer("claude-sonnet-5-5", Usage(1000, 1000))])
    caller = Caller(settings, ledger, run_id=run_id, budget_usd=0.02,
                    backend_factory=lambda spec, _s: backend)
    caller.call(SONNET, ask(), step="implement", tier="implementer")
    with pytest.raises(BudgetExceededError) as err:
        caller.call(SONNET, ask(), step="implement", tier="implementer", item_id="i2")

    assert len(backend.requests) == 1  # the second call never reached the model
    assert err.value.message == (
        "the next call (~$0.01) would cross the run's budget of $0.02 (spent $0.012)")
    assert err.value.hint == "raise --budget or resume later; completed work is kept"
    refused = ledger.calls(run_id=run_id)[-1]
    assert (refused.outcome, refused.item_id, refused.cost_usd) == ("budget", "i2", 0.0)
    assert caller.spent == pytest.approx(0.012)


def test_budget_ignores_local_calls_and_comes_from_settings(tmp_path: Path,
                                                             ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={"HYBRID_BUDGET_USD": "0.000001"})
    local = ScriptedBackend(QWEN, settings, [answer("qwen2.5-coder:32b", Usage(10, 10))],
                            local=True)
    paid = ScriptedBackend(SONNET, settings, [answer("claude-sonnet-5-5", Usage(10, 10))])
    table = {"qwen2.5-coder:32b": local, "claude-sonnet-5-5": paid}
    caller = Caller(settings, ledger, backend_factory=lambda spec, _s: table[spec.model])
    assert caller.budget_usd == 0.000001
    caller.call(QWEN, ask(), step="implement", tier="implementer")
    with pytest.raises(BudgetExceededError):
        caller.call(SONNET, ask(), step="implement", tier="implementer")
    assert paid.requests == []


def test_a_budget_needs_a_price(tmp_path: Path, ledger: Ledger) -> None:
    mystery = ModelSpec(backend="anthropic", model="claude-mystery-9")
    settings = load_settings(tmp_path, environ={})
    backend = ScriptedBackend(mystery, settings, [answer("claude-mystery-9", Usage(1, 1))])
    caller = Caller(settings, ledger, budget_usd=1.0, backend_factory=lambda s, _s: backend)
    with pytest.raises(ConfigError, match="no price") as err:
        caller.call(mystery, ask(), step="plan", tier="planner")
    assert "prices" in (err.value.hint or "")
    assert backend.requests == []


def test_spent_continues_from_the_ledger(tmp_path: Path, ledger: Ledger) -> None:
    run_id = ledger.start_run("implement")
    settings = load_settings(tmp_path, environ={})
    backend = ScriptedBackend(SONNET, settings, [answer("claude-sonnet-5-5", Usage(0, 1000))])
    Caller(settings, ledger, run_id=run_id, backend_factory=lambda s, _s: backend).call(
        SONNET, ask(), step="implement", tier="implementer")
    again = Caller(settings, ledger, run_id=run_id, backend_factory=lambda s, _s: backend)
    assert again.spent == pytest.approx(0.01)


def test_parallel_calls_in_flight_share_one_budget(tmp_path: Path, ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={})
    gate = threading.Event()
    backend = ScriptedBackend(SONNET, settings, [answer("claude-sonnet-5-5", Usage(1, 1))],
                              gate=gate)
    probe = Caller(settings, ledger, backend_factory=lambda s, _s: backend)
    estimate = probe.estimate_usd(SONNET, ask())
    caller = Caller(settings, ledger, budget_usd=estimate * 2.5,
                    backend_factory=lambda s, _s: backend)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(caller.call, SONNET, ask(), step="implement",
                               tier="implementer") for _ in range(4)]
        done: set = set()
        while len(done) < 2:  # the two refused calls return at once; two wait at the gate
            finished, _ = wait(set(futures) - done, timeout=10, return_when=FIRST_COMPLETED)
            assert finished, "no call finished"
            done |= finished
        assert all(isinstance(f.exception(), BudgetExceededError) for f in done)
        gate.set()
    assert sum(f.exception() is None for f in futures) == 2
    assert sorted(r.outcome for r in ledger.calls()) == ["budget", "budget", "ok", "ok"]


def test_parallel_threads_through_one_caller_lose_no_rows(tmp_path: Path,
                                                          ledger: Ledger) -> None:
    run_id = ledger.start_run("implement")
    settings = load_settings(tmp_path, environ={})
    backend = ScriptedBackend(SONNET, settings, [answer("claude-sonnet-5-5", Usage(100, 100))])
    caller = Caller(settings, ledger, run_id=run_id, backend_factory=lambda s, _s: backend)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: caller.call(SONNET, ask(), step="implement",
                                            tier="implementer", item_id=f"i{n}"), range(200)))
    rows = ledger.calls(run_id=run_id)
    assert len(rows) == 200 and len({r.item_id for r in rows}) == 200
    assert caller.spent == pytest.approx(200 * (100 * 2 + 100 * 10) / 1e6)
    assert ledger.spend(run_id) == pytest.approx(caller.spent)


def test_backends_are_created_once_per_spec(tmp_path: Path, ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={})
    made: list[ModelSpec] = []

    def factory(spec: ModelSpec, s: Settings) -> Backend:
        made.append(spec)
        return ScriptedBackend(spec, s, [])

    caller = Caller(settings, ledger, backend_factory=factory)
    assert caller.backend_for(SONNET) is caller.backend_for(SONNET.model_copy())
    assert caller.backend_for(QWEN) is not caller.backend_for(SONNET)
    assert len(made) == 2


def test_calls_through_replay_are_recorded_as_recorded(tmp_path: Path, ledger: Ledger) -> None:
    request = ask("implement slugify")
    recording = tmp_path / "demo.jsonl"
    recording.write_text(json.dumps({
        "fingerprint": request.fingerprint("qwen2.5-coder:32b"), "model": "qwen2.5-coder:32b",
        "backend": "ollama",
        "response": {"text": "def slugify(s): ...", "model": "qwen2.5-coder:32b",
                     "latency_ms": 4200, "usage": {"input_tokens": 2000, "output_tokens": 100}},
    }) + "\n")
    settings = load_settings(tmp_path, environ={"HYBRID_REPLAY": str(recording)})
    caller = Caller(settings, ledger, budget_usd=0.000001)  # the real registry path

    result = caller.call(QWEN, request, step="implement", tier="implementer", rung=0)
    assert result.text == "def slugify(s): ..."
    [row] = ledger.calls()
    assert (row.backend, row.model, row.is_local, row.latency_ms) == (
        "ollama", "qwen2.5-coder:32b", True, 4200)
    assert row.cost_usd == 0.0
    assert row.counterfactual_usd == pytest.approx((2000 * 2 + 100 * 10) / 1e6)
    assert row.extra == {"replayed": True, "via": "replay"}

    from hybridcode.errors import ReplayMissError

    with pytest.raises(ReplayMissError):
        caller.call(QWEN, ask("not recorded"), step="implement", tier="implementer")
    assert ledger.calls()[-1].outcome == "error"
