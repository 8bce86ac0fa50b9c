"""What a calling agent saves, estimated: its Claude tokens never pass through hybrid.

The ledger records every call hybrid makes (the local model's, and a Claude rung's if the user
configured one). The agent's own Claude — which wrote the spec and read the diff — is billed to
the agent, invisibly. So for plans an agent wrote (planner ``agent:...``) the saving is
estimated from sizes hybrid does see, against the counterfactual the product's claims use:
Claude implementing the request directly.

- direct: the code that passed (the local model's kept output), written by Claude — its tokens
  at the output price of ``settings.counterfactual``;
- hybrid: the spec and architecture note the agent wrote (output price) plus the diff it read
  to review (input price, about the code's size), plus the local model's running cost.

Tokens are estimated from characters (:func:`hybridcode.models.base.estimate_tokens`). It is
an estimate and always labelled as one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.mcp_server.results import SavingEstimate

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger

AGENT_PREFIX = "agent:"


def agent_saving(root: Path, ledger: Ledger, settings: Settings,
                 since: str | None = None) -> SavingEstimate:
    from hybridcode.models.base import estimate_tokens
    from hybridcode.plan.store import ARCHITECTURE, PlanStore

    store = PlanStore(root)
    plans = [pid for pid in store.plan_ids()
             if store.meta(pid).planner_model.startswith(AGENT_PREFIX)
             and (since is None or store.meta(pid).created_at >= since)]
    code = spec = 0
    local_usd = 0.0
    for plan_id in plans:
        for name in ("spec.json", ARCHITECTURE):
            try:
                spec += estimate_tokens(store.read_text(plan_id, name))
            except FileNotFoundError:
                pass
        rows = ledger.query(
            "SELECT item_id, output FROM attempts WHERE plan_id = ? AND outcome = 'passed' "
            "AND output IS NOT NULL ORDER BY id", (plan_id,))
        kept = {row["item_id"]: row["output"] for row in rows}  # an item's latest passing code
        code += sum(estimate_tokens(output) for output in kept.values())
        local_usd += float(ledger.query(
            "SELECT TOTAL(cost_usd) FROM calls WHERE plan_id = ? AND is_local = 1",
            (plan_id,))[0][0])
    model = settings.counterfactual
    price = settings.price_for(model)
    out_price = price.output if price else 0.0
    in_price = price.input if price else 0.0
    direct = code * out_price / 1e6
    hybrid = spec * out_price / 1e6 + code * in_price / 1e6 + local_usd
    basis = ("estimate: passed code's tokens at the output price (Claude writing it directly) "
             "minus the agent's spec and architecture at the output price and the diff it read "
             "at the input price, plus local running cost; tokens estimated from characters")
    if price is None:
        basis += f"; no price configured for {model}, so the figures are 0"
    return SavingEstimate(model=model, plans=len(plans), code_tokens=code, spec_tokens=spec,
                          review_tokens=code, direct_usd=round(direct, 6),
                          hybrid_usd=round(hybrid, 6), saving_usd=round(direct - hybrid, 6),
                          basis=basis)
