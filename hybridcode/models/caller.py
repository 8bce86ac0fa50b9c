"""The one way stages call a model: vet the request for secrets, pick the backend, keep the run
inside its budget, and write every call — answered or failed — to the ledger with its cost.

    caller = Caller(settings, ledger, run_id=run_id, plan_id=plan.id, budget_usd=5.0, root=root)
    result = caller.call(spec, request, step="implement", tier="implementer",
                         item_id="item-3", rung=0, on_progress=show)

A ``Caller`` is shared by the threads that generate items in parallel.

The door: no backend is reached but through :meth:`Caller.call`, and ``call`` sends only what
:meth:`Caller.vet` returns — every block of the system prompt and every message, with each
secret replaced by ``[REDACTED:<kind>]`` (see :mod:`hybridcode.secrets.door`). What was removed
is counted on the call's ledger row (``extra.redacted``: kind → count, never a value).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from hybridcode.errors import BudgetExceededError, ConfigError, LedgerError, OutputFormatError
from hybridcode.ledger import CallRecord
from hybridcode.ledger.redact import one_line, redact, secret_values
from hybridcode.models.base import Block, Usage, estimate_tokens
from hybridcode.models.pricing import call_cost, counterfactual_cost
from hybridcode.models.registry import create_backend
from hybridcode.secrets.door import Door

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings
    from hybridcode.ledger import Ledger
    from hybridcode.models.base import Backend, ModelRequest, ModelResult, ProgressCallback

log = logging.getLogger(__name__)


def _usd(amount: float) -> str:
    """Cents for dollars, enough digits for fractions of a cent ($0.02, $0.012, $0.000004)."""
    if amount >= 1 or amount == 0:
        return f"{amount:.2f}"
    whole, frac = (f"{amount:.4f}" if amount >= 0.0001 else f"{amount:.6f}").split(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


class Caller:
    """Calls models on behalf of one run and records each call.

    Budget: ``budget_usd`` (default: ``settings.budget_usd``) caps what this run spends on
    paid, non-local backends. Before such a call its cost is estimated from the prompt's size
    and the full output allowance; when what is spent, plus what calls in flight on other
    threads may spend, plus the estimate would cross the cap, the call is not made: a row
    with outcome ``budget`` is written and :class:`BudgetExceededError` raised. ``spent``
    starts from what the ledger already holds for ``run_id``, so a rebuilt Caller keeps counting.

    Counterfactual (``counterfactual_usd``, the all-Claude figure for ``hybrid stats``): a local
    call is priced as if ``settings.counterfactual`` had processed the same tokens, uncached;
    a call that already went to a paid model counts its own actual cost, because in an
    all-Claude run that call would have happened just the same. Saving = Σ counterfactual − Σ cost.
    """

    def __init__(self, settings: Settings, ledger: Ledger, run_id: str | None = None,
                 plan_id: str | None = None, budget_usd: float | None = None, *,
                 backend_factory: Callable[[ModelSpec, Settings], Backend] = create_backend,
                 root: Path | None = None) -> None:
        """``backend_factory`` is the seam for tests and benchmarks (a scripted backend);
        everything else uses the registry's :func:`create_backend`. ``root``: the repository
        whose ``.secrets.baseline`` the door honours."""
        self.settings = settings
        self.ledger = ledger
        self.run_id = run_id
        self.plan_id = plan_id
        self.budget_usd = budget_usd if budget_usd is not None else settings.budget_usd
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._spent = ledger.spend(run_id) if run_id is not None else 0.0
        self._in_flight = 0.0
        self._secrets = secret_values(settings)
        self._factory = backend_factory
        self.door = Door(root, self._secrets)
        self._ttl: str | None = None

    @property
    def spent(self) -> float:
        """USD spent by this run on paid backends so far (recorded costs)."""
        with self._lock:
            return self._spent

    def backend_for(self, spec: ModelSpec) -> Backend:
        """One backend instance per distinct spec, created on first use."""
        key = spec.model_dump_json()
        with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                backend = self._backends[key] = self._factory(spec, self.settings)
            return backend

    def close(self) -> None:
        """Close the backends' HTTP clients (a caller that made its last call)."""
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            backend.close()

    def estimate_usd(self, spec: ModelSpec, request: ModelRequest) -> float:
        """Upper-bound cost of a call: the whole prompt uncached plus the full output allowance."""
        price = self.settings.price_for(spec.model)
        if price is None:
            raise ConfigError(
                f"{spec.model} has no price, so the run's budget of ${_usd(self.budget_usd or 0)} "
                "cannot be enforced",
                f'add its price under [prices."{spec.model}"] in the config, '
                "or run without a budget",
            )
        max_tokens = request.max_tokens or spec.max_output_tokens
        return (estimate_tokens(request.prompt_text()) * price.input
                + max_tokens * price.output) / 1_000_000

    # ------------------------------------------------------------------ the door

    def vet(self, request: ModelRequest) -> tuple[ModelRequest, dict[str, int]]:
        """``request`` as it may leave: secrets replaced in every block and message; and what
        was removed (kind → count). A request with nothing to remove is returned as is."""
        counts: dict[str, int] = {}

        def clean(text: str) -> str:
            vetted, found = self.door.vet(text)
            for kind, n in found.items():
                counts[kind] = counts.get(kind, 0) + n
            return vetted

        def content(value: str | tuple[Block, ...]) -> str | tuple[Block, ...]:
            if isinstance(value, str):
                return clean(value)
            return tuple(replace(b, text=clean(b.text)) for b in value)

        system = content(request.system)
        messages = tuple(replace(m, content=content(m.content)) for m in request.messages)
        if not counts:
            return request, {}
        return replace(request, system=system, messages=messages), counts

    # ------------------------------------------------------------------ the call

    def call(self, spec: ModelSpec, request: ModelRequest, *, step: str, tier: str,
             item_id: str | None = None, rung: int | None = None,
             on_progress: ProgressCallback | None = None,
             extra: dict | None = None) -> ModelResult:
        """Vet one request, run it and record it; project errors are recorded, then re-raised
        as is. ``extra``: facts the stage records with the call (e.g. the reviewed diff's
        size)."""
        request, redacted = self.vet(request)
        backend = self.backend_for(spec)
        # Per instance, not per class: a replayed or recorded tier is as local as the tier.
        is_local = bool(getattr(backend, "is_local", spec.is_local))
        base = CallRecord(step=step, tier=tier, backend=spec.backend, model=spec.model,
                          run_id=self.run_id, plan_id=self.plan_id, item_id=item_id, rung=rung,
                          is_local=is_local)
        if backend.name != spec.backend:
            base = replace(base, extra={"via": backend.name})
        if redacted:
            base = replace(base, extra={**base.extra, "redacted": redacted})
            log.info("removed %s secret(s) from a %s request: %s", sum(redacted.values()),
                     step, ", ".join(f"{k} ×{n}" for k, n in sorted(redacted.items())))
        if extra:
            base = replace(base, extra={**base.extra, **extra})

        if request.cache_ttl is None and backend.supports_cache:
            request = replace(request, cache_ttl=self.cache_ttl())
        held = self._reserve(spec, request, base)
        started = time.monotonic()
        try:
            result = backend.complete(request, on_progress)
        except ConfigError:  # refused before anything was sent (no key): not a call
            self._settle(held, 0.0)
            raise
        except Exception as exc:
            self._record_failure(base, exc, held, int((time.monotonic() - started) * 1000))
            raise
        except BaseException:  # Ctrl-C: nothing to record, but free the budget it held
            self._settle(held, 0.0)
            raise

        cost = call_cost(self.settings, result.model, result.usage, result.latency_ms, is_local,
                         result.extra.get("cache_ttl"))
        self._settle(held, 0.0 if is_local else (cost or 0.0))
        u = result.usage
        self.ledger.record_call(replace(
            base, backend=result.backend, model=result.model,
            input_tokens=u.input_tokens, output_tokens=u.output_tokens,
            cache_write_tokens=u.cache_write_tokens, cache_read_tokens=u.cache_read_tokens,
            latency_ms=result.latency_ms, cost_usd=cost,
            counterfactual_usd=self._counterfactual(cost, u, is_local),
            extra={**base.extra, **result.extra},
        ))
        return result

    def cache_ttl(self) -> str:
        """The cache lifetime for this run's calls: the configured one, or with ``auto`` the
        one the ledger's usual gap between a plan's Claude calls calls for (computed once)."""
        if self._ttl is None:
            ttl = self.settings.anthropic.cache_ttl
            if ttl == "auto":
                from hybridcode.ledger.stats import usual_claude_gap_s
                from hybridcode.models.pricing import choose_cache_ttl

                ttl = choose_cache_ttl(usual_claude_gap_s(self.ledger))
            self._ttl = ttl
        return self._ttl

    # ------------------------------------------------------------------ budget

    def _reserve(self, spec: ModelSpec, request: ModelRequest, base: CallRecord) -> float:
        """Hold the call's estimate against the budget, or refuse the call."""
        if self.budget_usd is None or base.is_local:
            return 0.0
        estimate = self.estimate_usd(spec, request)
        with self._lock:
            spent, in_flight = self._spent, self._in_flight
            if spent + in_flight + estimate <= self.budget_usd:
                self._in_flight += estimate
                return estimate
        pending = f", ~${_usd(in_flight)} in flight" if in_flight else ""
        error = BudgetExceededError(
            f"the next call (~${_usd(estimate)}) would cross the run's budget of "
            f"${_usd(self.budget_usd)} (spent ${_usd(spent)}{pending})",
            "raise --budget or resume later; completed work is kept",
        )
        self.ledger.record_call(replace(base, outcome="budget", cost_usd=0.0, error=str(error)))
        raise error

    def _settle(self, held: float, cost: float) -> None:
        with self._lock:
            self._in_flight -= held
            self._spent += cost

    # ------------------------------------------------------------------ recording

    def _counterfactual(self, cost: float | None, usage: Usage, is_local: bool) -> float:
        if is_local:
            return counterfactual_cost(self.settings, usage)
        return cost or 0.0

    def _record_failure(self, base: CallRecord, exc: Exception, held: float,
                        latency_ms: int) -> None:
        # Backends may attach what the failed call consumed (e.g. an invalid answer's tokens).
        usage = getattr(exc, "usage", None)
        if not isinstance(usage, Usage):
            usage = Usage()
        cost = call_cost(self.settings, base.model, usage, latency_ms, base.is_local)
        self._settle(held, 0.0 if base.is_local else (cost or 0.0))
        outcome = "invalid_output" if isinstance(exc, OutputFormatError) else "error"
        record = replace(
            base, outcome=outcome, latency_ms=latency_ms, cost_usd=cost,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_write_tokens, cache_read_tokens=usage.cache_read_tokens,
            counterfactual_usd=self._counterfactual(cost, usage, base.is_local),
            error=one_line(redact(f"{type(exc).__name__}: {exc}", self._secrets)),
        )
        try:
            self.ledger.record_call(record)
        except LedgerError as ledger_exc:
            # The model's error is the one the user must see; the ledger's will show up again
            # on the next write, which raises.
            log.warning("could not record a failed call in the ledger: %s", ledger_exc)
