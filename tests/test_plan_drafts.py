"""Every planner answer paid for is kept, whatever its shape, and `hybrid spec check` reads
the draft the error names. A stream cut short is a transport error, not the model's answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.ledger import Ledger
from hybridcode.plan import PlannerOutput
from plan_helpers import item_of, make_app_repo, planner_answer

runner = CliRunner()
REQUEST = "Add per-IP rate limiting to login"
WRONG_SHAPE = {"architecture_note": "n", "spec": {"title": "t", "items": [{"id": "x"}]}}


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    return make_app_repo(tmp_path / "app-repo")


def plan(repo: Path, *args: str):
    return runner.invoke(app, ["plan", REQUEST, "--repo", str(repo), *args])


def only_plan(repo: Path) -> Path:
    [folder] = list((repo / ".hybrid" / "plans").iterdir())
    return folder


def messages(fake):
    return [r for r in fake.requests if r.path.endswith("/v1/messages")]


def test_a_wrong_shape_answer_is_kept_and_spec_check_reads_it(app_repo, claude):
    claude.enqueue_json(WRONG_SHAPE)
    claude.enqueue_json(WRONG_SHAPE)  # the backend's one schema-repair round: still wrong
    result = plan(app_repo, "--json")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: the planner's answer is not a valid plan")
    assert len(messages(claude)) == 2
    folder = only_plan(app_repo)
    plan_id = folder.name
    draft = json.loads((folder / "spec.invalid.json").read_text())
    assert draft["items"] == [{"id": "x"}] and draft["plan_id"] == plan_id
    assert json.loads((folder / "planner-answer-1.txt").read_text()) == WRONG_SHAPE
    assert json.loads((folder / "planner-answer-2.txt").read_text()) == WRONG_SHAPE
    assert (folder / "architecture.md").read_text() == "n\n"
    assert json.loads((folder / "meta.json").read_text())["status"] == "invalid"
    # the advice names the file that exists (there is no spec.json), and spec check reads it
    assert f"edit .hybrid/plans/{plan_id}/spec.invalid.json" in line
    assert not (folder / "spec.json").exists()
    checked = runner.invoke(app, ["spec", "check", plan_id, "--repo", str(app_repo), "--json"])
    assert checked.exit_code == 1, checked.output
    report = json.loads(checked.stdout)
    assert report["checked"] == "spec.invalid.json"
    assert {i["item"] for i in report["issues"]} == {"x"}
    assert "Error" not in checked.stderr

    # the person fixes the draft: spec check accepts it, routes it and writes spec.json
    fixed = PlannerOutput.model_validate(planner_answer()).spec_data(plan_id)
    (folder / "spec.invalid.json").write_text(json.dumps(fixed))
    ok = runner.invoke(app, ["spec", "check", plan_id, "--repo", str(app_repo)])
    assert ok.exit_code == 0, ok.output
    assert "wrote spec.json from spec.invalid.json" in " ".join(ok.stdout.split())
    spec = json.loads((folder / "spec.json").read_text())
    assert {item["route"] for item in spec["items"]} <= {"local", "claude"}
    assert all(item["route"] for item in spec["items"])
    assert json.loads((folder / "meta.json").read_text())["status"] == "planned"
    assert (folder / "plan.md").is_file()


def test_a_malformed_repair_answer_keeps_the_first_draft(app_repo, claude):
    def cycle(answer):
        item_of(answer, "ratelimit-store")["depends_on"] = ["ratelimit-limiter"]

    claude.enqueue_json(planner_answer(cycle))
    claude.enqueue_text("Sorry, here is the fix: the store should not depend on the limiter.")
    claude.enqueue_text("I cannot produce JSON right now.")
    result = plan(app_repo)
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "its repair failed" in line and "ratelimit-store" in line
    folder = only_plan(app_repo)
    plan_id = folder.name
    assert f"the first draft is kept: edit .hybrid/plans/{plan_id}/spec.json" in line
    draft = json.loads((folder / "spec.invalid.json").read_text())
    assert item_of({"spec": draft}, "ratelimit-store")["depends_on"] == ["ratelimit-limiter"]
    assert (folder / "spec.json").is_file()
    kept = [(folder / f"planner-answer-{n}.txt").read_text() for n in (1, 2)]
    assert "Sorry, here is the fix" in kept[0] and "cannot produce JSON" in kept[1]
    assert len(messages(claude)) == 3
    checked = runner.invoke(app, ["spec", "check", plan_id, "--repo", str(app_repo), "--json"])
    assert checked.exit_code == 1
    assert any(i["item"] == "ratelimit-store" for i in json.loads(checked.stdout)["issues"])


def test_a_transport_failure_of_the_repair_keeps_the_first_draft(app_repo, claude):
    def cycle(answer):
        item_of(answer, "ratelimit-store")["depends_on"] = ["ratelimit-limiter"]

    claude.enqueue_json(planner_answer(cycle))
    claude.enqueue_fault("529", retry_after=0.01)
    result = plan(app_repo, "--json")
    assert result.exit_code == 1
    assert "its repair failed (Anthropic is overloaded" in result.stderr
    folder = only_plan(app_repo)
    assert (folder / "spec.invalid.json").is_file() and (folder / "architecture.md").is_file()


def test_a_cut_stream_is_a_transport_error_not_a_draft_to_repair(app_repo, claude):
    claude.enqueue_fault("truncated")
    result = plan(app_repo)  # the terminal display streams the answer
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "ended before the answer was complete" in line and "re-run" in line
    assert len(messages(claude)) == 1  # no repair call paid for a broken connection
    with Ledger.open(app_repo) as ledger:
        [call] = ledger.calls()
    assert call.outcome == "error" and call.input_tokens > 0


def test_a_cut_stream_is_retried_within_the_command(app_repo, claude, monkeypatch):
    """As the SDK retries a 529 or a dropped connection, up to anthropic.max_retries."""
    monkeypatch.setenv("HYBRID_ANTHROPIC__MAX_RETRIES", "1")
    claude.enqueue_fault("truncated")
    claude.enqueue_json(planner_answer())
    result = plan(app_repo)  # the terminal display streams the answer
    assert result.exit_code == 0, result.output
    assert len(messages(claude)) == 2
    assert (only_plan(app_repo) / "spec.json").is_file()
    with Ledger.open(app_repo) as ledger:
        [call] = ledger.calls()  # one call, billed for the cut stream and the answer
    assert call.outcome == "ok"
    first = claude.requests[0].json
    assert call.input_tokens > len(json.dumps(first["messages"])) // 10
