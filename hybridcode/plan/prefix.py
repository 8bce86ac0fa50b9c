"""The stable prompt prefix every Claude call of a plan shares, so each call after the first
reads it from the prompt cache.

Order, identical for the planner, the reviewer and fix rounds (Claude implementer rungs send a
short single-shot prompt instead: hybridcode.implement.escalation):

    1. instructions   prompts/shared.md + planner.md + implementer.md + reviewer.md
    2. schema         the spec's JSON schema (what the planner fills; what the others read)
                      ── cache breakpoint (the same for every plan of every repository: a
                         plan made within the cache's lifetime of another reads 1–2 from it)
    3. repository map the map the planner saw, stored as .hybrid/plans/<id>/repomap.md
                      ── cache breakpoint (the planner's prefix ends here)
    4. architecture   the plan's architecture note (every call after planning)
                      ── cache breakpoint
    then the role block (prompts/roles.md) and the call's own messages.

A cache breakpoint caches only when the prefix before it reaches the model's minimum cacheable
length (1,024 to 4,096 tokens by model, ``min_cache_tokens`` in the price table); the API says
nothing when it does not. :func:`map_budget` therefore sizes the repository map so the prefix
clears the largest minimum among the plan's Claude models, and the Anthropic backend records
any breakpoint that still falls short (``hybrid stats`` reports it).

Prompt caches are per model: the reviewer reads what the planner wrote when both are the same
model.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.models.base import Block, estimate_tokens
from hybridcode.prompts import load_prompt, render_prompt

if TYPE_CHECKING:
    from hybridcode.config import Settings

REPO_MAP = "repomap.md"
ROLES = ("planner", "implementer", "reviewer")
# Breakpoints are placed on estimated sizes; real tokenizers may count fewer tokens than
# models.base.estimate_tokens (3 characters a token), so the prefix is sized with headroom.
MARGIN = 1.25

__all__ = ["REPO_MAP", "map_budget", "min_cache_tokens", "plan_prefix", "role_block",
           "shared_prefix"]


@lru_cache(maxsize=None)
def instructions() -> str:
    from hybridcode.spec import MAX_ITEMS, TEST_DIR

    parts = [load_prompt("shared.md").strip()]
    for role, text in (
            ("planner", render_prompt("planner.md", max_items=MAX_ITEMS, test_dir=TEST_DIR)),
            ("implementer", load_prompt("implementer.md")),
            # The checklist follows in the reviewer's role block, under this same heading.
            ("reviewer", load_prompt("reviewer.md").rstrip().removesuffix("## Checklist"))):
        parts.append(f"# Instructions of the {role}\n\n{text.strip()}")
    return "\n\n".join(parts) + "\n"


@lru_cache(maxsize=None)
def schema_text() -> str:
    from hybridcode.plan import planner_output_schema

    # With its descriptions: they tell the implementer and the reviewer what each field of
    # the spec means, and they keep the prefix over the models' minimum cacheable length even
    # in a small repository whose map is short (structure alone left it under 4,096 tokens).
    schema = json.dumps(planner_output_schema(), separators=(",", ":"), ensure_ascii=False)
    return f"\n# The spec's JSON schema (the planner's answer)\n\n{schema}\n"


def _map_section(repo_map: str) -> str:
    return "\n# Repository map\n\n" + (repo_map.strip() or "(no map recorded)") + "\n"


def _architecture_section(architecture: str) -> str:
    return "\n# Architecture note of this plan\n\n" + architecture.strip() + "\n"


def shared_prefix(repo_map: str, architecture: str | None = None) -> tuple[Block, ...]:
    """Blocks 1–4 (the architecture note only when there is one)."""
    blocks = [Block(instructions()), Block(schema_text(), cache=True),
              Block(_map_section(repo_map), cache=True)]
    if architecture and architecture.strip():
        blocks.append(Block(_architecture_section(architecture), cache=True))
    return tuple(blocks)


def role_block(role: str, extra: str = "") -> Block:
    """The call's role, after the shared prefix; ``extra`` is role material that is the same
    for every call of that role (the reviewer's checklist). Cached: a role's later calls read it."""
    text = "\n" + render_prompt("roles.md", role=role).strip() + "\n"
    if extra.strip():
        heading = "## Checklist\n\n" if role == "reviewer" else ""
        text += "\n" + heading + extra.strip() + "\n"
    return Block(text, cache=True)


def plan_prefix(plan_dir: Path, architecture: str) -> tuple[Block, ...]:
    """The prefix of a plan's later calls, from the map stored when it was planned (plans made
    before the map was stored get an empty map: their calls still share the rest)."""
    path = Path(plan_dir) / REPO_MAP
    repo_map = path.read_text(encoding="utf-8") if path.is_file() else ""
    return shared_prefix(repo_map, architecture)


def min_cache_tokens(settings: Settings) -> int:
    """The largest minimum cacheable length among the Claude models of these settings."""
    models = [settings.tiers.planner, settings.tiers.reviewer, *settings.tiers.implementer]
    minimums = [0]
    for spec in models:
        if spec.backend == "anthropic":
            price = settings.price_for(spec.model)
            if price is not None:
                minimums.append(price.min_cache_tokens)
    return max(minimums)


def map_budget(settings: Settings, wanted: int) -> int:
    """Tokens for the repository map: ``wanted``, or more when the instructions and schema
    alone leave the planner's prefix short of the models' minimum cacheable length."""
    fixed = estimate_tokens(instructions() + schema_text())
    needed = int(min_cache_tokens(settings) * MARGIN) - fixed
    return max(wanted, needed)
