"""The token shapes hybridcode recognises wherever they appear, quoted or not, and the secret
values this machine holds.

detect-secrets' plugins judge a *line* (most need quotes or a keyword next to the value), so an
unquoted key in a comment or in a log line passes them. These shapes are anchored on prefixes
no ordinary code carries, so they can be applied to any text — source, test output, an error
message, recorded model output — without corrupting it. Each pattern's ``secret`` group (or the
whole match) is the value to remove.

Secret values: the values of environment variables whose names mark them as credentials
(``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``PGPASSWORD``, cloud credentials,
connection strings and database URLs…).
A value counts only when it could be a secret rather than a word: at least ``MIN_VALUE_CHARS``
long, with at least two kinds of character (``postgres`` or ``false`` would otherwise be cut
out of every prompt that mentions them), and not the path of an existing file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

MIN_VALUE_CHARS = 8


@dataclass(frozen=True)
class Pattern:
    kind: str
    regex: re.Pattern[str]
    # Literals one of which every match contains (in the lower-cased text when ``folded``): a
    # C-speed ``in`` test skips the regex for the text that has none, i.e. nearly every file
    # (the regexes alone cost ~0.3 s per MB; the test, a few ms).
    anchors: tuple[str, ...]
    folded: bool = False

    def values(self, text: str, lower: str | None = None) -> Iterator[tuple[int, str]]:
        """(offset, value) of each match. ``lower``: ``text.lower()``, if already computed."""
        haystack = (lower if lower is not None else text.lower()) if self.folded else text
        if not any(anchor in haystack for anchor in self.anchors):
            return
        group = "secret" if "secret" in self.regex.groupindex else 0
        for match in self.regex.finditer(text):
            yield match.start(group), match.group(group)


def _p(kind: str, anchors: str | tuple[str, ...], regex: str, folded: bool = False) -> Pattern:
    return Pattern(kind, re.compile(regex), (anchors,) if isinstance(anchors, str) else anchors,
                   folded)


PATTERNS: tuple[Pattern, ...] = (
    _p("Anthropic API Key", "sk-ant-", r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # sk-ant-api03-<key>
    _p("OpenAI API Key", "sk-", r"\bsk-(?!ant-)[A-Za-z0-9_\-]{16,}"),  # sk-…, sk-proj-…
    _p("AWS Access Key", ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
       r"A(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}\b"),
    _p("AWS Secret Key", "aws", r"(?i)aws.{0,20}?secret.{0,20}?[=:]\s*['\"]?"
                                r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", folded=True),
    _p("GitHub Token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
       r"gh(?:[pousr]_[A-Za-z0-9]{36,}|ithub_pat_[A-Za-z0-9_]{22,})"),
    _p("GitLab Token", ("glpat-", "gldt-", "glrt-", "glft-", "glsoat-", "glcbt-", "glimt-",
                        "glptt-", "gloas-", "glagent-"),
       r"gl(?:pat|dt|rt|ft|soat|cbt|imt|ptt|oas|agent)-[A-Za-z0-9_\-]{20,}"),
    _p("Slack Token", "xox", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    _p("Stripe Key", "k_live_", r"[rs]k_live_[A-Za-z0-9]{20,}"),
    _p("Google API Key", "AIza", r"AIza[0-9A-Za-z_\-]{35}"),
    # The whole block; a block cut short (no END line) up to its last base64 line.
    _p("Private Key", "PRIVATE KEY", r"-----BEGIN (?P<label>[A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----"
                                     r"(?:[\s\S]*?-----END (?P=label)PRIVATE KEY( BLOCK)?-----"
                                     r"|(?:\r?\n[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*)*)"),
    # A digit or punctuation in the token, or 16 letters: "bearer authentication" in prose
    # is not a token.
    _p("Bearer Token", "bearer",
       r"(?i)\bbearer\s+(?P<secret>(?=[A-Za-z]*[0-9._~+/\-]|[A-Za-z]{16})"
       r"[A-Za-z0-9._~+/\-]{8,}=*)", folded=True),
    # The password of user:password@host in any URL (git remotes, DSNs, test output).
    _p("URL Credentials", "://", r"://[^:/?#\[\]@\s'\"]+:"
                                 r"(?P<secret>[^:/?#\[\]@\s'\"{}$<>%]{3,})@"),
)

# Environment variable names that hold credentials.
_SECRET_ENV_NAME = re.compile(
    r"(?i)(SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL"
    r"|AUTH_KEY|CONNECTION_STRING|DATABASE_URL|_DSN$|_KEY$|_PASS$|_PWD$)")
# Never credentials, whatever their names say.
_NOT_SECRET_ENV = frozenset({"TOKENIZERS_PARALLELISM"})


def is_secret_env_name(name: str) -> bool:
    return name not in _NOT_SECRET_ENV and _SECRET_ENV_NAME.search(name) is not None


def could_be_secret(value: str) -> bool:
    """Long enough and varied enough to be a credential rather than a word or a path."""
    value = value.strip()
    if len(value) < MIN_VALUE_CHARS:
        return False
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value)
               + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))
    if classes < 2:
        return False
    return not (value.startswith(("/", "~", ".")) and os.path.exists(os.path.expanduser(value)))


def env_secret_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """value → ``env:NAME`` for each credential-like value in ``environ`` (default:
    ``os.environ``)."""
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name in sorted(environ):
        value = environ[name].strip()
        if is_secret_env_name(name) and could_be_secret(value):
            out.setdefault(value, f"env:{name}")
    return out


__all__ = ["MIN_VALUE_CHARS", "PATTERNS", "Pattern", "could_be_secret", "env_secret_values",
           "is_secret_env_name"]
