"""Read-only git queries: the repository root, HEAD, the files git would show, ignores.

Part of hybridcode.vcs, the one package that runs git. It shells out to the ``git`` binary
rather than using GitPython: each query is a single ``git`` process (a few milliseconds), while
importing GitPython alone costs ~100 ms, which would eat a third of the warm repo-map budget.
Paths are exchanged NUL-separated (``-z``) so names with spaces, quotes or non-ASCII characters
arrive unmangled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from hybridcode.errors import GitError

_INSTALL_HINT = ("install git (e.g. `apt-get install git`, `brew install git`, or "
                 "https://git-scm.com/downloads) and make sure it is on PATH")


def _git(cwd: Path | str, args: Sequence[str], stdin: bytes | None = None,
         ok_codes: tuple[int, ...] = (0,)) -> bytes:
    """Run ``git args`` in ``cwd`` and return stdout; failures become :class:`GitError`."""
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git is not installed or not on PATH", _INSTALL_HINT)
    try:
        proc = subprocess.run([exe, *args], cwd=cwd, input=stdin, capture_output=True,
                              check=False)
    except FileNotFoundError as exc:  # cwd vanished, or git removed between which() and run()
        raise GitError(f"could not run git in {cwd}: {exc}",
                       "check that the directory exists and git is installed") from exc
    if proc.returncode not in ok_codes:
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in err:
            raise GitError(f"{cwd}: not a git repository",
                           "run inside a repository or `git init`")
        if "dubious ownership" in err:
            raise GitError(f"git refuses to read {cwd}: dubious ownership",
                           f"mark it safe: git config --global --add safe.directory {cwd}")
        first = err.splitlines()[0] if err else f"exit code {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {first}",
                       "run the same git command yourself to see the full message")
    return proc.stdout


def _split_z(out: bytes) -> list[str]:
    # git writes paths as raw bytes; surrogateescape keeps undecodable names round-trippable.
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def repo_root(path: Path | str = ".") -> Path:
    """The top-level directory of the repository containing ``path``."""
    start = Path(path)
    if not start.exists():
        raise GitError(f"{start} does not exist", "pass a path inside a git repository")
    if start.is_file():
        start = start.parent
    out = _git(start, ["rev-parse", "--show-toplevel"])
    return Path(out.decode("utf-8", "surrogateescape").strip())


def visible_files(root: Path | str) -> list[str]:
    """Tracked files plus untracked files that git does not ignore (paths relative to ``root``).

    ``--deduplicate`` drops the extra entries a file in a merge conflict would otherwise get.
    """
    out = _git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard",
                      "--deduplicate"])
    return _split_z(out)


def matching_exclude_file(root: Path | str, exclude_file: Path | str) -> set[str]:
    """Visible files that the patterns in ``exclude_file`` (gitignore syntax) match.

    git itself applies the patterns, so negation, ``**``, anchoring and directory rules behave
    exactly as in ``.gitignore``. Tracked files come from ``-c -i`` (``--exclude-from`` alone
    never hides a tracked file); untracked ones are those ``--exclude-from`` removes.
    """
    exclude = str(Path(exclude_file).resolve())
    tracked = _split_z(_git(root, ["ls-files", "-z", "--cached", "--ignored",
                                   f"--exclude-from={exclude}"]))
    untracked_all = _split_z(_git(root, ["ls-files", "-z", "--others", "--exclude-standard"]))
    untracked_kept = _split_z(_git(root, ["ls-files", "-z", "--others", "--exclude-standard",
                                          f"--exclude-from={exclude}"]))
    return set(tracked) | (set(untracked_all) - set(untracked_kept))


def check_ignore(root: Path | str, paths: Iterable[str]) -> set[str]:
    """Which of ``paths`` git's ignore rules match (whether tracked or not: ``--no-index``)."""
    items = [p for p in paths if p]
    if not items:
        return set()
    payload = b"".join(os.fsencode(p) + b"\0" for p in items)
    # Exit code 1 means "none of them is ignored", which is an answer, not a failure.
    out = _git(root, ["check-ignore", "-z", "--no-index", "--stdin"], stdin=payload,
               ok_codes=(0, 1))
    return set(_split_z(out))


def head_commit(root: Path | str) -> str:
    """The full SHA of HEAD; a repository without commits cannot be planned against."""
    try:
        out = _git(root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], ok_codes=(0, 1))
    except GitError:
        raise
    sha = out.decode().strip()
    if not sha:
        raise GitError("this repository has no commits yet",
                       "commit something first: a plan's worktree starts from a commit")
    return sha
