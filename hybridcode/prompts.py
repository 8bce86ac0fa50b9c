"""Prompts live as Markdown files in ``prompts/`` so they can be read and reviewed as prose."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hybridcode.errors import HybridError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``"repair_schema.md"``)."""
    path = PROMPTS_DIR / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HybridError(
            f"prompt file {name} is missing from {PROMPTS_DIR}",
            "reinstall from a complete checkout: pip install -e . (prompts/ ships with the source)",
        ) from None
