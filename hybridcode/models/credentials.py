"""What a backend needs before it may send anything, checked without importing an SDK.

Importing the Anthropic SDK takes about a second; a missing key is known from the settings
alone, so ``hybrid plan`` and ``hybrid doctor`` say so at once. A missing key is a
configuration error (exit 2), and because nothing was sent it is never recorded as a call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hybridcode.errors import MissingKeyError
from hybridcode.models.base import HealthCheck
from hybridcode.secrets.patterns import could_be_secret

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings

DEFAULT_ANTHROPIC_URL = "https://api.anthropic.com"
MISSING_ANTHROPIC_KEY_HINT = ("set ANTHROPIC_API_KEY (or anthropic.api_key in "
                              "~/.config/hybridcode/config.toml)")


def anthropic_key(settings: Settings) -> str:
    secret = settings.anthropic.api_key
    key = secret.get_secret_value().strip() if secret is not None else ""
    if not key:
        raise MissingKeyError("no Anthropic API key", MISSING_ANTHROPIC_KEY_HINT)
    return key


def anthropic_key_check(settings: Settings) -> HealthCheck:
    """The doctor's line for the key: present or not (offline; no SDK, no request)."""
    try:
        key = anthropic_key(settings)
    except MissingKeyError as exc:
        return HealthCheck("Anthropic API key", False, "not set", hint=exc.hint)
    base_url = settings.anthropic.base_url or DEFAULT_ANTHROPIC_URL
    if not could_be_secret(key):
        # Too short or too plain to be a real key (``test``): the API will refuse it, and the
        # secret nets do not treat it as one (it would be cut out of every prompt as a word).
        return HealthCheck("Anthropic API key", False,
                           f"set, but a {len(key)}-character value like this cannot be a real "
                           f"key; requests go to {base_url}",
                           hint="set ANTHROPIC_API_KEY to a key from console.anthropic.com "
                                "(real keys start with sk-ant-)", required=False)
    return HealthCheck("Anthropic API key", True, f"set; requests go to {base_url}")


def require_credentials(spec: ModelSpec, settings: Settings) -> None:
    """Raise :class:`MissingKeyError` when ``spec``'s backend cannot send without a key that
    the settings lack. Replayed tiers need none."""
    if settings.replay.path is not None:
        return
    if spec.backend == "anthropic":
        anthropic_key(settings)
