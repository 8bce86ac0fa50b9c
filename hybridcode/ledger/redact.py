"""Keep API keys out of everything hybrid writes down (ledger errors, recordings, snapshots).

Two nets: the exact key values the settings hold, and patterns for keys that may arrive some
other way (an SDK echoing a header in an error, a key pasted into a prompt). The patterns are
narrow on purpose: recorded model output is code, and a broad ``api_key = ...`` pattern would
corrupt the code that replay serves back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridcode.config import Settings

REDACTED = "[REDACTED]"

_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{6,}"),  # Anthropic keys (sk-ant-api03-…, sk-ant-admin…)
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),  # OpenAI-style keys (sk-…, sk-proj-…)
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*")

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
    # Longest first, so a key that contains another configured value is removed whole.
    for value in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


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
