"""The one set of secret detectors: every part of hybridcode that asks "is there a secret in
this text?" asks here.

Three nets, always together:

1. token shapes anchored on prefixes ordinary code never carries (:mod:`.patterns`:
   ``sk-ant-…``, ``AKIA…``, ``ghp_…``, private-key blocks, ``user:password@`` in URLs …),
   found anywhere, quoted or not — in a comment, in test output, in an error message;
2. the values of this machine's credential-named environment variables (``*_KEY``,
   ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD`` …) and of the keys configured in the settings;
3. detect-secrets' verdicts: its default plugins and filters (:mod:`.detector`).

A finding on a line marked ``# pragma: allowlist secret`` is dropped by all three;
``.secrets.baseline`` is applied by each user as its job requires (:mod:`.allowlist`).

Users: :mod:`hybridcode.context.files` (which files may be shown), the review's blocking scan
of added lines, the door every model request passes (:mod:`.door`, used by
:class:`hybridcode.models.caller.Caller`), and — the patterns and known values only, since a
keyword heuristic would corrupt recorded code — the ledger's redaction.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hybridcode.secrets.allowlist import BASELINE, Allowlist, line_allowlisted
from hybridcode.secrets.detector import detect, secret_scanning
from hybridcode.secrets.patterns import PATTERNS, could_be_secret, env_secret_values

PLACEHOLDER_PREFIX = "[REDACTED"
# detect-secrets' names that say how a value was found, not what it is.
_GENERIC = frozenset({"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword"})
# Version of the nets' verdicts: part of every cache of verdicts (bump when a pattern changes).
NETS_VERSION = 1


@dataclass(frozen=True)
class Finding:
    kind: str  # "Anthropic API Key", "Secret Keyword", "env:DB_PASSWORD", …
    line: int  # 1-based line of the text where the value starts
    value: str = field(repr=False)  # the secret itself: for removing it, never stored or shown
    net: str = "pattern"  # pattern / value / detect-secrets


def placeholder(kind: str) -> str:
    """What replaces a secret of ``kind`` in text sent to a model: ``[REDACTED:kind]``."""
    slug = kind if kind.startswith("env:") else "-".join(kind.lower().split())
    return f"{PLACEHOLDER_PREFIX}:{slug}]"


def known_values(configured: list[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """value → kind for every secret value this process knows: credential-named environment
    variables, plus ``configured`` (the API keys the settings hold, however they got there)."""
    values = env_secret_values(environ)
    for value in configured or ():
        # The rule every known value obeys: a configured key like ``test`` is a word, not a
        # credential (no real key is that short or that plain), and removing it would cut the
        # word out of every prompt. ``hybrid doctor`` says such a key looks invalid.
        if could_be_secret(value):
            values.setdefault(value.strip(), "configured key")
    return values


def find_secrets(path: str, text: str, *, values: Mapping[str, str] | None = None,
                 ) -> list[Finding]:
    """Every secret in ``text`` (read as the content of ``path``), in line order, one finding
    per distinct value and line. ``values`` (value → kind) are the known secret values;
    default: :func:`known_values`. Lines with an allow-list pragma have no findings."""
    if values is None:
        values = known_values()
    lines = text.split("\n")
    starts = [0]
    newline = text.find("\n")
    while newline != -1:
        starts.append(newline + 1)
        newline = text.find("\n", newline + 1)
    found: list[Finding] = []
    seen: dict[tuple[int, str], int] = {}  # (line, value) → index in found

    def add(kind: str, line: int, value: str, net: str) -> None:
        if not value or PLACEHOLDER_PREFIX in value:
            return
        at = seen.get((line, value))
        if at is not None:
            if found[at].kind in _GENERIC and net == "pattern":  # the more telling name
                found[at] = Finding(kind, line, value, found[at].net)
            return
        if line_allowlisted(path, lines, line):
            return
        seen[(line, value)] = len(found)
        found.append(Finding(kind, line, value, net))

    def line_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset)

    # detect-secrets first: where it and a token shape find the same value, its name is the
    # one users know from its own reports — unless it only says "high entropy" or "keyword".
    with secret_scanning():
        for kind, line, value in detect(path, text):
            add(kind, line, value, "detect-secrets")
    lower = text.lower()
    for pattern in PATTERNS:
        for offset, value in pattern.values(text, lower):
            add(pattern.kind, line_of(offset), value, "pattern")
    for value, kind in values.items():
        offset = text.find(value)
        while offset != -1:
            add(kind, line_of(offset), value, "value")
            offset = text.find(value, offset + len(value))
    found.sort(key=lambda f: f.line)  # stable: per line, in the order above
    return found


def find_secret(path: str, text: str, *, values: Mapping[str, str] | None = None,
                ) -> tuple[str, int] | None:
    """The first secret in ``text``: (kind, 1-based line), or ``None``."""
    found = find_secrets(path, text, values=values)
    return (found[0].kind, found[0].line) if found else None


def values_digest(values: Mapping[str, str]) -> str:
    """A digest of known values (for cache keys; the values themselves are never written)."""
    digest = hashlib.sha256(f"nets={NETS_VERSION}".encode())
    for value in sorted(values):
        digest.update(b"\0" + value.encode())
    return digest.hexdigest()[:16]


def redact_findings(text: str, findings: list[Finding],
                    allowed: Callable[[Finding], bool] | None = None,
                    ) -> tuple[str, dict[str, int]]:
    """``text`` with each finding's value replaced by its placeholder; (new text, kind → count).

    A distinctive value (a token shape, a known value, or any value that could be a secret on
    its own) is replaced wherever it occurs; a short one that a detect-secrets heuristic
    flagged (``apiKey: 'base'``) only on its own line, so the word is not cut out of the rest.
    """
    counts: dict[str, int] = {}
    lines: list[str] | None = None
    everywhere: dict[str, str] = {}
    for f in findings:
        if allowed is not None and allowed(f):
            continue
        if f.net != "detect-secrets" or could_be_secret(f.value):
            everywhere.setdefault(f.value, f.kind)
            continue
        if lines is None:
            lines = text.split("\n")
        n = lines[f.line - 1].count(f.value)
        if n:
            lines[f.line - 1] = lines[f.line - 1].replace(f.value, placeholder(f.kind))
            counts[f.kind] = counts.get(f.kind, 0) + n
    if lines is not None:
        text = "\n".join(lines)
    for value in sorted(everywhere, key=len, reverse=True):  # a value inside another: whole
        kind = everywhere[value]
        n = text.count(value)
        if n:
            text = text.replace(value, placeholder(kind))
            counts[kind] = counts.get(kind, 0) + n
    return text, counts


__all__ = ["BASELINE", "Allowlist", "Finding", "PATTERNS", "find_secret", "find_secrets",
           "known_values", "placeholder", "redact_findings", "secret_scanning", "values_digest"]
