"""The judge's results channel: records the tested process cannot write or imitate.

A runner's own report (pytest's JUnit XML, vitest's JSON file, ``go test``'s stdout) is written
by the process that runs the code under test, at a place that process can find (its path is in
``sys.argv``, the folder is writable, stdout is stdout): wrong code wrote an all-pass report and
ended the run, and was accepted. So the verdict comes from elsewhere:

- A small component of ours loads into the runner before any test module: a pytest plugin, a
  vitest/jest reporter, a node:test reporter, a Go ``TestMain`` added through ``go test
  -overlay`` (files in :mod:`hybridcode.judge.agents`).
- It finds two inherited file descriptors in ``HYBRID_JUDGE_CHANNEL`` (``"<key fd>,<out fd>"``,
  never in argv): the key descriptor is a pipe holding a 32-byte key made for this run; the
  component reads it once, closes it and drops the variable before any test module is imported.
  The out descriptor is a file no path leads to (created outside the sandbox and unlinked).
- Every record is one line ``<hmac-sha256 hex> <json>``, signed with that key. ``json`` names
  its ``stream`` (one per writing process), its ``seq`` (0, 1, 2… within the stream) and its
  ``kind``; a stream is complete only when it ends with an ``end`` record written by the
  component after the runner finished its own way.

:meth:`Channel.collect` checks every line: a bad signature, a gap or a repeat in a stream, or a
stream without its end record is a reason the run cannot be judged. What it does not stop: code
in the same process that reads the key out of the component's memory (``gc``, ``sys.modules``,
``/proc/self/mem``, ``unsafe``) can sign anything — the static check
(:mod:`hybridcode.judge.reach`) refuses code that reaches for those before it runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ENV", "Channel", "Records"]

ENV = "HYBRID_JUDGE_CHANNEL"
_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class Records:
    """What the channel held: complete streams' records (in order), and why the run cannot be
    judged (empty when every stream is whole and signed)."""

    records: list[dict] = field(default_factory=list)
    ends: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unfinished: int = 0  # streams that began and have no end record

    @property
    def started(self) -> bool:
        return bool(self.records or self.ends or self.problems or self.unfinished)

    def of(self, kind: str) -> list[dict]:
        return [r for r in self.records if r.get("kind") == kind]


class Channel:
    """One run's channel. Use: ``env`` and ``fds`` go to the process; after it ended,
    :meth:`collect`; always :meth:`close`."""

    def __init__(self, scratch: Path, readers: int = 1) -> None:
        self.key = secrets.token_bytes(32)
        read_key, write_key = os.pipe()
        # One copy per process that will read it (a Go test binary per package); a reader
        # takes 64 hex digits, once.
        os.write(write_key, self.key.hex().encode() * max(1, readers))
        os.close(write_key)
        fd, path = tempfile.mkstemp(prefix="channel-", dir=scratch)
        os.close(fd)
        self._out = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._in = os.open(path, os.O_RDONLY)
        os.unlink(path)  # no path leads to it: only the inherited descriptor
        self._key_fd = read_key
        for descriptor in (self._key_fd, self._out):
            os.set_inheritable(descriptor, True)

    @property
    def fds(self) -> tuple[int, int]:
        return (self._key_fd, self._out)

    @property
    def env(self) -> dict[str, str]:
        return {ENV: f"{self._key_fd},{self._out}"}

    def sign(self, record: dict) -> str:
        """A line as the components write it (for tests of the checks)."""
        text = json.dumps(record, separators=(",", ":"), sort_keys=True)
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest() + " " + text

    def collect(self) -> Records:
        os.lseek(self._in, 0, os.SEEK_SET)
        chunks, size = [], 0
        while size < _MAX_BYTES:
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return check(b"".join(chunks).decode("utf-8", "replace"), self.key)

    def close(self) -> None:
        for descriptor in (self._key_fd, self._out, self._in):
            try:
                os.close(descriptor)
            except OSError:
                pass


def check(text: str, key: bytes) -> Records:
    found = Records()
    streams: dict[str, list[dict]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        mac, _, body = line.partition(" ")
        good = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, good):
            found.problems.append(f"line {number} of the judge's channel is not signed by the "
                                  "judge's own component (something else wrote to it)")
            continue
        try:
            record = json.loads(body)
        except ValueError:
            found.problems.append(f"line {number} of the judge's channel is not JSON")
            continue
        if not isinstance(record, dict):
            continue
        streams.setdefault(str(record.get("stream")), []).append(record)
    for name, records in streams.items():
        seqs = [r.get("seq") for r in records]
        if seqs != list(range(len(records))):
            found.problems.append(f"the judge's channel stream {name} has records missing, "
                                  "repeated or out of order")
            continue
        if records[-1].get("kind") != "end":
            found.unfinished += 1
            found.records += records
            continue
        found.ends.append(records[-1])
        found.records += records[:-1]
    return found
