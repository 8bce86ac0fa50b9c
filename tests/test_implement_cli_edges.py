"""`hybrid implement` at its edges: no plan, a plan another run holds, a run killed with
SIGKILL, and the summary in a log (stderr not a terminal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from implement_helpers import Script, add_item, code, env_for, make_project, write_plan
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.ledger import Ledger
from hybridcode.testing import FakeAnthropic, FakeOllama

runner = CliRunner()


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "repo")


@pytest.fixture
def fakes(monkeypatch):
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        for name, value in env_for(ollama, claude).items():
            monkeypatch.setenv(name, value)
        yield ollama, claude


def _runs(root):
    with Ledger.open(root) as ledger:
        return [dict(r) for r in ledger.query(
            "SELECT id, command, status FROM runs WHERE command = 'implement' "
            "ORDER BY started_at")]


def _start_slow_run(project, fakes, seconds: float = 60.0) -> subprocess.Popen:
    """A real `hybrid implement p1` in another process, stuck in its model call."""
    ollama, _ = fakes
    ollama.responder = Script({"add": [code("add", "a + b")]}, delay=seconds)
    proc = subprocess.Popen([sys.executable, "-m", "hybridcode", "implement", "p1"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while not ollama.requests_to("/api/chat"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never called the model"
        time.sleep(0.05)
    return proc


def test_no_plan_prints_only_the_error(project, fakes):
    result = runner.invoke(app, ["implement", "--repo", str(project)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'Error: no plans in this repository yet — create one with: hybrid plan "what you '
        'want built"']


def test_in_a_log_the_summary_starts_on_its_own_line(project, fakes):
    write_plan(project, [add_item()])
    fakes[0].responder = Script({"add": [code("add", "a + b")]})
    result = runner.invoke(app, ["implement", "p1", "--repo", str(project)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["item", "state", "rung", "/", "model", "attempt", "tokens",
                                "elapsed"]
    assert any(line.startswith("p1: implemented — 1 passed") for line in lines), lines
    assert sum(line.split()[:1] == ["add"] for line in lines) == 1  # the table, once


def test_a_second_concurrent_run_is_refused_cleanly(project, fakes):
    write_plan(project, [add_item()])
    first = _start_slow_run(project, fakes, seconds=3)
    try:
        second = runner.invoke(app, ["implement", "p1", "--repo", str(project)])
        assert second.exit_code == 2
        assert second.stdout == ""
        [line] = second.stderr.splitlines()
        assert line == (f"Error: another hybrid implement is running on plan p1 (pid "
                        f"{first.pid}) — wait for it to finish, or stop it (kill {first.pid}) "
                        "and continue with: hybrid implement p1 --resume")
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert [r["status"] for r in _runs(project)] == ["ok"]  # the refusal started no run


def test_a_killed_run_is_marked_interrupted_by_the_next(project, fakes):
    write_plan(project, [add_item()])
    killed = _start_slow_run(project, fakes)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    [stale] = _runs(project)
    assert stale["status"] == "running"  # nobody was left to say otherwise

    again = runner.invoke(app, ["implement", "p1", "--repo", str(project)])
    assert again.exit_code == 2
    assert "the last run of plan p1 was killed before it finished" in again.stderr
    assert "hybrid implement p1 --resume" in again.stderr
    assert [r["status"] for r in _runs(project)] == ["interrupted"]

    fakes[0].responder = Script({"add": [code("add", "a + b")]})
    resumed = runner.invoke(app, ["implement", "p1", "--resume", "--repo", str(project)])
    assert resumed.exit_code == 0, resumed.output
    assert [r["status"] for r in _runs(project)] == ["interrupted", "ok"]


def test_a_cut_claude_stream_is_a_failed_call_not_broken_code(project, fakes):
    from implement_helpers import settings_for

    from hybridcode.implement.runner import implement_plan

    ollama, claude = fakes
    write_plan(project, [add_item(route="claude")])
    claude.enqueue_fault("truncated")
    cloud = Script({"add": [code("add", "a + b")]})
    claude.responder = cloud
    # No retries left for a broken stream (anthropic.max_retries = 0; with retries the backend
    # sends the request again within the call): the call fails, and the item's next attempt
    # is a fresh call.
    settings = settings_for(project, ollama, claude, anthropic={"max_retries": 0})
    result = implement_plan(project, "p1", settings=settings, on_event=lambda e: None)
    assert result.ok
    with Ledger.open(project) as ledger:
        outcomes = [r["outcome"] for r in ledger.query(
            "SELECT outcome FROM calls WHERE tier = 'implementer' ORDER BY ts")]
        attempts = [dict(r) for r in ledger.query(
            "SELECT outcome, feedback FROM attempts WHERE item_id = 'add' ORDER BY id")]
    assert outcomes == ["error", "ok"]
    assert attempts[0]["outcome"] == "model_error"
    assert "ended before the answer was complete" in attempts[0]["feedback"]
    # the model is not told that a half-received answer was its broken code
    # (the shared prompt prefix mentions syntax checks in general; the feedback must not)
    assert not any("SyntaxError" in seen or "syntax check failed" in seen.lower()
                   or "could not be used" in seen for seen in cloud.seen["add"])
