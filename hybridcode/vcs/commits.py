"""Commits, trailers and merges: how approved code enters history.

Plain ``git`` subprocesses, not GitPython: the pre-commit hook imports this module and must
answer in well under 0.3 s, and importing GitPython alone costs ~100 ms. Every failure becomes a
:class:`~hybridcode.errors.GitError` that says what to do next.

Trailers are written as a hand-built block (``Key: value`` lines in the message's last
paragraph) and read back by git itself (``git interpret-trailers``, one process for a whole
range), so what counts as a trailer is what git says, never a second parser's opinion.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hybridcode.errors import GitError

TRAILER_PLAN = "Hybrid-Plan"
TRAILER_IMPLEMENTER = "Hybrid-Implementer"
TRAILER_REVIEW = "Hybrid-Review"
TRAILER_ATTESTATION = "Hybrid-Attestation"
TRAILER_SIGNATURE = "Hybrid-Signature"
_CANONICAL = {k.lower(): k for k in (TRAILER_PLAN, TRAILER_IMPLEMENTER, TRAILER_REVIEW,
                                     TRAILER_ATTESTATION, TRAILER_SIGNATURE)}

_REVIEW_VALUE = re.compile(r"^approved\s+([0-9a-f]{64})(?:\s+by\s+(.+))?$", re.IGNORECASE)


# Set by git for hooks and by callers like pre-commit; inherited, they would point a git
# command run in *another* worktree at the committing worktree's repository or index.
_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR",
                  "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


def isolated_env() -> dict[str, str]:
    """The environment without git's location variables, for commands aimed at another tree."""
    return {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}


