"""hybrid commit: refused without an approval of the exact diff; trailers; merge; clean."""

from __future__ import annotations

import subprocess

import pytest
from gate_helpers import allow_configured, git, make_plan, record_approval
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.errors import GitError
from hybridcode.plan.store import PlanStore
from hybridcode.review.gate import NoApprovalError, clean, commit_plan
from hybridcode.review.hook import hook_check
from hybridcode.vcs.commits import parse_review_trailer, parse_trailers
from hybridcode.vcs.diff import commit_diff, staged_diff, worktree_diff

PLAN = "251123-rate-limit"
CODE = {"app/ratelimit.py": "def allow(ip: str) -> bool:\n    return True\n",
        "tests/hybrid/test_hybrid_ratelimit.py": "def test_allow():\n    assert True\n"}


@pytest.fixture(autouse=True)
def _trusted(repo):
    """The key the repository signs with is an allowed signer (uncommitted file)."""
    allow_configured(repo)


@pytest.fixture
def plan(repo):
    wt = make_plan(repo, PLAN, CODE)
    return repo, wt


def _approve(root, wt):
    diff = worktree_diff(wt, PlanStore(root).meta(PLAN).base_commit)
    record_approval(root, diff, plan_id=PLAN)
    return diff


def test_commit_is_refused_without_an_approval(plan):
    root, wt = plan
    diff = worktree_diff(wt, PlanStore(root).meta(PLAN).base_commit)
    with pytest.raises(NoApprovalError) as info:
        commit_plan(root, PLAN)
    assert diff.sha256[:12] in str(info.value)
    assert f"hybrid review {PLAN}" in str(info.value)
    assert git(root, "rev-parse", f"hybrid/{PLAN}").stdout == git(root, "rev-parse",
                                                                  "HEAD").stdout
    assert PlanStore(root).meta(PLAN).status == "implemented"


def test_approved_diff_is_committed_with_trailers_matching_the_commit(plan):
    root, wt = plan
    diff = _approve(root, wt)
    result = commit_plan(root, PLAN)
    message = git(root, "log", "-1", "--format=%B", f"hybrid/{PLAN}").stdout
    trailers = parse_trailers(message)
    assert trailers["Hybrid-Plan"] == PLAN
    assert trailers["Hybrid-Implementer"] == "qwen2.5-coder:32b"
    assert trailers["Hybrid-Review"] == f"approved {diff.sha256} by claude-opus-5-5"
    # the hash in the trailer is the hash of what was actually committed
    assert parse_review_trailer(trailers["Hybrid-Review"])[0] == commit_diff(
        root, result.commit).sha256
    assert result.commit == git(root, "rev-parse", f"hybrid/{PLAN}").stdout.strip()
    assert PlanStore(root).meta(PLAN).status == "committed"
    # git's own trailer parser agrees with ours
    out = subprocess.run(["git", "interpret-trailers", "--parse"], input=message,
                         capture_output=True, text=True, check=True).stdout
    assert f"Hybrid-Plan: {PLAN}" in out and "Hybrid-Review: approved" in out
    # the user's branch is untouched without --merge
    assert not (root / "app" / "ratelimit.py").exists()


def test_diff_changed_after_approval_is_refused_by_commit_and_by_the_hook(plan):
    root, wt = plan
    _approve(root, wt)
    (wt / "app" / "ratelimit.py").write_text("def allow(ip: str) -> bool:\n    return False\n")
    with pytest.raises(NoApprovalError) as info:
        commit_plan(root, PLAN)
    assert "changed after the review" in str(info.value)
    # the same changed code, staged by hand in the user's tree, is stopped by the hook
    for rel in CODE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes((wt / rel).read_bytes())
    git(root, "add", "-A", "app", "tests")
    result = hook_check(root)
    assert not result.ok and result.reason == "blocked"
    assert PLAN in result.message and "--no-verify" in result.message
    # the exactly-approved content passes: the approval made in the worktree covers the
    # identical change staged in the user's tree (same bytes, same hash)
    (root / "app" / "ratelimit.py").write_text(CODE["app/ratelimit.py"])
    git(root, "add", "-A", "app")
    approved = staged_diff(root)
    result = hook_check(root)
    assert result.ok and result.reason == "approved" and result.diff_sha256 == approved.sha256


