"""False positives, allow-listed the way detect-secrets users already do it.

- ``# pragma: allowlist secret`` at the end of a line (``// pragma: …`` and the other comment
  styles detect-secrets knows), or ``pragma: allowlist nextline secret`` on the line above:
  nothing on that line is a finding, whichever net found it. detect-secrets' own filter decides
  (:func:`detect_secrets.filters.allowlist.is_line_allowlisted`).
- ``.secrets.baseline`` at the repository's root, in detect-secrets' own format (``detect-secrets
  scan > .secrets.baseline``, then ``detect-secrets audit``), read with its own API. What it
  accepts, the review's blocking scan accepts from every net (:meth:`Allowlist.review`):

  * a secret listed for a file (by its SHA-1, as detect-secrets hashes it), wherever it moved
    within the file — and with it every other net's finding on the line where it stands now
    (``api_key = "Bearer 9f8e…"``: detect-secrets lists the keyword's value, the token shape
    finds the token inside it: one place, one entry);
  * the patterns detect-secrets records from ``scan --exclude-files / --exclude-lines /
    --exclude-secrets``: a file, line or value they match has no finding, whichever net found
    it. This is how to accept what detect-secrets itself never lists — a ``Bearer`` test string
    only hybrid's token shapes see, or a file detect-secrets skips because it is not UTF-8 —
    and, being part of the baseline's settings, it survives ``detect-secrets scan --baseline``.

The door (what is *sent* to a model) is stricter than the review (what is *committed*): a
request is not a file, so a baselined value is let through wherever it appears, but only when
the audit has not marked it a real secret (``"is_secret": true``) — a real secret accepted in
the repository is still not sent. The exclude patterns say what may be committed, not what
may be sent: the door still replaces what they match.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hybridcode.errors import ConfigError

BASELINE = ".secrets.baseline"
# detect-secrets' regex filters, as its baseline records them (``filters_used``).
_EXCLUDES = {"detect_secrets.filters.regex.should_exclude_file": "files",
             "detect_secrets.filters.regex.should_exclude_line": "lines",
             "detect_secrets.filters.regex.should_exclude_secret": "secrets"}


class Found(Protocol):
    """A finding of any net (:class:`hybridcode.secrets.Finding`)."""

    line: int
    value: str


@dataclass(frozen=True)
class Allowlist:
    """What a repository's ``.secrets.baseline`` accepts (empty when it has none)."""

    by_file: dict[str, frozenset[str]] = field(default_factory=dict)  # path → SHA-1 hashes
    sendable: frozenset[str] = frozenset()  # hashes not audited as real secrets
    digest: str = ""  # of the baseline's bytes: part of every cache key that depends on it
    # scan --exclude-files / --exclude-lines / --exclude-secrets, as the baseline records them
    exclude_files: tuple[re.Pattern[str], ...] = ()
    exclude_lines: tuple[re.Pattern[str], ...] = ()
    exclude_secrets: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def load(cls, root: Path | None) -> Allowlist:
        if root is None:
            return cls()
        path = Path(root) / BASELINE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}",
                              "check its permissions, or remove it") from exc
        from detect_secrets.core.secrets_collection import SecretsCollection

        try:
            collection = SecretsCollection.load_from_baseline(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{path} is not a detect-secrets baseline ({type(exc).__name__}: {exc})",
                "regenerate it with `detect-secrets scan > .secrets.baseline`, or remove it",
            ) from exc
        by_file: dict[str, set[str]] = {}
        sendable: set[str] = set()
        for filename, found in collection.data.items():
            for secret in found:
                by_file.setdefault(Path(filename).as_posix(), set()).add(secret.secret_hash)
                if secret.is_secret is not True:
                    sendable.add(secret.secret_hash)
        return cls({k: frozenset(v) for k, v in by_file.items()}, frozenset(sendable),
                   hashlib.sha256(data).hexdigest(), **_excludes(json.loads(data), path))

    def review(self, path: str, lines: Sequence[str],
               findings: Sequence[Found]) -> tuple[list[Found], list[Found]]:
        """(kept, accepted): which of ``findings`` in ``lines`` (the text they were found in,
        as the content of ``path``) the baseline accepts, whichever net found them. A place
        is accepted as a whole: a line one accepted finding stands on has no other finding."""
        if not findings:
            return [], []
        if any(p.search(path) for p in self.exclude_files):
            return [], list(findings)
        accepted_lines = {
            f.line for f in findings
            if self.accepts(path, f.value)
            or any(p.search(f.value) for p in self.exclude_secrets)
            or (0 < f.line <= len(lines)
                and any(p.search(lines[f.line - 1]) for p in self.exclude_lines))}
        kept = [f for f in findings if f.line not in accepted_lines]
        return kept, [f for f in findings if f.line in accepted_lines]

    def accepts(self, path: str, value: str) -> bool:
        """The baseline lists ``value`` for the file ``path`` (a committed, known secret)."""
        return hash_secret(value) in self.by_file.get(path, frozenset())

    def may_show(self, path: str, value: str) -> bool:
        """``path``'s content may reach a model with ``value`` in it: the baseline lists it
        for that file and its audit did not call it a real secret."""
        return self.accepts(path, value) and self.may_send(value)

    def may_send(self, value: str) -> bool:
        """The baseline lists ``value`` and its audit did not call it a real secret."""
        return bool(self.sendable) and hash_secret(value) in self.sendable


def _excludes(data: dict, path: Path) -> dict[str, tuple[re.Pattern[str], ...]]:
    out: dict[str, list[re.Pattern[str]]] = {}
    for entry in data.get("filters_used") or []:
        kind = _EXCLUDES.get(entry.get("path")) if isinstance(entry, dict) else None
        if kind is None:
            continue
        for pattern in entry.get("pattern") or []:
            try:
                out.setdefault(f"exclude_{kind}", []).append(re.compile(pattern))
            except (re.error, TypeError) as exc:
                raise ConfigError(f"{path}: --exclude-{kind} pattern {pattern!r} is not a "
                                  f"regular expression ({exc})",
                                  "fix it, or regenerate the baseline with detect-secrets "
                                  "scan") from exc
    return {key: tuple(value) for key, value in out.items()}


def hash_secret(value: str) -> str:
    from detect_secrets.core.potential_secret import PotentialSecret

    return PotentialSecret.hash_secret(value)


def line_allowlisted(path: str, lines: list[str], number: int) -> bool:
    """``# pragma: allowlist secret`` on line ``number`` (1-based) of ``lines``, or
    ``pragma: allowlist nextline secret`` on the line before it."""
    from detect_secrets.core.scan import get_code_snippet
    from detect_secrets.filters.allowlist import is_line_allowlisted

    line = lines[number - 1]
    if "allowlist" not in line and (number < 2 or "allowlist" not in lines[number - 2]):
        return False  # the common case, without building a snippet
    return is_line_allowlisted(path, line, get_code_snippet(lines=lines, line_number=number))


__all__ = ["BASELINE", "Allowlist", "hash_secret", "line_allowlisted"]