def git(cwd: Path | str, *args: str, stdin: str | None = None,
        ok_codes: Sequence[int] = (0,), env: dict[str, str] | None = None) -> str:
    """Run ``git args`` in ``cwd`` and return stdout (UTF-8, undecodable bytes escaped).

    ``env`` replaces the whole environment (see :func:`isolated_env`)."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin.encode("utf-8") if stdin is not None else None,
            capture_output=True, check=False, env=env,
        )
    except FileNotFoundError as exc:
        if not Path(cwd).exists():
            raise GitError(f"{cwd} does not exist", "run inside a git repository") from exc
        raise GitError("git is not installed or not on PATH",
                       "install git (https://git-scm.com/downloads)") from exc
    if proc.returncode not in ok_codes:
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in err:
            raise GitError(f"{cwd}: not a git repository", "run inside a repository or `git init`")
        first = err.splitlines()[0] if err else f"exit code {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {first}",
                       f"run `git {' '.join(args[:3])}` yourself in {cwd} to see the full message")
    return proc.stdout.decode("utf-8", "surrogateescape")


def _paths_z(out: str) -> list[str]:
    return [p for p in out.split("\0") if p]


# ---------------------------------------------------------------------- trailers

def format_message(message: str, trailers: Sequence[tuple[str, str]]) -> str:
    """``message`` followed by a blank line and one ``Key: value`` line per trailer.

    Values are flattened to one line: a newline inside a value would end the trailer block
    early and silently drop the trailers after it.
    """
    body = message.strip() or "hybridcode: generated code"
    lines = [f"{key}: {' '.join(str(value).split())}" for key, value in trailers]
    return f"{body}\n\n" + "\n".join(lines) + "\n"


_BLANK = re.compile(r"\n[ \t]*\n")
# git's defaults, whatever the user's or the repository's trailer.* configuration says (a
# configured separator or a trailer command would change what is read, or run something).
_PLAIN_GIT = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
              "GIT_CONFIG_SYSTEM": os.devnull}


def _paragraphs(message: str) -> list[str]:
    text = message.replace("\r\n", "\n").strip("\n")
    return [p for p in _BLANK.split(text) if p.strip()]


def trailer_blocks(messages: Sequence[str]) -> list[list[list[tuple[str, str]]]]:
    """Every trailer block of every message, by git's own rules, in one ``git
    interpret-trailers`` process: for each message, the list of its blocks (in order), each a
    list of ``(key, value)``.

    git reads only a message's last paragraph; a squash message (GitHub's "title and commit
    details", ``git merge --squash``) carries each squashed commit's trailers in a paragraph of
    its own, followed by e.g. a ``Co-authored-by:`` paragraph. So every paragraph after the
    subject is handed to git as the end of a message of its own, and git decides whether it is
    a trailer block — a ``(cherry picked from commit …)`` or ``Signed-off-by:`` line mixed in
    included. Folded values come back unfolded; our keys in their canonical spelling.
    """
    import secrets
    import tempfile

    jobs: list[tuple[int, str]] = []
    for index, message in enumerate(messages):
        for paragraph in _paragraphs(message)[1:]:  # a subject is never a trailer block
            if ":" in paragraph or "(cherry picked" in paragraph:
                jobs.append((index, paragraph))
    out: list[list[list[tuple[str, str]]]] = [[] for _ in messages]
    if not jobs:
        return out
    # Each file's output ends with a sentinel trailer (added at the end of its trailer block,
    # or alone when the paragraph is not one), so one process answers for every paragraph.
    sentinel = f"X-Hybrid-End-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="hybrid-trailers-") as tmp:
        files = []
        for n, (_, paragraph) in enumerate(jobs):
            path = Path(tmp) / f"{n}.txt"
            path.write_bytes(f"subject\n\n{paragraph}\n".encode("utf-8", "surrogateescape"))
            files.append(str(path))
        env = {**isolated_env(), **_PLAIN_GIT}
        text = git(tmp, "interpret-trailers", "--only-trailers", "--unfold", "--no-divider",
                   "--where", "end", "--if-exists", "add", "--if-missing", "add",
                   "--trailer", f"{sentinel}: x", *files, env=env)
    chunks: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key.strip() == sentinel:
            chunks.append([])
            continue
        key = key.strip()
        chunks[-1].append((_CANONICAL.get(key.lower(), key), value.strip()))
    for (index, _), block in zip(jobs, chunks):
        if block:
            out[index].append(block)
    return out


def parse_trailers(message: str) -> dict[str, str]:
    """The trailers of a commit message as git reads them (its last paragraph, by
    ``git interpret-trailers`` rules); a key given twice keeps its last value."""
    paragraphs = _paragraphs(message)
    if len(paragraphs) < 2:
        return {}
    blocks = trailer_blocks([f"{paragraphs[0]}\n\n{paragraphs[-1]}"])[0]
    return dict(blocks[-1]) if blocks else {}


def parse_review_trailer(value: str | None) -> tuple[str, str] | None:
    """``approved <sha256> by <model>`` → (sha256, model); None when absent or malformed."""
    if not value:
        return None
    match = _REVIEW_VALUE.match(value.strip())
    if not match:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()


@dataclass
class Claim:
    """One generated change a message claims: a ``Hybrid-Plan`` trailer and the ``Hybrid-*``
    trailers after it in the same block."""

    plan_id: str
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def review(self) -> tuple[str, str] | None:
        return parse_review_trailer(self.trailers.get(TRAILER_REVIEW))


def claims_of(blocks: list[list[tuple[str, str]]]) -> list[Claim]:
    """The claims in a message's trailer blocks: each ``Hybrid-Plan`` starts one (a squash
    carries several, one per squashed commit)."""
    claims: list[Claim] = []
    for block in blocks:
        current: Claim | None = None
        for key, value in block:
            if key == TRAILER_PLAN:
                current = Claim(value)
                claims.append(current)
            elif current is not None and key.lower().startswith("hybrid-"):
                current.trailers.setdefault(key, value)
    return claims


@dataclass
class GeneratedCommit:
    sha: str
    subject: str
    claims: list[Claim]


def generated_commits(root: Path, base: str, head: str) -> list[GeneratedCommit]:
    """Commits in ``base..head`` (oldest first) whose message claims generated code: a
    ``Hybrid-Plan`` trailer in any trailer block, read by git's rules (see
    :func:`trailer_blocks`).

    Merge commits are skipped: a merge's own message never carries our trailers, and the
    reviewed change is the plan commit on the merged branch.
    """
    out = git(root, "log", "--no-merges", "--reverse", "--format=%H%x00%s%x00%B%x1e",
              f"{base}..{head}")
    candidates: list[tuple[str, str, str]] = []
    for record in out.split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, _, rest = record.partition("\0")
        subject, _, body = rest.partition("\0")
        if "hybrid-plan" in body.lower():  # cheap filter: only these go to git's parser
            candidates.append((sha.strip(), subject.strip(), body))
    blocks = trailer_blocks([body for _, _, body in candidates])
    found = []
    for (sha, subject, _), message_blocks in zip(candidates, blocks):
        claims = claims_of(message_blocks)
        if claims:
            found.append(GeneratedCommit(sha, subject, claims))
    return found


def head_claims(cwd: Path, rev: str = "HEAD") -> tuple[list[str], list[Claim]]:
    """(parents of ``rev``, the claims in its message); ([], []) when ``rev`` does not exist."""
    out = git(cwd, "log", "-1", "--format=%P%x00%B", rev, "--", ok_codes=(0, 128),
              env=isolated_env())
    if "\0" not in out:
        return [], []
    parents, _, body = out.partition("\0")
    if "hybrid-plan" not in body.lower():
        return parents.split(), []
    return parents.split(), claims_of(trailer_blocks([body])[0])


# ---------------------------------------------------------------------- commits

def current_branch(cwd: Path) -> str | None:
    """The checked-out branch's short name, or None when HEAD is detached."""
    out = git(cwd, "symbolic-ref", "--quiet", "--short", "HEAD", ok_codes=(0, 1),
              env=isolated_env()).strip()
    return out or None


