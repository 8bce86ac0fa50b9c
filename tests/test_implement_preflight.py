"""A local rung that is not ready stops the run before anything is paid for, unless the user
allows its items to climb; every escalation says why, in the run's output and the ledger."""

from __future__ import annotations

import json

import pytest
from implement_helpers import Script, add_item, code, env_for, make_project, user_tree, write_plan
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.ledger import Ledger
from hybridcode.testing import FakeAnthropic, FakeOllama

runner = CliRunner()
QWEN = "ollama:qwen2.5-coder:32b"
SONNET = "anthropic:claude-sonnet-5-5"


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "repo")


def serve(monkeypatch, ollama, claude):
    for name, value in env_for(ollama, claude).items():
        monkeypatch.setenv(name, value)


def implement(project, *args):
    return runner.invoke(app, ["implement", "p1", "--repo", str(project), *args])


def item_rows(project):
    with Ledger.open(project) as ledger:
        return {r["item_id"]: dict(r) for r in ledger.query(
            "SELECT item_id, state, escalated, escalation FROM items")}


def test_a_model_not_pulled_stops_the_run_with_the_pull_command(project, monkeypatch):
    write_plan(project, [add_item()])
    before = user_tree(project)
    with FakeOllama(models={}) as ollama, FakeAnthropic() as claude:
        serve(monkeypatch, ollama, claude)
        result = implement(project)
        assert result.exit_code == 1
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line == (f"Error: the local rung {QWEN} is not ready: qwen2.5-coder:32b is not "
                        f"pulled on {ollama.host} — run `ollama pull qwen2.5-coder:32b`, then "
                        "re-run; or pass --allow-missing-local to send its items to the next "
                        "rung up (paid if that is Claude)")
        assert claude.requests == [] and ollama.requests_to("/api/chat") == []
    assert not (project / ".hybrid" / "worktrees" / "p1").exists()
    assert user_tree(project) == before
    with Ledger.open(project) as ledger:
        assert ledger.query("SELECT * FROM runs") == []


def test_an_unreachable_server_stops_the_run_too(project, monkeypatch):
    write_plan(project, [add_item()])
    with FakeOllama() as ollama:
        host = ollama.host  # closed when the block ends: nobody listens there any more
    with FakeAnthropic() as claude:
        monkeypatch.setenv("OLLAMA_HOST", host)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", claude.base_url)
        result = implement(project)
        assert result.exit_code == 1
        assert f"cannot reach Ollama at {host}" in result.stderr
        assert "ollama serve" in result.stderr and "--allow-missing-local" in result.stderr
        assert claude.requests == []


def test_allowed_the_items_climb_and_say_why_everywhere(project, monkeypatch):
    write_plan(project, [add_item()])
    with FakeOllama(models={}) as ollama, FakeAnthropic() as claude:
        serve(monkeypatch, ollama, claude)
        claude.responder = Script({"add": [code("add", "a + b")]})
        result = implement(project, "--allow-missing-local")
        assert result.exit_code == 0, result.output
        assert ollama.requests_to("/api/chat") == []
        host = ollama.host
    why = f"{QWEN} is not ready (qwen2.5-coder:32b is not pulled on {host})"
    out = " ".join(result.output.split())
    assert f"{QWEN} is not ready (qwen2.5-coder:32b is not pulled on {host}); its " \
           "items start on the next rung up (--allow-missing-local)" in out
    assert f"add: escalating from {QWEN} to {SONNET} — {why}" in out
    assert f"escalated add: {QWEN} → {SONNET}: {why}" in out  # the summary, for logs
    row = item_rows(project)["add"]
    assert row["state"] == "passed" and row["escalated"] == 1
    assert row["escalation"] == f"{QWEN} → {SONNET}: {why}"


def test_the_config_allows_it_as_well_and_json_carries_the_reason(project, monkeypatch):
    write_plan(project, [add_item()])
    monkeypatch.setenv("HYBRID_ALLOW_MISSING_LOCAL", "true")
    with FakeOllama(models={}) as ollama, FakeAnthropic() as claude:
        serve(monkeypatch, ollama, claude)
        claude.responder = Script({"add": [code("add", "a + b")]})
        result = implement(project, "--json")
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)["items"]
    assert item["escalation"].startswith(f"{QWEN} → {SONNET}: {QWEN} is not ready")


def test_rungs_no_item_uses_are_not_checked(project, monkeypatch):
    write_plan(project, [add_item(route="claude")])
    with FakeOllama(models={}) as ollama, FakeAnthropic() as claude:
        serve(monkeypatch, ollama, claude)
        claude.responder = Script({"add": [code("add", "a + b")]})
        result = implement(project)
    assert result.exit_code == 0, result.output
    assert item_rows(project)["add"]["escalation"] is None


def test_an_escalation_after_failed_attempts_says_so(project, monkeypatch):
    write_plan(project, [add_item()])
    (project / ".hybrid" / "config.toml").write_text("attempts = 2\n")
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        serve(monkeypatch, ollama, claude)
        ollama.responder = Script({"add": [code("add", "a * b")]})
        claude.responder = Script({"add": [code("add", "a + b")]})
        result = implement(project)
    assert result.exit_code == 0, result.output
    escalation = item_rows(project)["add"]["escalation"]
    assert escalation.startswith(f"{QWEN} → {SONNET}: 2 failed attempts on {QWEN}, last: ")
    assert "test_add" in escalation
    assert f"add: escalating from {QWEN} to {SONNET} — 2 failed attempts" in \
        " ".join(result.output.split())
