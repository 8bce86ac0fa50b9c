"""Prompts live as Markdown files in ``prompts/`` so they can be read and reviewed as prose."""

from __future__ import annotations

import re
from functools import lru_cache

from hybridcode.errors import HybridError

from hybridcode.resources import prompts_dir

PROMPTS_DIR = prompts_dir()


_HEADER = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``"repair_schema.md"``)."""
    path = PROMPTS_DIR / name
    try:
        # A leading HTML comment documents the prompt for maintainers; the model never needs it.
        return _HEADER.sub("", path.read_text(encoding="utf-8"), count=1)
    except FileNotFoundError:
        raise HybridError(
            f"prompt file {name} is missing from {PROMPTS_DIR}",
            "reinstall from a complete checkout: pip install -e . (prompts/ ships with the source)",
        ) from None


_TOKEN = re.compile(r"\{(\w+)\}")


def render_prompt(name: str, **values: object) -> str:
    """``load_prompt`` with each ``{key}`` token replaced. Not ``str.format``: prompts contain
    literal braces (JSON, code). One pass: a value is never scanned again, so code that holds
    ``{problem}`` or ``{item}`` (an f-string) reaches the model as written."""
    return _TOKEN.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
                      load_prompt(name))