def stage_tree(worktree: Path, tree: str) -> None:
    """Make ``worktree``'s index exactly ``tree`` (files on disk are not touched).

    The gate stages the very tree whose diff was approved, rather than running ``git add``
    again, so a file written after the approval check cannot slip into the commit.
    """
    git(worktree, "read-tree", tree, env=isolated_env())


def unstage_all(worktree: Path) -> None:
    """Reset the index to HEAD: files on disk stay exactly as they are."""
    git(worktree, "read-tree", "HEAD", env=isolated_env())


def commit_staged(worktree: Path, message: str) -> str:
    """Commit what is staged, running the repository's hooks (never ``--no-verify``).

    A hook that refuses — our own gate included — surfaces as a GitError with its output.
    Returns the new commit's sha.
    """
    proc = subprocess.run(["git", "commit", "--quiet", "--file=-"], cwd=worktree,
                          input=message.encode("utf-8"), capture_output=True, check=False,
                          env=isolated_env())
    if proc.returncode != 0:
        said = (proc.stderr + proc.stdout).decode("utf-8", "replace").strip()
        raise GitError(f"the commit in {worktree} was refused: {said or proc.returncode}",
                       "nothing was committed and the files are untouched; fix what the "
                       "message says and run the command again")
    return git(worktree, "rev-parse", "HEAD", env=isolated_env()).strip()


def commit_tree(worktree: Path, tree: str, message: str,
                trailers: Sequence[tuple[str, str]]) -> str:
    """Commit ``tree`` on ``worktree``'s branch with ``trailers``; unstage if refused."""
    stage_tree(worktree, tree)
    try:
        return commit_staged(worktree, format_message(message, trailers))
    except BaseException:
        unstage_all(worktree)
        raise


# ---------------------------------------------------------------------- merges

def _dirty_paths(root: Path) -> set[str]:
    """Paths with staged, unstaged or untracked changes in the user's tree."""
    out = git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames")
    return {entry[3:] for entry in _paths_z(out) if len(entry) > 3}


def is_merged(root: Path, branch: str, into: str = "HEAD") -> bool:
    """True when ``branch``'s tip is already contained in ``into``."""
    probe = subprocess.run(["git", "merge-base", "--is-ancestor", branch, into], cwd=root,
                           capture_output=True, check=False)
    return probe.returncode == 0


def merge_into_current(root: Path, branch: str, message: str | None = None) -> str:
    """Merge ``branch`` into the checked-out branch with a merge commit (``--no-ff``).

    Refuses before touching anything when HEAD is detached or when uncommitted changes touch
    files the merge would change. A conflict aborts the merge (``git merge --abort``), so the
    user's tree is exactly as before, and the error names the conflicting files. Returns the
    merge commit's sha.
    """
    target = current_branch(root)
    if target is None:
        raise GitError("HEAD is detached, so there is no branch to merge into",
                       f"check out your branch (git switch <branch>), then merge {branch}")
    if target == branch:
        raise GitError(f"{branch} is the checked-out branch itself",
                       "switch to the branch that should receive the change")
    if is_merged(root, branch):
        return git(root, "rev-parse", "HEAD").strip()
    touched = set(_paths_z(git(root, "diff", "--name-only", "-z", "--no-renames",
                               f"HEAD...{branch}")))
    clash = sorted(touched & _dirty_paths(root))
    if clash:
        raise GitError(
            f"uncommitted changes to {_names(clash)} would be overwritten by merging {branch}",
            f"commit or stash them (git stash), then merge again; {branch} keeps the commit")
    msg = message or f"Merge {branch}"
    proc = subprocess.run(["git", "merge", "--no-ff", "--no-edit", "-m", msg, branch],
                          cwd=root, capture_output=True, check=False)
    if proc.returncode == 0:
        return git(root, "rev-parse", "HEAD").strip()
    conflicts = _paths_z(git(root, "diff", "--name-only", "-z", "--diff-filter=U",
                             ok_codes=(0, 1)))
    # MERGE_HEAD exists only when the merge stopped half-way; abort restores the tree.
    if git(root, "rev-parse", "-q", "--verify", "MERGE_HEAD", ok_codes=(0, 1)).strip():
        git(root, "merge", "--abort")
    if conflicts:
        raise GitError(
            f"merging {branch} into {target} conflicts in {_names(conflicts)}; the merge was "
            "aborted and your tree is unchanged",
            f"the approved commit stays on {branch}: merge it yourself (git merge {branch}) "
            "and resolve the conflicts, or rebase your work")
    err = proc.stderr.decode("utf-8", "replace").strip() or proc.stdout.decode(
        "utf-8", "replace").strip()
    first = err.splitlines()[0] if err else f"exit code {proc.returncode}"
    raise GitError(f"merging {branch} into {target} failed: {first}",
                   f"nothing was changed; run `git merge --no-ff {branch}` to see why")


def _names(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
