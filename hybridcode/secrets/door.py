"""The door: the last step every text takes before it leaves for a model.

:class:`hybridcode.models.caller.Caller` — the one way any stage calls any model (planner, each
implementer rung, reviewer, fix rounds) — passes every piece of every request through
:meth:`Door.vet` before the backend sees it. Whatever built the text (a prompt template,
repository context, test output fed back, a diff with its context lines, the reviewer's
findings), each secret the three nets of :mod:`hybridcode.secrets` find is replaced by
``[REDACTED:<kind>]`` and counted; the caller writes the counts (kind → number, never a value)
on the call's ledger row, under ``extra.redacted``.

Allow-listed by ``# pragma: allowlist secret`` on the line, or by ``.secrets.baseline`` when
the audit did not mark the value a real secret (see :mod:`hybridcode.secrets.allowlist`).

Verdicts are deterministic, so a prompt prefix vetted twice is the same bytes twice (Claude's
prompt cache still hits), and they are memoised per text: a retry re-sends the same system
prompt and first message, which are not scanned again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from hybridcode.secrets import find_secrets, known_values, redact_findings
from hybridcode.secrets.allowlist import Allowlist

# detect-secrets reads a request as a file of no known type: its keyword rules then require a
# quoted value, as they do in Python or JavaScript source.
DOOR_PATH = "request"
_MEMO_ENTRIES = 256


class Door:
    def __init__(self, root: Path | None = None, configured: list[str] | None = None, *,
                 environ: Mapping[str, str] | None = None) -> None:
        """``root``: the repository whose ``.secrets.baseline`` applies; ``configured``: the
        API keys the settings hold (removed wherever they appear)."""
        self.allowlist = Allowlist.load(root)
        self.values = known_values(configured, environ)
        self._memo: dict[str, tuple[str, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def vet(self, text: str) -> tuple[str, dict[str, int]]:
        """``text`` as it may be sent, and what was removed from it (kind → count)."""
        if not text:
            return text, {}
        with self._lock:
            memo = self._memo.get(text)
        if memo is not None:
            return memo
        findings = find_secrets(DOOR_PATH, text, values=self.values)
        vetted = redact_findings(text, findings,
                                 allowed=lambda f: self.allowlist.may_send(f.value))
        with self._lock:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            self._memo[text] = vetted
        return vetted


__all__ = ["DOOR_PATH", "Door"]
