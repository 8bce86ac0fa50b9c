"""One git worktree per plan: ``.hybrid/worktrees/<plan-id>`` on branch ``hybrid/<plan-id>``.

The implementer writes only here, so the user's working tree, index and HEAD are never touched:
``git worktree add`` creates a branch ref and a private index under ``.git/worktrees/<name>``,
and nothing else in the main checkout. The worktree lives inside the user's tree (so it is easy
to find and to clean), which is why the runtime paths are added to ``.git/info/exclude`` — a
file that belongs to the local clone, not to the project, unlike ``.gitignore``.

GitPython is imported inside the functions: ``hybrid --help`` must not pay for it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import GitError
from hybridcode.fsutil import atomic_write_text

if TYPE_CHECKING:
    from git import Repo

WORKTREES = Path(".hybrid") / "worktrees"
BRANCH_PREFIX = "hybrid/"
# The same runtime paths `hybrid init` puts in .gitignore, anchored to the repository root.
EXCLUDE_HEADER = "# hybridcode runtime state (added by hybrid; safe to keep)"
EXCLUDE_LINES = ("/.hybrid/*", "!/.hybrid/config.toml", "!/.hybrid/checklist.md")


@dataclass
class Worktree:
    path: Path
    branch: str
    base: str  # the full SHA of the plan's base commit
    plan_id: str


def worktree_path(root: Path, plan_id: str) -> Path:
    return Path(root) / WORKTREES / plan_id


def branch_name(plan_id: str) -> str:
    return BRANCH_PREFIX + plan_id


def ensure_worktree(root: Path, plan_id: str, base_commit: str) -> Worktree:
    """The plan's worktree, created from ``base_commit`` or reused when it already exists.

    Reuse needs the same path checked out on the plan's branch. A branch left behind by a
    removed worktree is checked out again when it still descends from the base commit (no
    generated code is committed before review, so its tip is normally the base itself).
    """
    _check_plan_id(plan_id)
    repo = _open(root)
    try:
        return _ensure(repo, plan_id, base_commit)
    finally:
        repo.close()


def _ensure(repo: Repo, plan_id: str, base_commit: str) -> Worktree:
    top = Path(repo.working_tree_dir).resolve()
    _check_index_lock(repo)
    base = _resolve_commit(repo, base_commit)
    ensure_excludes(repo)
    path = worktree_path(top, plan_id)
    branch = branch_name(plan_id)
    entries = _worktrees(repo)
    here = entries.get(path.resolve() if path.exists() else path)
    if here is not None and not path.exists():
        _git(repo, "worktree", "prune")  # registered but its folder was deleted by hand
        entries = _worktrees(repo)
        here = None
    if here is not None:
        if here.get("branch") != "refs/heads/" + branch:
            current = here.get("branch", "a detached HEAD").removeprefix("refs/heads/")
            raise GitError(f"{_rel(path, top)} is checked out on {current}, not {branch}",
                           f"remove it with `git worktree remove --force {_rel(path, top)}` "
                           "and run the command again")
        return Worktree(path.resolve(), branch, base, plan_id)
    for other, info in entries.items():
        if info.get("branch") == "refs/heads/" + branch:
            raise GitError(f"branch {branch} is checked out at {other}, not in this plan's "
                           "worktree", f"remove that worktree (`git worktree remove {other}`) "
                           "or delete the branch, then run the command again")
    if path.exists():
        if any(path.iterdir()):
            raise GitError(f"{_rel(path, top)} exists but is not a git worktree",
                           "move it aside or delete it, then run the command again")
        path.rmdir()
    path.parent.mkdir(parents=True, exist_ok=True)
    if _branch_exists(repo, branch):
        if not _is_ancestor(repo, base, branch):
            raise GitError(f"branch {branch} already exists and does not start from the "
                           f"plan's base commit {base[:12]}",
                           f"if it is left over from an old run, delete it with `git branch -D "
                           f"{branch}`; otherwise re-plan with hybrid plan")
        _git(repo, "worktree", "add", str(path), branch)
    else:
        _git(repo, "worktree", "add", "-b", branch, str(path), base)
    return Worktree(path.resolve(), branch, base, plan_id)


def remove_worktree(root: Path, plan_id: str, delete_branch: bool = False) -> None:
    """Remove the plan's worktree (uncommitted generated code goes with it) and, when asked,
    its branch. Removing what is not there is not an error."""
    _check_plan_id(plan_id)
    repo = _open(root)
    try:
        _remove(repo, plan_id, delete_branch)
    finally:
        repo.close()


def _remove(repo: Repo, plan_id: str, delete_branch: bool) -> None:
    top = Path(repo.working_tree_dir).resolve()
    path = worktree_path(top, plan_id)
    key = path.resolve() if path.exists() else path
    if key in _worktrees(repo):
        _check_index_lock(repo)
        _git(repo, "worktree", "remove", "--force", str(path))
    elif path.exists():
        # Not registered (a half-created folder): only ever delete inside .hybrid/worktrees.
        if path.resolve().is_relative_to((top / WORKTREES).resolve()):
            shutil.rmtree(path)
    _git(repo, "worktree", "prune")
    branch = branch_name(plan_id)
    if delete_branch and _branch_exists(repo, branch):
        _git(repo, "branch", "-D", branch)


def ensure_excludes(repo: Repo) -> None:
    """Add hybrid's runtime paths to ``info/exclude`` of the common git directory (shared by
    all worktrees), once. The user's ``.gitignore`` is never edited here."""
    path = Path(repo.common_dir) / "info" / "exclude"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in EXCLUDE_LINES if line not in present]
    if not missing:
        return
    if text and not text.endswith("\n"):
        text += "\n"
    block = ([] if EXCLUDE_HEADER in present else [EXCLUDE_HEADER]) + missing
    atomic_write_text(path, text + "\n".join(block) + "\n")


