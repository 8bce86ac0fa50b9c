"""Where the bundled prompts and fixtures are.

In a source checkout (and an editable install) they are the repository's top-level ``prompts/``
and ``fixtures/`` folders; in a built wheel they ship as ``hybridcode._prompts`` and
``hybridcode._fixtures`` (see pyproject.toml), so pre-commit's and pip's own environments
have them too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=None)
def _bundled(folder: str, package: str) -> Path:
    source = _CHECKOUT / folder
    if source.is_dir():
        return source
    installed = Path(__file__).resolve().parent / package
    return installed


def prompts_dir() -> Path:
    return _bundled("prompts", "_prompts")


def fixtures_dir() -> Path:
    return _bundled("fixtures", "_fixtures")
