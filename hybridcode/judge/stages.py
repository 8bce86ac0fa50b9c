"""Several commands in the judge's one invocation: the type stage before the tests, per package.

The runner runs one command per adapter. Go and JavaScript/TypeScript need more: ``go vet``
before ``go test``, ``tsc --noEmit`` before vitest, and one pair per module or package. So the
adapter's command is a POSIX shell script (``/bin/sh`` exists in every sandbox) that runs each
:class:`Block` in turn, in its own folder, and leaves what happened in the report folder:

- ``<n>.types``        the type stage's output; ``<n>.types-failed`` when it failed — the
                       script stops there (the tests of code that does not compile say nothing)
- ``<n>.out``          the test command's standard output (go test's JSON events); the
                       command runs with ``HYBRID_JUDGE_BLOCK=<n>``, which the judge's own
                       component puts in its signed records (channel.py)
- the block's own report file (vitest/jest JSON, node's JUnit XML), named by the adapter

Every word is quoted with :func:`shlex.quote`; nothing from the worktree becomes shell syntax.
When the adapter finds, before anything runs, that the tests cannot run (no toolchain, no
go.mod), :func:`cannot_run` records why, the script does nothing, and :func:`reason` gives the
adapter's ``parse`` the reason to return as ``CouldNotRun``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "cannot_run", "first_lines", "located", "reason", "script", "stage_file"]

_CANNOT_RUN = "cannot-run.txt"


@dataclass
class Block:
    label: str  # how feedback names the test command: "go test ./textutil"
    cwd: Path
    tests: list[str]
    types: list[str] | None = None
    types_label: str = ""  # "go vet ./textutil", "tsc --noEmit"
    files: list[str] = field(default_factory=list)  # worktree-relative test files it runs
    report: str = ""  # report file name inside the report folder ("" : stdout is the report)
    runner: str = ""


def script(blocks: list[Block], report_dir: Path) -> list[str]:
    lines = ["R=" + shlex.quote(str(report_dir))]
    for n, block in enumerate(blocks):
        lines.append(f"cd {shlex.quote(str(block.cwd))} || exit 97")
        if block.types:
            lines.append(f'if ! {_join(block.types)} > "$R/{n}.types" 2>&1; then '
                         f': > "$R/{n}.types-failed"; exit 0; fi')
        lines.append(f'HYBRID_JUDGE_BLOCK={n} {_join(block.tests)} > "$R/{n}.out"')
    return ["/bin/sh", "-c", "\n".join(lines)]


def stage_file(report_dir: Path, n: int, suffix: str) -> str | None:
    path = report_dir / f"{n}.{suffix}"
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def cannot_run(report_dir: Path, why: str) -> list[str]:
    """Record ``why`` for ``parse`` and return a command that does nothing."""
    (report_dir / _CANNOT_RUN).write_text(why, encoding="utf-8")
    return ["/bin/sh", "-c", "exit 0"]


def reason(report_dir: Path) -> str | None:
    try:
        return (report_dir / _CANNOT_RUN).read_text(encoding="utf-8")
    except OSError:
        return None


def _join(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def located(pattern: re.Pattern[str], text: str, base: Path, worktree: Path, what: str) -> str:
    """``file::what`` for the first file the type stage names (``pattern``'s group 1, relative
    to ``base``), as a worktree-relative path; ``what`` alone when it names none inside."""
    found = pattern.search(text)
    if not found:
        return what
    try:
        rel = (base / found.group(1)).resolve().relative_to(worktree.resolve()).as_posix()
    except ValueError:
        return what
    return f"{rel}::{what}"


def first_lines(lines: list[str], limit: int = 12) -> str:
    """The type stage's first ``limit`` error lines, and how many more there were."""
    shown = lines[:limit]
    more = len(lines) - len(shown)
    return "\n".join(shown) + (f"\n… and {more} more" if more > 0 else "")
