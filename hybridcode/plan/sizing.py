"""Does delegating an item to the local model pay? The planner sizes each item before it
writes it — the code (and tests) the implementer would write, the spec it would need — and this
module weighs the two for routing, for ``hybrid plan`` and for ``routing.json``.

For one item, against Claude writing its code in the plan (the ``plan`` route)::

    saving = code − spec − (1 − p) × escalation            (all in USD on the planner's model)
    code        = code_tokens × output price               (what writing it in the plan costs)
    spec        = spec_tokens × output price               (what delegating costs up front)
    escalation  = a Claude rung writing the item after a local failure:
                  (RUNG_PROMPT_TOKENS + spec + code tokens) × input + code_tokens × output
    p           = the local acceptance rate of the item's task kind, from the ledger's local
                  uses and escalations with a prior of ``routing.local_prior_rate`` counted as
                  ``routing.local_prior_weight`` uses (0.7 over 10 uses by default)

An item is worth delegating when ``saving ≥ routing.delegate_margin × code`` (20% by default)
and the saving is positive. Once the spec is written its cost is spent, so routing never
re-routes a delegated item on these figures: they explain the planner's choice and flag one
that did not pay (docs/routing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridcode.config import Price, RoutingThresholds
    from hybridcode.ledger.history import KindStats
    from hybridcode.spec import Spec, SpecItem

# What a Claude rung reads besides the item and the failing attempt: its instructions and the
# trimmed test output (the escalation prompt, hybridcode.implement.prompt).
RUNG_PROMPT_TOKENS = 1500


@dataclass(frozen=True)
class Acceptance:
    """How often the local model's work on a task kind is accepted without escalating."""

    rate: float
    accepted: int  # local uses that did not escalate (from the ledger)
    uses: int  # local uses (from the ledger)

    @property
    def source(self) -> str:
        return "prior" if self.uses == 0 else f"{self.accepted} of {self.uses} local uses + prior"

    def as_dict(self) -> dict[str, Any]:
        return {"rate": round(self.rate, 4), "accepted": self.accepted, "uses": self.uses,
                "source": self.source}


def acceptance(history: KindStats | None, thresholds: RoutingThresholds) -> Acceptance:
    uses = history.local_uses if history else 0
    accepted = uses - history.escalated if history else 0
    weight = thresholds.local_prior_weight
    if uses + weight == 0:
        return Acceptance(thresholds.local_prior_rate, 0, 0)
    rate = (accepted + thresholds.local_prior_rate * weight) / (uses + weight)
    return Acceptance(rate, accepted, uses)


@dataclass(frozen=True)
class Sizing:
    """One item's figures. ``spec_tokens`` is what the planner wrote when it delegated the item,
    its own estimate when it wrote the code; ``code_tokens`` the other way round."""

    code_tokens: int
    spec_tokens: int
    acceptance: Acceptance
    code_usd: float
    spec_usd: float
    escalation_usd: float
    saving_usd: float  # expected saving of delegating, against writing the code in the plan
    margin_usd: float

    @property
    def pays(self) -> bool:
        return self.saving_usd > 0 and self.saving_usd >= self.margin_usd

    def as_dict(self) -> dict[str, Any]:
        return {"code_tokens": self.code_tokens, "spec_tokens": self.spec_tokens,
                "acceptance": self.acceptance.as_dict(),
                "code_usd": round(self.code_usd, 6), "spec_usd": round(self.spec_usd, 6),
                "escalation_usd": round(self.escalation_usd, 6),
                "saving_usd": round(self.saving_usd, 6), "margin_usd": round(self.margin_usd, 6),
                "pays": self.pays}

    def figures(self) -> str:
        """``~900 code tokens vs a ~150-token spec, 70% accepted (prior): saves ~$0.0041``"""
        sign = "saves" if self.saving_usd >= 0 else "loses"
        return (f"~{self.code_tokens:,} code tokens vs a ~{self.spec_tokens:,}-token spec, "
                f"{self.acceptance.rate:.0%} accepted ({self.acceptance.source}): delegating "
                f"{sign} ~${abs(self.saving_usd):.4f}")


def default_price() -> Price:
    from hybridcode.config import DEFAULT_CLAUDE, DEFAULT_PRICES, Price

    return Price.model_validate(DEFAULT_PRICES[DEFAULT_CLAUDE])


def size(code_tokens: int, spec_tokens: int, history: KindStats | None,
         thresholds: RoutingThresholds, price: Price | None = None) -> Sizing:
    price = price or default_price()
    out, inp = price.output / 1e6, price.input / 1e6
    p = acceptance(history, thresholds)
    code_usd, spec_usd = code_tokens * out, spec_tokens * out
    escalation = (RUNG_PROMPT_TOKENS + spec_tokens + code_tokens) * inp + code_tokens * out
    saving = code_usd - spec_usd - (1 - p.rate) * escalation
    return Sizing(code_tokens, spec_tokens, p, code_usd, spec_usd, escalation, saving,
                  thresholds.delegate_margin * code_usd)


def size_item(item: SpecItem, history: KindStats | None, thresholds: RoutingThresholds,
              price: Price | None = None) -> Sizing | None:
    """The item's figures, or None when the plan carries no sizing for it (a spec written by
    hand or before sizing existed)."""
    if item.sizing is None:
        return None
    if (item.code or "").strip():
        return size(item.code_size(), item.sizing.spec_tokens, history, thresholds, price)
    return size(item.sizing.code_tokens, item.spec_size(), history, thresholds, price)


def rule_of_thumb(rate: float, thresholds: RoutingThresholds,
                  price: Price | None = None) -> tuple[float, int] | None:
    """``(a, b)``: delegating pays when ``code_tokens ≥ a × spec_tokens + b`` at acceptance
    ``rate`` — the saving formula solved for the code's size. None when it never pays."""
    price = price or default_price()
    r = price.input / price.output if price.output else 0.0
    fail = 1 - rate
    slope = 1 - fail * (1 + r) - thresholds.delegate_margin
    if slope <= 0:
        return None
    return (1 + fail * r) / slope, round(fail * r * RUNG_PROMPT_TOKENS / slope)


def request_line(spec: Spec, sizings: dict[str, Sizing | None]) -> str:
    """One line for the whole request: what is delegated and what it is expected to save, or
    that nothing pays and the plan is Claude's own change."""
    items = spec.items
    local = [i for i in items if i.route == "local"]
    planned = [i for i in items if i.route == "plan"]
    claude = [i for i in items if i.route == "claude"]
    if not local and not claude:
        return (f"nothing pays to delegate: the plan is Claude's own change — all {len(items)} "
                "items written in the plan, still placed, tested, reviewed and gated")
    saving = sum(s.saving_usd for i in local if (s := sizings.get(i.id)) is not None)
    code = sum(s.code_tokens for i in local if (s := sizings.get(i.id)) is not None)
    parts = [f"{len(local)} of {len(items)} items delegated to the local model"]
    if code:
        parts.append(f"~{code:,} code tokens it writes, expected to save ~${saving:.4f}")
    if planned:
        parts.append(f"{len(planned)} written in the plan")
    if claude:
        parts.append(f"{len(claude)} for a Claude rung")
    return "; ".join(parts)


__all__ = ["Acceptance", "RUNG_PROMPT_TOKENS", "Sizing", "acceptance", "request_line",
           "rule_of_thumb", "size", "size_item"]
