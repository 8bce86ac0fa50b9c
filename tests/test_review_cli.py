"""`hybrid review` as a user runs it: reports, JSON, and exit codes a CI can gate on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from review_helpers import PLAN_ID, WRONG, finding, git, make_planned_repo, verdict

runner = CliRunner()


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    return make_planned_repo(tmp_path / "repo")[0]


def review(root: Path, *args: str):
    return runner.invoke(app, ["review", *args, "--repo", str(root)])


def test_approved_plan_prints_the_report_and_exits_0(planned, claude):
    claude.enqueue_json(verdict(findings=[finding("minor")]))
    result = review(planned, PLAN_ID)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Checks", "Checklist", "meaningful-tests", "Findings", "app/text.py:5",
                 "Grades", "slugify", "APPROVED by claude-opus-5-5"):
        assert text in out, text


def test_json_output(planned, claude):
    claude.enqueue_json(verdict())
    result = review(planned, "--json")  # no plan named: the newest plan
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "approved" and data["plan_id"] == PLAN_ID
    assert len(data["diff_sha256"]) == 64 and data["source"] == "worktree"
    assert {f["path"] for f in data["files"]} == {"app/text.py", "tests/hybrid/test_slugify.py"}
    assert data["verdict"]["checklist"][0]["reasoning"]
    assert [c["name"] for c in data["checks"]][0] == "syntax"
    again = json.loads(review(planned, "--json").stdout)
    assert again["cached"] and again["review_id"] == data["review_id"]


def test_changes_requested_exits_1(planned, claude):
    claude.enqueue_json(verdict("request_changes", findings=[finding("major")]))
    result = review(planned, PLAN_ID)
    assert result.exit_code == 1
    assert "CHANGES REQUESTED" in result.stdout


def test_blocked_exits_1_and_says_the_checks_decided(tmp_path, claude):
    root = make_planned_repo(tmp_path / "repo", code=WRONG)[0]
    result = review(root, PLAN_ID)
    assert result.exit_code == 1
    assert "BLOCKED" in result.stdout and "the checks decided" in result.stdout


def test_model_text_is_not_rich_markup(planned, claude):
    claude.enqueue_json(verdict(findings=[finding("info") | {"title": "[red]x[/red] [bold]"}]))
    result = review(planned, PLAN_ID)
    assert result.exit_code == 0, result.output
    assert "[red]x[/red] [bold]" in result.stdout


@pytest.mark.parametrize("args", [
    ["--staged", PLAN_ID],
    ["--staged", "--base", "HEAD"],
    [PLAN_ID, "--base", "HEAD"],
    ["--head", "HEAD"],
])
def test_usage_errors_exit_2(planned, args):
    result = review(planned, *args)
    assert result.exit_code == 2
    assert "Error:" in result.output


def test_nothing_staged_exits_2(repo):
    result = review(repo, "--staged")
    assert result.exit_code == 2 and "nothing staged" in result.output


def test_no_plans_exits_2_with_a_hint(repo):
    result = review(repo)
    assert result.exit_code == 2 and "hybrid plan" in result.output


def test_range_review(repo, claude):
    (repo / "util.py").write_text("def double(x: int) -> int:\n    return 2 * x\n")
    git(repo, "add", "util.py")
    git(repo, "commit", "-q", "-m", "util")
    claude.enqueue_json(verdict() | {"grades": []})
    result = review(repo, "--base", "HEAD~1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "range"
