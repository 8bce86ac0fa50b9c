"""detect-secrets' verdicts on text, fast enough to run on every file shown and every request sent.

Speed, measured on Django: detect-secrets' ``scan_file`` costs ~60 ms per file (17.6 s for 300
files; its per-line filter machinery dominates), ~3 minutes for Django's 2,900 source files.
So cheap C-speed scans first find the *risky* lines — literals every default detector needs
(keywords, token prefixes), quoted strings whose entropy could pass the entropy limits, a few
anchored token shapes — and only those lines (~5,000 of ~500,000) go through detect-secrets'
own plugin and filter pipeline, with the whole text as context: ~2.5 s of CPU instead of
minutes, with the same verdicts as ``scan_file`` on a 300-file sample. Each plugin then sees
only the risky lines its own patterns could match (``_GATES``).

detect-secrets' default filters run as ``scan_file`` runs them, so ``# pragma: allowlist
secret`` on a line (or ``pragma: allowlist nextline secret`` above it) already silences its
plugins there. This module is one of the three nets of :mod:`hybridcode.secrets`; use that
package's :func:`~hybridcode.secrets.find_secrets`, not this module, from the rest of the code.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

def detect(path: str, text: str) -> Iterator[tuple[str, int, str]]:
    """Every secret detect-secrets' default plugins and filters find in ``text`` (as if it
    were the content of ``path``): (detector type, 1-based line, the secret's value), in line
    order. The value is for redaction only: it is never stored or shown."""
    risky = _risky_lines(text)
    if risky:
        yield from _detect_all(path, text, risky)


# Literals (searched in the lower-cased text) one of which every default detector needs on a
# line: the keyword detector's words (they also cover the Cloudant, IBM, SoftLayer, AWS-secret
# and npm patterns) and the fixed prefixes of token formats. ``str.find`` runs at memory speed;
# the detectors' own regexes scan at ~1 MB/s, which is why they only see the lines found here.
_TRIGGERS = (
    "apikey", "api_key", "authkey", "auth_key", "servicekey", "service_key", "accountkey",
    "account_key", "dbkey", "db_key", "databasekey", "database_key", "privkey", "priv_key",
    "privatekey", "private_key", "clientkey", "client_key", "keypass", "key_pass", "dbpass",
    "db_pass", "databasepass", "database_pass", "password", "passwd", "pwd", "secret",
    "contrase", "token", "private key", "-key-file",
    "akia", "asia", "abia", "acca", "a3t", "akc", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "gr1348941", "glcbt-", "glimt-", "glptt-",
    "glagent-", "gloas-", "eyj", "t3blbkfj", "pypi-", "sg.", "xox", "sq0csp-", "k_live_", "-us",
)
# Shape-only formats. Quoted base64/hex strings are kept when their Shannon entropy could pass
# the entropy detectors' default limits (base64 4.5, hex 3.0), or when long and next to "key"
# (the cloud detectors' keyed values). Telegram and Discord tokens and URL credentials have
# their own anchored shapes. Unquoted tokens count only next to a trigger word; a bare public IP
# address is not treated as a credential.
_QUOTED = re.compile(r"""(['"])([A-Za-z0-9+/=_\-]{9,})\1""")
_SHAPES = (
    re.compile(r":[0-9A-Za-z_-]{35}"),                       # Telegram bot token
    re.compile(r"\.[a-zA-Z0-9_-]{6}\.[a-zA-Z0-9_-]{27}"),     # Discord bot token
    re.compile(r"://[^:/?#\[\]@!$&'()*+,;=\s]+:[^:/?#\[\]@!$&'()*+,;=\s]+@"),  # user:pass@
)
_HEX = frozenset("0123456789abcdefABCDEF")
_BASE64_LIMIT, _HEX_LIMIT = 4.5, 3.0


# Each ``str.find`` sweep over the text costs about the same whatever the literal, so the
# literals sharing an anchor ("key", "pass", "gh", "gl") are found by one sweep for the anchor
# and a ``startswith`` check at each hit: 23 sweeps instead of 60 (a single regex alternation
# measured slower still, since ``re`` tries the alternatives one by one at each position).
# A literal holds no newline, so the line a hit marks is the same whichever way it is found.
_ANCHORS = ("key", "pass", "gh", "gl")


def _anchor_groups() -> tuple[dict[str, tuple[tuple[str, int], ...]], tuple[str, ...]]:
    groups: dict[str, list[tuple[str, int]]] = {a: [] for a in _ANCHORS}
    single: list[str] = []
    for literal in _TRIGGERS:
        anchor = next((a for a in _ANCHORS if a in literal), None)
        if anchor is None:
            single.append(literal)
        else:
            groups[anchor].append((literal, literal.index(anchor)))
    return {a: tuple(g) for a, g in groups.items() if g}, tuple(single)


_GROUPS, _SINGLE = _anchor_groups()


def _trigger_hits(lower: str) -> list[int]:
    hits: list[int] = []
    find, startswith, append = lower.find, lower.startswith, hits.append
    for literal in _SINGLE:
        pos = find(literal)
        while pos != -1:
            append(pos)
            pos = find(literal, pos + 1)
    for anchor, members in _GROUPS.items():
        pos = find(anchor)
        while pos != -1:
            for literal, offset in members:
                start = pos - offset
                if start >= 0 and startswith(literal, start):
                    append(start)
                    break
            pos = find(anchor, pos + 1)
    return hits


# Shannon entropy is at most log2(distinct characters): a token with fewer distinct characters
# than these cannot pass the limit, so its entropy need not be computed (a cheap set() instead
# of a Counter; Django has ~36k quoted tokens). The bounds stay strictly below 2**limit, so
# floating-point rounding at the limit cannot change a verdict.
_MIN_DISTINCT_BASE64 = 23  # log2(22) = 4.46 < 4.5
_MIN_DISTINCT_HEX = 8  # log2(7) = 2.81 < 3.0; 8 distinct may compute to 3.0 + rounding


def _entropy(token: str) -> float:
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def _could_pass_entropy(token: str) -> bool:
    distinct = len(set(token))
    if _HEX.issuperset(token):
        return distinct >= _MIN_DISTINCT_HEX and _entropy(token) > _HEX_LIMIT
    return distinct >= _MIN_DISTINCT_BASE64 and _entropy(token) > _BASE64_LIMIT


def _risky_lines(text: str) -> list[int]:
    """Line numbers (1-based, sorted) where some detector could match."""
    lower = text.lower()
    hits = _trigger_hits(lower)
    for match in _QUOTED.finditer(text):
        token = match.group(2)
        if _could_pass_entropy(token):
            hits.append(match.start())
        elif len(token) >= 20:
            start = lower.rfind("\n", 0, match.start()) + 1
            end = lower.find("\n", match.start())
            if "key" in lower[start:end if end != -1 else len(lower)]:
                hits.append(match.start())
    for shape in _SHAPES:
        hits.extend(m.start() for m in shape.finditer(text))
    hits.sort()
    lines: list[int] = []
    line_no, scanned = 1, 0
    for pos in hits:
        line_no += text.count("\n", scanned, pos)
        scanned = pos
        if not lines or lines[-1] != line_no:
            lines.append(line_no)
    return lines


_settings_depth = 0
# detect-secrets' settings are process-wide: two threads scanning at once would install and
# remove them under each other's feet (a scan with no plugins finds nothing). One thread at a
# time holds them; the same thread may nest.
_settings_lock = threading.RLock()


def _after_fork_in_child() -> None:
    # A process forked while another thread scanned would inherit the lock held by a thread
    # it does not have; the child starts with a fresh one (and installs the settings anew).
    global _settings_lock, _settings_depth
    _settings_lock = threading.RLock()
    _settings_depth = 0


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def secret_scanning() -> Iterator[None]:
    """Hold detect-secrets' default settings across many scans.

    detect-secrets keeps its configuration process-wide; installing it costs ~2 ms, so a batch
    of files shares one installation instead of paying it per file.
    """
    from detect_secrets.settings import default_settings

    global _settings_depth
    with _settings_lock:
        if _settings_depth:
            yield
            return
        from detect_secrets.core.scan import get_filters
        from detect_secrets.settings import get_settings

        with default_settings():
            # The content is handed over in memory and the path may be relative to another
            # directory: the "is the file on disk" filter would wrongly drop every file.
            get_settings().disable_filters("detect_secrets.filters.common.is_invalid_file")
            get_filters.cache_clear()
            _settings_depth += 1
            try:
                yield
            finally:
                _settings_depth -= 1


# Which lines each default detector can possibly match: a cheap necessary condition on the
# line (``line``) and its case-folded form (``low``; case-folding, not lower-casing, because
# ``re.IGNORECASE`` also matches e.g. "ſ" to "s"). A line goes through a plugin only when its
# gate holds, so a line risky for "token" is not run through 27 plugins. The gates are read
# off the plugins' own patterns (detect-secrets 1.5); a plugin without a gate always runs, so
# a new detect-secrets plugin is never skipped. tests/test_context_files.py checks each gate
# against a line its plugin flags and the gated scan against the full pipeline.
_KEYISH = ("key", "pw", "pass", "token")
_KEYWORD_WORDS = ("key", "pass", "pwd", "secret", "contrase")
_QUOTES = ("'", '"', "`")
_AWS_PREFIXES = ("A3T", "ABIA", "ACCA", "AKIA", "ASIA")
_Gate = Callable[[str, str], bool]
_GATES: dict[str, _Gate] = {
    "ArtifactoryDetector": lambda line, low: "AKC" in line or "AP" in line,
    "AWSKeyDetector": lambda line, low: (any(p in line for p in _AWS_PREFIXES)
                                         or ("aws" in low and any(k in low for k in _KEYISH))),
    "AzureStorageKeyDetector": lambda line, low: "AccountKey=" in line,
    "BasicAuthDetector": lambda line, low: "://" in line and "@" in line,
    "CloudantDetector": lambda line, low: "cl" in low and (
        "cloudant" in low or any(k in low for k in _KEYISH)),
    "DiscordBotTokenDetector": lambda line, low: line.count(".") >= 2,
    "GitHubTokenDetector": lambda line, low: "gh" in line and "_" in line,
    "GitLabTokenDetector": lambda line, low: "gl" in line or "GR1348941" in line,
    "Base64HighEntropyString": lambda line, low: "'" in line or '"' in line,
    "HexHighEntropyString": lambda line, low: "'" in line or '"' in line,
    "IbmCloudIamDetector": lambda line, low: any(k in low for k in ("key", "pwd", "pass",
                                                                     "token")),
    "IbmCosHmacDetector": lambda line, low: "secret" in low and "key" in low,
    "IPPublicDetector": lambda line, low: line.count(".") >= 3,
    "JwtTokenDetector": lambda line, low: "eyJ" in line,
    "MailchimpDetector": lambda line, low: "-us" in line,
    "NpmDetector": lambda line, low: "_authToken=" in line,
    "OpenAIDetector": lambda line, low: "T3BlbkFJ" in line,
    "PrivateKeyDetector": lambda line, low: "PRIVATE KEY" in line or "PuTTY-User-Key" in line,
    "PypiTokenDetector": lambda line, low: "pypi-" in line,
    "SendGridDetector": lambda line, low: "SG." in line,
    "SlackDetector": lambda line, low: "xox" in low or "hooks.slack.com" in low,
    "SoftlayerDetector": lambda line, low: "softlayer" in low or (
        "sl" in low and any(k in low for k in ("key", "pwd", "pass", "token"))),
    "SquareOAuthDetector": lambda line, low: "sq0csp-" in line,
    "StripeDetector": lambda line, low: "k_live_" in line,
    "TelegramBotTokenDetector": lambda line, low: ":" in line,
    "TwilioKeyDetector": lambda line, low: "AC" in line or "SK" in line,
}


def _keyword_gate(path: str) -> _Gate:
    """The keyword detector's patterns for this file type: in quotes-required languages
    (Python, JavaScript, ...) every one of them needs a quote on the line."""
    from detect_secrets.plugins import keyword
    from detect_secrets.util.filetype import determine_file_type

    patterns = keyword.REGEX_BY_FILETYPE.get(determine_file_type(path),
                                             keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    if patterns is keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP:
        return lambda line, low: (any(w in low for w in _KEYWORD_WORDS)
                                  and any(q in line for q in _QUOTES))
    return lambda line, low: any(w in low for w in _KEYWORD_WORDS)


def _always(line: str, low: str) -> bool:
    return True


def _detect(path: str, text: str, risky: list[int]) -> tuple[str, int] | None:
    """The first finding of :func:`_detect_all`: (detector type, line), or ``None``."""
    found = _detect_all(path, text, risky)
    try:
        for kind, line, _ in found:
            return kind, line
        return None
    finally:
        found.close()  # leave detect-secrets' settings now, not when the generator is collected


def _detect_all(path: str, text: str, risky: list[int]) -> Iterator[tuple[str, int, str]]:
    from detect_secrets.core import scan

    # Split on "\n" only, as _risky_lines counts: str.splitlines() also breaks on form feeds.
    all_lines = text.split("\n")
    with secret_scanning():
        # The steps scan_file() takes per line (filename filters, line filters, each plugin,
        # context filters), run only on the risky lines but with the whole file as context.
        # These are underscore names in detect-secrets 1.5; tests/test_context_files.py pins
        # the behaviour so an upgrade that moves them fails loudly in CI.
        if scan._is_filtered_out(required_filter_parameters=["filename"], filename=path):
            return
        keyword_gate = _keyword_gate(path)
        plugins = [(plugin, keyword_gate if name == "KeywordDetector"
                    else _GATES.get(name, _always))
                   for plugin in scan.get_plugins() for name in [type(plugin).__name__]]
        for number in risky:
            line = all_lines[number - 1].rstrip()
            low = line.casefold()
            snippet = None
            for plugin, gate in plugins:
                if not gate(line, low):
                    continue
                if snippet is None:
                    # The line filters are pure predicates, so asking them only once some
                    # plugin could fire gives the verdicts scan_file() gives, for less.
                    snippet = scan.get_code_snippet(lines=all_lines, line_number=number)
                    if scan._is_filtered_out(required_filter_parameters=["line"],
                                             filename=path, line=line, context=snippet):
                        break
                for secret in scan._scan_line(plugin=plugin, filename=path, line=line,
                                              line_number=number, context=snippet):
                    if not scan._is_filtered_out(
                            required_filter_parameters=["context"], filename=secret.filename,
                            secret=secret.secret_value, plugin=plugin, line=line,
                            context=snippet):
                        yield secret.type, number, secret.secret_value or ""
