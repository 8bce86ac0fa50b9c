"""False positives, allow-listed the way detect-secrets users already do it.

- ``# pragma: allowlist secret`` at the end of a line (``// pragma: …`` and the other comment
  styles detect-secrets knows), or ``pragma: allowlist nextline secret`` on the line above:
  nothing on that line is a finding, whichever net found it. detect-secrets' own filter decides
  (:func:`detect_secrets.filters.allowlist.is_line_allowlisted`).
- ``.secrets.baseline`` at the repository's root, in detect-secrets' own format (``detect-secrets
  scan > .secrets.baseline``, then ``detect-secrets audit``), read with its own API. A secret
  listed there for a file (by its SHA-1, as detect-secrets hashes it) is known and accepted:
  the review's blocking scan does not block on it, wherever it moved within the file.

The door (what is *sent* to a model) is stricter than the review (what is *committed*): a
request is not a file, so a baselined value is let through wherever it appears, but only when
the audit has not marked it a real secret (``"is_secret": true``) — a real secret accepted in
the repository is still not sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from hybridcode.errors import ConfigError

BASELINE = ".secrets.baseline"


@dataclass(frozen=True)
class Allowlist:
    """What a repository's ``.secrets.baseline`` accepts (empty when it has none)."""

    by_file: dict[str, frozenset[str]] = field(default_factory=dict)  # path → SHA-1 hashes
    sendable: frozenset[str] = frozenset()  # hashes not audited as real secrets
    digest: str = ""  # of the baseline's bytes: part of every cache key that depends on it

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
                   hashlib.sha256(data).hexdigest())

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
