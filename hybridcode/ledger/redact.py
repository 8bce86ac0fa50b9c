"""Keep API keys out of everything hybrid writes down (ledger errors, recordings, snapshots).

Two of :mod:`hybridcode.secrets`' nets: the exact secret values this process knows (the keys
the settings hold, credential-named environment variables), and its token shapes for keys
that may arrive some other way (an SDK echoing a header in an error, a key pasted into a
prompt). Not its third net, detect-secrets' keyword and entropy heuristics: recorded model
output is code, and a broad ``api_key = ...`` rule would corrupt the code that replay serves
back. The token shapes are anchored on prefixes no ordinary code carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hybridcode.secrets.patterns import PATTERNS, could_be_secret, env_secret_values

if TYPE_CHECKING:
    from hybridcode.config import Settings

REDACTED = "[REDACTED]"

# Setting and option names whose values are credentials (in snapshots, whatever their shape).
_SECRET_NAMES = re.compile(r"(?i)^(api_?key|key|secret|password|token|authorization)$"
                           r"|(_key|_secret|_password|_token)$")


def secret_values(settings: Settings) -> list[str]:
    """The credential values configured in ``settings`` (to be removed wherever they appear)."""
    values = []
    for secret in (settings.anthropic.api_key, settings.openai.api_key):
        if secret is not None and secret.get_secret_value():
            values.append(secret.get_secret_value())
    return values


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without ``secrets``, this process's secret environment values and any value
    of the shared token shapes, each replaced by ``[REDACTED]``."""
    values = {s.strip() for s in secrets if could_be_secret(s)} | set(env_secret_values())
    # Longest first, so a key that contains another configured value is removed whole.
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in PATTERNS:
        found = {value for _, value in pattern.values(text) if value != REDACTED}
        for value in sorted(found, key=len, reverse=True):
            text = text.replace(value, REDACTED)
    return text


def one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters (for error columns)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def redact_tree(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with credential-named keys dropped and strings redacted."""
    secrets = list(secrets)
    if isinstance(value, dict):
        return {k: redact_tree(v, secrets) for k, v in value.items()
                if not (isinstance(k, str) and _SECRET_NAMES.search(k))}
    if isinstance(value, (list, tuple)):
        return [redact_tree(v, secrets) for v in value]
    if isinstance(value, str):
        return redact(value, secrets)
    return value


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """Settings as JSON-ready data for the ``runs`` table, without any credential."""
    data = settings.model_dump(mode="json")
    return redact_tree(data, secret_values(settings))
