"""What a newcomer meets in the first hour: `hybrid init` from a subdirectory, the gate's advice
where it is given (a plan's worktree, a replaying repository), and the wording of docs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.demo import DEFAULT_SCENARIO, find_scenario
from hybridcode.review.hook import hook_check
from gate_helpers import trust_new_key
from review_helpers import make_planned_repo, verdict

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


# ---------------------------------------------------------------------- hybrid init

def test_init_from_a_subdirectory_sets_up_the_repository(repo):
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    result = runner.invoke(app, ["init", str(sub)])
    assert result.exit_code == 0, result.output
    assert (repo / ".hybrid" / "config.toml").is_file()
    assert ".hybrid/*" in (repo / ".gitignore").read_text()
    assert not (sub / ".hybrid").exists() and not (sub / ".gitignore").exists()
    assert f"at the repository's top, {repo}" in result.stdout.replace("\n", "")
    assert "git init" not in result.output


def test_init_outside_a_repository_says_to_make_one(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = runner.invoke(app, ["init", str(plain)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {plain} is not inside a git repository — make it "
                                     f"one first: git init {plain}")


# ---------------------------------------------------------------------- the gate's advice

def test_the_gates_advice_works_in_a_plans_worktree(tmp_path, claude):
    root, worktree = make_planned_repo(tmp_path / "repo")
    trust_new_key(root, tmp_path / "keys")  # approvals are signed; the gate trusts this key
    git(worktree, "add", "-A")
    blocked = hook_check(worktree)
    assert not blocked.ok and "run `hybrid review --staged`" in blocked.message
    claude.enqueue_json(verdict())
    reviewed = runner.invoke(app, ["review", "--staged", "--repo", str(worktree)])
    assert reviewed.exit_code == 0, reviewed.output
    assert hook_check(worktree).ok  # the approval landed where the gate looks


def test_in_a_replaying_repository_the_gate_does_not_send_you_to_a_dead_end(tmp_path):
    root, worktree = make_planned_repo(tmp_path / "repo")
    recordings = find_scenario(DEFAULT_SCENARIO).recordings
    (root / ".hybrid" / "config.toml").write_text(f'[replay]\npath = "{recordings}"\n')
    git(worktree, "add", "-A")
    blocked = hook_check(worktree)
    assert not blocked.ok
    assert "run `hybrid review --staged` to review it" not in blocked.message
    assert "remove [replay] from .hybrid/config.toml" in blocked.message
    # and where the user does run it, the miss says how to get a real review
    result = runner.invoke(app, ["review", "--staged", "--repo", str(worktree)])
    assert result.exit_code == 1
    assert "no recorded response" in result.stderr
    assert "remove [replay] from .hybrid/config.toml" in result.stderr


# ---------------------------------------------------------------------- documentation

def test_docs_speak_to_users_not_to_the_team():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bthe lead'?s?\b", text, re.IGNORECASE), path.name


# ---------------------------------------------------------------------- signing, before review

def test_signing_set_up_as_the_guide_says_gives_a_first_commit_in_one_pass(tmp_path, claude):
    """getting-started: set the key, run doctor, run the line it prints; then the first review
    is committable — one paid review, one commit."""
    import json

    from gate_helpers import make_key, use_key
    from review_helpers import PLAN_ID

    root, _worktree = make_planned_repo(tmp_path / "repo")
    use_key(root, make_key(tmp_path / "keys"))  # git config user.signingkey …
    before = json.loads(runner.invoke(app, ["doctor", "--json", str(root)]).stdout)
    [row] = [c for c in before["checks"] if c["name"] == "approval signing"]
    assert not row["ok"] and ".hybrid/allowed_signers" in row["detail"]
    assert "hybrid commit will refuse" in row["detail"]
    subprocess.run(["bash", "-c", row["hint"]], cwd=root, check=True, capture_output=True)
    after = json.loads(runner.invoke(app, ["doctor", "--json", str(root)]).stdout)
    assert [c["ok"] for c in after["checks"] if c["name"] == "approval signing"] == [True]

    claude.enqueue_json(verdict())
    reviewed = runner.invoke(app, ["review", PLAN_ID, "--repo", str(root)])
    assert reviewed.exit_code == 0, reviewed.output
    assert "warning" not in reviewed.stderr and "will refuse" not in reviewed.stdout
    committed = runner.invoke(app, ["commit", PLAN_ID, "--repo", str(root)])
    assert committed.exit_code == 0, committed.output
    assert len([r for r in claude.requests if r.path.endswith("/v1/messages")]) == 1


def test_review_says_up_front_when_its_approval_could_not_be_committed(tmp_path, claude):
    import json

    from review_helpers import PLAN_ID

    root, _worktree = make_planned_repo(tmp_path / "repo")  # no key, no allowed signers
    claude.enqueue_json(verdict())
    reviewed = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    assert reviewed.exit_code == 0, reviewed.output
    warning = reviewed.stderr.strip().splitlines()[0]
    assert warning.startswith("warning: no signing key is configured for approvals, so "
                              "hybrid commit will refuse an approval from this review")
    assert "git config user.signingkey" in warning and "allowed_signers" in warning
    notes = " ".join(json.loads(reviewed.stdout)["notes"])
    assert "the approval is not signed" in notes


def test_getting_started_sets_up_signing_before_the_first_review():
    guide = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    own = guide.index("## 2. Set up your own project")
    assert own < guide.index(".hybrid/allowed_signers", own) < guide.index("hybrid review", own)
    assert guide.index("git config user.signingkey", own) < guide.index("hybrid review", own)
    trailers = guide[guide.index("Hybrid-Plan:"):guide.index("```", guide.index("Hybrid-Plan:"))]
    assert "Hybrid-Attestation:" in trailers and "Hybrid-Signature:" in trailers


def test_the_readmes_demo_command_leaves_a_clone_clean():
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    kept = re.search(r"hybrid demo --keep (\S+)", readme).group(1)
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return  # not a clone: nothing to keep clean
    for path in (kept, kept.rstrip("/") + "-2"):  # the demo suggests -2 when the first is taken
        done = subprocess.run(["git", "check-ignore", "-q", f"{path}/"], cwd=ROOT, check=False)
        assert done.returncode == 0, f"{path} would be left untracked in a clone"