# --- helpers ------------------------------------------------------------------------------------

def _check_plan_id(plan_id: str) -> None:
    # The id becomes a folder name and a branch name: keep both plain.
    if not plan_id or plan_id.startswith((".", "-")) or any(
            c in plan_id for c in "/\\ ~^:?*[") or ".." in plan_id:
        raise GitError(f"invalid plan id {plan_id!r} for a worktree",
                       "use the id shown by `hybrid status`")


def _open(root: Path) -> Repo:
    import git

    try:
        repo = git.Repo(Path(root))
    except git.NoSuchPathError as exc:
        raise GitError(f"{root} does not exist", "run hybrid inside a git repository") from exc
    except git.InvalidGitRepositoryError as exc:
        raise GitError(f"{root}: not a git repository",
                       "run hybrid inside a git repository, or `git init` first") from exc
    if repo.bare or repo.working_tree_dir is None:
        raise GitError(f"{root} is a bare repository",
                       "run hybrid in a clone with a working tree")
    return repo


def _git(repo: Repo, *args: str) -> str:
    import git

    try:
        return repo.git.execute(["git", *args])
    except git.GitCommandNotFound as exc:
        raise GitError("git is not installed or not on PATH",
                       "install git and make sure it is on PATH") from exc
    except git.GitCommandError as exc:
        err = exc.stderr.strip() if isinstance(exc.stderr, str) else str(exc.stderr)
        err = err.removeprefix("stderr:").strip().strip("'").strip()
        if ".lock" in err and ("exists" in err or "File exists" in err):
            raise GitError(f"git {args[0]} {args[1] if len(args) > 1 else ''}: another git "
                           f"process is running ({err.splitlines()[0]})",
                           "wait for it to finish, or remove the .lock file it names if no "
                           "git process is running") from exc
        first = err.splitlines()[0] if err else f"exit code {exc.status}"
        raise GitError(f"git {' '.join(args[:2])} failed: {first}",
                       "run the same git command yourself to see the full message") from exc


def _check_index_lock(repo: Repo) -> None:
    lock = Path(repo.git_dir) / "index.lock"
    if lock.exists():
        raise GitError("another git process is running in this repository (index.lock exists)",
                       f"wait for it to finish; remove {lock} if none is running")


def _resolve_commit(repo: Repo, commit: str) -> str:
    import git

    try:
        return repo.git.execute(["git", "rev-parse", "--verify", "--quiet",
                                 f"{commit}^{{commit}}"]).strip()
    except git.GitCommandError:
        raise GitError(f"the plan's base commit {commit[:12]} is not in this repository",
                       "fetch it, or re-plan with hybrid plan") from None


def _branch_exists(repo: Repo, branch: str) -> bool:
    import git

    try:
        repo.git.execute(["git", "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"])
        return True
    except git.GitCommandError:
        return False


def _is_ancestor(repo: Repo, ancestor: str, ref: str) -> bool:
    import git

    try:
        repo.git.execute(["git", "merge-base", "--is-ancestor", ancestor, ref])
        return True
    except git.GitCommandError:
        return False


def _worktrees(repo: Repo) -> dict[Path, dict[str, str]]:
    """Registered worktrees by resolved path: ``HEAD``, ``branch`` (full ref) and flags."""
    out = _git(repo, "worktree", "list", "--porcelain")
    found: dict[Path, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in out.splitlines() + [""]:
        if not line.strip():
            if "worktree" in current:
                path = Path(current["worktree"])
                found[path.resolve() if path.exists() else path] = current
            current = {}
            continue
        key, _, value = line.partition(" ")
        current[key] = value
    return found


def _rel(path: Path, top: Path) -> str:
    try:
        return path.resolve().relative_to(top).as_posix() if path.exists() else \
            path.relative_to(top).as_posix()
    except ValueError:
        return str(path)
