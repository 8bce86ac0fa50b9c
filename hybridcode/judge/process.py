"""Run one command with a hard time bound: ``run_process(argv, cwd=..., env=..., timeout_s=...)``.

Output goes to an unnamed temporary file, not a pipe: a process the tests started can keep a
pipe open for as long as it lives (a ``start_new_session=True`` grandchild kept the old runners
waiting 21.7 s past a 4 s timeout); a file has no reader to block. At the timeout — or when the
caller is interrupted (Ctrl-C) — the command's process group is killed with SIGKILL; inside
bubblewrap that group holds ``bwrap`` itself, whose death ends its PID namespace and so every
process the tests started, however they detached. Wall time is therefore the timeout plus the
time the kernel takes to reap, well inside timeout + 2 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessResult", "run_process"]

OUTPUT_LIMIT = 1_000_000  # bytes of output kept (the end: where summaries are)
_REAP_S = 1.5  # how long to wait for the killed group before giving up on it


@dataclass
class ProcessResult:
    returncode: int | None  # None: timed out, or could not start (``error`` says why)
    output: str
    timed_out: bool
    wall_s: float
    error: str = ""  # the command could not be started


def run_process(argv: list[str], *, cwd: Path, env: Mapping[str, str],
                timeout_s: float, pass_fds: tuple[int, ...] = ()) -> ProcessResult:
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=pass_fds)
        except OSError as exc:
            return ProcessResult(None, "", False, time.monotonic() - started,
                                 error=f"cannot start {argv[0]}: {exc.strerror or exc}")
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.returncode is None:  # timed out, or Ctrl-C / an error in this process
                _kill_group(proc)
        wall = time.monotonic() - started
        out.seek(0, os.SEEK_END)
        size = out.tell()
        out.seek(max(0, size - OUTPUT_LIMIT))
        text = out.read().decode("utf-8", "replace")
    return ProcessResult(None if timed_out else proc.returncode, text, timed_out, wall)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=_REAP_S)
    except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable (D-state) process
        pass
