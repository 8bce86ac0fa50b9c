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
# A 5-minute cache entry lives this long after its last use; a longer gap means a new write.
SHORT_TTL_S = 300.0


def choose_cache_ttl(expected_gap_s: float | None) -> str:
    """``"1h"`` when the expected gap between calls reading the same prefix is longer than a
    5-minute entry lives, else ``"5m"``. Break-even (docs/costs.md): a 1-hour write costs 0.75×
    input more than a 5-minute one; each gap over 5 minutes costs a 5-minute entry a new write
    (1.25×) instead of a read (0.05–0.1×), about 1.2× input. So the hour pays as soon as more
    than ~0.63 long gaps are expected per write — when the typical gap is over 5 minutes."""
    return "1h" if expected_gap_s is not None and expected_gap_s > SHORT_TTL_S else "5m"


def configured_ttl(settings: Settings, cache_ttl: str | None = None) -> str:
    """The lifetime a call used: its own, else the configured one (``auto`` counts as 5m)."""
    ttl = cache_ttl or settings.anthropic.cache_ttl
    return ttl if ttl in ("5m", "1h") else "5m"


def token_cost(price: Price, usage: Usage, cache_ttl: str = "5m") -> float:
    write_rate = price.cache_write_1h if cache_ttl == "1h" else price.cache_write_5m
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * write_rate
        + usage.cache_read_tokens * price.cache_read
    ) / _PER_MTOK


def call_cost(settings: Settings, model: str, usage: Usage, latency_ms: int = 0,
              is_local: bool = False, cache_ttl: str | None = None) -> float | None:
    """USD for one call, or ``None`` when the model has no configured price and is not local.

    Local models cost 0 unless the user set an hourly running cost (charged by latency).
    ``cache_ttl``: the lifetime the call's cache writes used (the backend reports it)."""
    price = settings.price_for(model)
    if price is None:
        return 0.0 if is_local else None
    cost = token_cost(price, usage, configured_ttl(settings, cache_ttl))
    if price.hourly:
        cost += price.hourly * latency_ms / 3_600_000
    return cost


def counterfactual_cost(settings: Settings, usage: Usage) -> float:
    """What the same tokens would have cost on the counterfactual Claude model, uncached."""
    price = settings.price_for(settings.counterfactual)
    if price is None:
        return 0.0
    return (usage.total_input * price.input + usage.output_tokens * price.output) / _PER_MTOK


# The direct floor (docs/costs.md) counts both of its sides from text at one convention: the
# characters a token that the demo's recorded usage follows and tokenizers give for code.
FLOOR_CHARS_PER_TOKEN = 3.3


def floor_tokens(text: str) -> int:
    """Tokens of ``text`` at the floor's convention (:data:`FLOOR_CHARS_PER_TOKEN`)."""
    return int(len(text) / FLOOR_CHARS_PER_TOKEN)


def written_tokens(added: str) -> int:
    """Tokens Claude would write to produce the added lines of a diff (``+`` lines; context
    and removed lines are not written), at the floor's convention."""
    lines = [line[1:] for line in added.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return floor_tokens("".join(line + "\n" for line in lines))
