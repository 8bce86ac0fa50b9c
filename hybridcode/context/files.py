"""Which files may reach a model, and why the others may not.

A file is visible to the context when git shows it (tracked, or untracked and not ignored) and
none of these hold, each recorded as the reason it was left out:

- ``ignored``      it matches ``.hybridignore`` (gitignore syntax, applied by git itself)
- ``env file``     its name starts with ``.env`` (``.env``, ``.env.local``, ``.envrc``)
- ``key file``     a key, certificate or credential store by name (``*.pem``, ``id_rsa``, …)
- ``too large``    bigger than ``MAX_FILE_BYTES`` (generated or vendored; useless in a prompt)
- ``binary``       a NUL byte in the first 8 KB (git's own heuristic)
- ``secret: <type> line N``  detect-secrets (default plugins) flags a line
- ``symlink``      a link may point outside the repository (``~/.ssh/id_rsa``), so never
  followed (recorded by :mod:`hybridcode.context.repomap`, which stats the files)

Secret scanning runs where content is about to be shown (:mod:`hybridcode.context.vetting`):
for the map, only source files (the languages the map parses), whose signatures it prints;
other files appear by path alone. The detectors are :mod:`hybridcode.secrets`' three nets
(token shapes anywhere, this machine's secret values, detect-secrets' verdicts), the same ones
the review's scan and the door to the models use; ``# pragma: allowlist secret`` and the
repository's ``.secrets.baseline`` let a known false positive through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hybridcode.secrets import Allowlist, find_secrets, secret_scanning
from hybridcode.vcs import repo as gitrepo

HYBRIDIGNORE = ".hybridignore"
MAX_FILE_BYTES = 1024 * 1024
BINARY_SNIFF_BYTES = 8192
# The tool's own state (cache, plans, ledger) is never context, even when not gitignored.
STATE_DIR = ".hybrid/"

_KEY_SUFFIXES = frozenset({
    ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".der", ".crt", ".cer", ".p7b",
    ".p8", ".pkcs12", ".ppk", ".gpg", ".pgp", ".asc", ".kdbx", ".ovpn",
})
_KEY_NAMES = frozenset({
    ".netrc", "_netrc", ".pgpass", ".htpasswd", ".npmrc", ".pypirc", "credentials",
    "credentials.json", "service-account.json", ".git-credentials", ".dockercfg",
})
_KEY_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")


def name_reason(path: str) -> str | None:
    """Why a file must stay out by its name alone, or ``None``."""
    lower = path.rsplit("/", 1)[-1].lower()  # plain string work: this runs once per file
    if lower.startswith(".env"):
        return "env file"
    dot = lower.rfind(".")
    if (lower in _KEY_NAMES or lower.startswith(_KEY_PREFIXES)
            or (dot > 0 and lower[dot:] in _KEY_SUFFIXES)):
        return "key file"
    return None


def content_reason(path: str, data: bytes, *, values: Mapping[str, str] | None = None,
                   allowlist: Allowlist | None = None) -> str | None:
    """Why a file must stay out by its content (binary, or a secret), or ``None``.

    ``values``: the known secret values (default: this process's); ``allowlist``: the
    repository's baseline (a secret it lists for this file, unaudited or audited as a false
    positive, does not keep the file out)."""
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return "binary"
    found = find_secret(path, data.decode("utf-8", "replace"), values=values,
                        allowlist=allowlist)
    if found is not None:
        kind, line = found
        return f"secret: {kind} line {line}"
    return None


@dataclass
class Selection:
    """Candidate files (relative POSIX paths) and the ones left out by name, with reasons."""

    candidates: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


def select_files(root: Path) -> Selection:
    """Files git shows, minus ``.hybridignore`` matches and env/key files (no content read)."""
    visible = gitrepo.visible_files(root)
    ignore_file = root / HYBRIDIGNORE
    ignored = (gitrepo.matching_exclude_file(root, ignore_file) if ignore_file.is_file()
               else set())
    sel = Selection()
    for path in visible:
        if path.startswith(STATE_DIR):
            continue
        if path in ignored:
            sel.excluded[path] = "ignored"
        elif (reason := name_reason(path)) is not None:
            sel.excluded[path] = reason
        else:
            sel.candidates.append(path)
    return sel




def find_secret(path: str, text: str, *, values: Mapping[str, str] | None = None,
                allowlist: Allowlist | None = None) -> tuple[str, int] | None:
    """The first secret in ``text`` that must not be shown: (kind, 1-based line), or ``None``."""
    for finding in find_secrets(path, text, values=values):
        if allowlist is None or not allowlist.may_show(path, finding.value):
            return finding.kind, finding.line
    return None


__all__ = ["HYBRIDIGNORE", "MAX_FILE_BYTES", "Selection", "content_reason", "find_secret",
           "name_reason", "secret_scanning", "select_files"]