def test_empty_worktree_is_an_error(repo):
    make_plan(repo, PLAN, {})
    with pytest.raises(Exception) as info:
        commit_plan(repo, PLAN)
    assert "nothing to commit" in str(info.value)


def test_merge_brings_the_commit_into_the_current_branch(plan):
    root, wt = plan
    _approve(root, wt)
    result = commit_plan(root, PLAN, merge=True)
    assert result.merged_into == "main"
    assert (root / "app" / "ratelimit.py").read_text() == CODE["app/ratelimit.py"]
    parents = git(root, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()
    assert len(parents) == 3 and parents[2] == result.commit  # a real merge commit (--no-ff)
    # committing again only reports; merging again is a no-op
    again = commit_plan(root, PLAN, merge=True)
    assert again.already_committed and again.merge_commit == result.merge_commit


def test_merge_conflict_aborts_and_loses_nothing(plan):
    root, wt = plan
    _approve(root, wt)
    (root / "app").mkdir()
    (root / "app" / "ratelimit.py").write_text("USER_VERSION = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "user's own ratelimit")
    head_before = git(root, "rev-parse", "HEAD").stdout
    with pytest.raises(GitError) as info:
        commit_plan(root, PLAN, merge=True)
    assert "app/ratelimit.py" in str(info.value) and "aborted" in str(info.value)
    assert git(root, "rev-parse", "HEAD").stdout == head_before
    assert not (root / ".git" / "MERGE_HEAD").exists()
    assert git(root, "status", "--porcelain", "--untracked-files=no").stdout == ""
    assert (root / "app" / "ratelimit.py").read_text() == "USER_VERSION = 1\n"
    # the approved commit is safe on the plan's branch and can be merged later
    assert git(root, "show", f"hybrid/{PLAN}:app/ratelimit.py").stdout == CODE[
        "app/ratelimit.py"]
    assert PlanStore(root).meta(PLAN).status == "committed"


def test_merge_refuses_when_uncommitted_changes_touch_the_same_files(plan):
    root, wt = plan
    _approve(root, wt)
    (root / "app").mkdir()
    (root / "app" / "ratelimit.py").write_text("my work in progress\n")
    with pytest.raises(GitError) as info:
        commit_plan(root, PLAN, merge=True)
    assert "app/ratelimit.py" in str(info.value) and "stash" in str(info.value)
    assert (root / "app" / "ratelimit.py").read_text() == "my work in progress\n"


def test_commit_passes_an_installed_hook(plan):
    from hybridcode.review.hook import install_hook

    root, wt = plan
    install_hook(root)
    _approve(root, wt)
    result = commit_plan(root, PLAN)
    assert result.commit


def test_clean_keeps_unmerged_work_and_removes_merged(plan):
    root, wt = plan
    result = clean(root)
    assert wt.exists() and not result.removed_worktrees
    assert "uncommitted generated code" in result.kept[0][1]
    _approve(root, wt)
    commit_plan(root, PLAN)
    result = clean(root)
    assert not wt.exists()
    assert result.kept[0][0] == f"hybrid/{PLAN}"  # committed but not merged: kept
    assert git(root, "branch", "--list", f"hybrid/{PLAN}").stdout.strip()
    git(root, "merge", "-q", "--no-ff", "--no-edit", f"hybrid/{PLAN}")
    result = clean(root)
    assert result.deleted_branches == [f"hybrid/{PLAN}"]
    assert not git(root, "branch", "--list", f"hybrid/{PLAN}").stdout.strip()


def test_clean_force_discards(plan):
    root, wt = plan
    result = clean(root, PLAN, force=True)
    assert not wt.exists()
    assert result.deleted_branches == [f"hybrid/{PLAN}"]


def test_cli_commit_refused_then_committed(plan):
    root, wt = plan
    runner = CliRunner()
    refused = runner.invoke(app, ["commit", PLAN, "--repo", str(root)])
    assert refused.exit_code == 1
    assert "no signed approval of the current diff" in refused.output
    _approve(root, wt)
    done = runner.invoke(app, ["commit", PLAN, "--repo", str(root), "--json", "-m", "Add it"])
    assert done.exit_code == 0, done.output
    assert '"plan_id": "251123-rate-limit"' in done.output
    assert git(root, "log", "-1", "--format=%s", f"hybrid/{PLAN}").stdout.strip() == "Add it"
    cleaned = runner.invoke(app, ["clean", "--repo", str(root), "--json"])
    assert cleaned.exit_code == 0, cleaned.output
