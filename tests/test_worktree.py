"""Worktrees on real temporary repositories: created from the base, reused, never touching the
user's tree, index or HEAD, and clear errors when something is in the way."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hybridcode.errors import GitError
from hybridcode.vcs.worktree import (
    EXCLUDE_LINES, ensure_worktree, remove_worktree, worktree_path,
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def index_state(root: Path) -> tuple[int, bytes]:
    index = root / ".git" / "index"
    return index.stat().st_mtime_ns, index.read_bytes()


def user_state(root: Path) -> tuple[str, str, str]:
    """HEAD, status and the current branch of the user's checkout."""
    return (head(root), git(root, "status", "--porcelain"),
            git(root, "symbolic-ref", "HEAD").strip())


@pytest.fixture
def busy_repo(repo: Path) -> Path:
    """The user has a second commit, a staged change and an unstaged edit."""
    base = head(repo)
    (repo / "app.py").write_text("VALUE = 1\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", "second")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "README.md").write_text("# edited, not staged\n")
    (repo / ".base").write_text(base)
    git(repo, "status", "--porcelain")  # let git refresh its index before the snapshot
    return repo


def test_created_on_the_plan_branch_from_the_base_commit(busy_repo: Path):
    base = (busy_repo / ".base").read_text()
    before = user_state(busy_repo)
    index_before = index_state(busy_repo)  # no git command between the two snapshots
    wt = ensure_worktree(busy_repo, "250101-rate-limit", base)
    assert index_state(busy_repo) == index_before
    assert wt.path == worktree_path(busy_repo, "250101-rate-limit").resolve()
    assert wt.branch == "hybrid/250101-rate-limit"
    assert wt.base == base
    assert head(wt.path) == base
    assert git(wt.path, "symbolic-ref", "HEAD").strip() == "refs/heads/hybrid/250101-rate-limit"
    assert (wt.path / "README.md").read_text() == "# sample\n"  # the base's content
    assert not (wt.path / "app.py").exists()
    after = user_state(busy_repo)
    assert after == before  # HEAD, status (the worktree is invisible), branch
    assert (busy_repo / "README.md").read_text() == "# edited, not staged\n"


def test_runtime_paths_excluded_without_touching_gitignore(repo: Path):
    ensure_worktree(repo, "p1", head(repo))
    exclude = (repo / ".git" / "info" / "exclude").read_text()
    for line in EXCLUDE_LINES:
        assert line in exclude.splitlines()
    assert not (repo / ".gitignore").exists()
    assert git(repo, "status", "--porcelain") == ""
    ensure_worktree(repo, "p2", head(repo))
    again = (repo / ".git" / "info" / "exclude").read_text()
    assert again.count("/.hybrid/*") == 1  # added once


def test_reused_when_it_exists(repo: Path):
    base = head(repo)
    first = ensure_worktree(repo, "p1", base)
    (first.path / "work.py").write_text("in progress\n")
    second = ensure_worktree(repo, "p1", base)
    assert second.path == first.path
    assert (second.path / "work.py").read_text() == "in progress\n"


def test_left_over_branch_is_checked_out_again(repo: Path):
    base = head(repo)
    ensure_worktree(repo, "p1", base)
    remove_worktree(repo, "p1")  # keeps the branch
    assert git(repo, "branch", "--list", "hybrid/p1").strip()
    wt = ensure_worktree(repo, "p1", base)
    assert head(wt.path) == base


def test_folder_deleted_by_hand_is_recreated(repo: Path):
    import shutil

    wt = ensure_worktree(repo, "p1", head(repo))
    shutil.rmtree(wt.path)
    again = ensure_worktree(repo, "p1", head(repo))
    assert (again.path / "README.md").is_file()


def test_remove_with_branch(repo: Path):
    wt = ensure_worktree(repo, "p1", head(repo))
    remove_worktree(repo, "p1", delete_branch=True)
    assert not wt.path.exists()
    assert git(repo, "branch", "--list", "hybrid/p1").strip() == ""
    remove_worktree(repo, "p1", delete_branch=True)  # nothing left: not an error


def test_missing_base_commit(repo: Path):
    with pytest.raises(GitError, match="base commit abc1234 is not in this repository") as exc:
        ensure_worktree(repo, "p1", "abc1234")
    assert "hybrid plan" in exc.value.hint


def test_branch_from_another_history_is_refused(repo: Path):
    base = head(repo)
    git(repo, "checkout", "-q", "--orphan", "hybrid/p1")
    (repo / "other.txt").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "unrelated")
    git(repo, "checkout", "-q", "main")
    with pytest.raises(GitError, match="does not start from the plan's base commit") as exc:
        ensure_worktree(repo, "p1", base)
    assert "git branch -D hybrid/p1" in exc.value.hint


def test_branch_checked_out_elsewhere_is_refused(repo: Path, tmp_path: Path):
    git(repo, "worktree", "add", "-q", "-b", "hybrid/p1", str(tmp_path / "elsewhere"))
    with pytest.raises(GitError, match="hybrid/p1 is checked out at"):
        ensure_worktree(repo, "p1", head(repo))


def test_locked_index(repo: Path):
    (repo / ".git" / "index.lock").write_text("")
    with pytest.raises(GitError, match="another git process is running") as exc:
        ensure_worktree(repo, "p1", head(repo))
    assert "index.lock" in exc.value.hint


def test_not_a_repository(tmp_path: Path):
    with pytest.raises(GitError, match="not a git repository"):
        ensure_worktree(tmp_path, "p1", "HEAD")


def test_foreign_folder_in_the_way(repo: Path):
    path = worktree_path(repo, "p1")
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("mine\n")
    with pytest.raises(GitError, match="exists but is not a git worktree"):
        ensure_worktree(repo, "p1", head(repo))


def test_plan_id_cannot_name_another_place(repo: Path):
    with pytest.raises(GitError, match="invalid plan id"):
        ensure_worktree(repo, "../escape", head(repo))
