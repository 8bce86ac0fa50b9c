"""Cost of a call from the configured price table.

Total input = uncached input + cache write + cache read, each priced separately (a peer
double-counted tokens when caches were written; another priced every model alike).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hybridcode.config import Price, Settings
    from hybridcode.models.base import Usage

_PER_MTOK = 1_000_000


def token_cost(price: Price, usage: Usage, cache_ttl: str = "5m") -> float:
    write_rate = price.cache_write_1h if cache_ttl == "1h" else price.cache_write_5m
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * write_rate
        + usage.cache_read_tokens * price.cache_read
    ) / _PER_MTOK


def call_cost(settings: Settings, model: str, usage: Usage, latency_ms: int = 0,
              is_local: bool = False) -> float | None:
    """USD for one call, or ``None`` when the model has no configured price and is not local.

    Local models cost 0 unless the user set an hourly running cost (charged by latency)."""
    price = settings.price_for(model)
    if price is None:
        return 0.0 if is_local else None
    cost = token_cost(price, usage, settings.anthropic.cache_ttl)
    if price.hourly:
        cost += price.hourly * latency_ms / 3_600_000
    return cost


def counterfactual_cost(settings: Settings, usage: Usage) -> float:
    """What the same tokens would have cost on the counterfactual Claude model, uncached."""
    price = settings.price_for(settings.counterfactual)
    if price is None:
        return 0.0
    return (usage.total_input * price.input + usage.output_tokens * price.output) / _PER_MTOK
