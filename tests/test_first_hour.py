"""What a newcomer meets in the first hour: `hybrid init` from a subdirectory, the gate's advice
where it is given (a plan's worktree, a replaying repository), and the wording of docs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.demo import RECORDINGS
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
    (root / ".hybrid" / "config.toml").write_text(f'[replay]\npath = "{RECORDINGS}"\n')
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
