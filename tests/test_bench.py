"""``hybrid bench`` end to end against the wire-level fakes.

Three tasks of the bundled suite, chosen so that every mode scores differently (the full suite
would take minutes of pytest runs; tests/test_bench_suite.py checks every task's hidden tests):

- validate-email: the local model answers the reference → every mode passes;
- parse-duration: the local model answers a subtle bug that passes the acceptance tests but not
  the hidden ones (surrounding whitespace is not stripped) → nothing escalates, local fails;
- luhn-check: the local model answers code that fails the acceptance tests → hybrid escalates
  to Claude, which answers the reference; all-local fails.

By hand: all-claude 3/3, all-local 1/3, hybrid 2/3, so PGR = (2/3 − 1/3) / (1 − 1/3) = 0.5.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.bench import compute_pgr, load_suite
from hybridcode.bench.runner import mode_settings
from hybridcode.cli.app import app
from hybridcode.config import load_settings
from hybridcode.errors import UsageError
from hybridcode.testing import FakeAnthropic
from hybridcode.testing.fake_ollama import FakeOllama

TASKS = ["validate-email", "parse-duration", "luhn-check"]
SUITE = {task.id: task for task in load_suite()}


def _fence(code: str) -> str:
    return f"```python\n{code.strip()}\n```\n"


def _reference(task_id: str) -> str:
    path = SUITE[task_id].reference_path
    assert path is not None
    return path.read_text(encoding="utf-8")


LOCAL_ANSWERS = {
    "validate-email": _reference("validate-email"),
    "parse-duration": _reference("parse-duration").replace("text.strip().lower()", "text.lower()"),
    "luhn-check": "def luhn_valid(number: str) -> bool:\n    return True\n",
}


def _prompt(body: dict) -> str:
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(block.get("text", "") for block in content if isinstance(block, dict))
    return "\n".join(parts)


def _task_of(body: dict) -> str:
    text = _prompt(body)
    for task_id, task in SUITE.items():
        if task.signature and task.signature in text:
            return task_id
    raise AssertionError("the prompt names no bench task's signature")


def _hidden_names() -> list[str]:
    """Names that occur only in the hidden tests: none may ever reach a model."""
    return ["test_total_length_limit", "test_input_not_modified", "  10m  "]


@pytest.fixture(scope="module")
def fakes():
    prompts: list[str] = []

    def local(body: dict) -> str:
        prompts.append(_prompt(body))
        return _fence(LOCAL_ANSWERS[_task_of(body)])

    def claude(body: dict) -> str:
        prompts.append(_prompt(body))
        return _fence(_reference(_task_of(body)))

    with FakeOllama() as ollama, FakeAnthropic() as anthropic:
        ollama.responder = local
        anthropic.responder = claude
        yield ollama, anthropic, prompts


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    # One attempt per rung keeps the run short; escalation still happens after it.
    (root / ".hybrid").mkdir()
    (root / ".hybrid" / "config.toml").write_text("attempts = 1\nparallel = 1\n")
    return root


def _env(fakes, tmp: Path) -> dict[str, str | None]:
    ollama, anthropic, _ = fakes
    env: dict[str, str | None] = {
        name: None for name in os.environ
        if name.startswith(("HYBRID_", "ANTHROPIC_", "OLLAMA_", "OPENAI_"))}
    env.update({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": anthropic.base_url,
                "OLLAMA_HOST": ollama.host, "HYBRID_USER_CONFIG": str(tmp / "user.toml"),
                "NO_COLOR": "1"})
    return env


@pytest.fixture(scope="module")
def report(fakes, project, tmp_path_factory) -> dict:
    args = ["bench", "--repo", str(project), "--json"]
    for task_id in TASKS:
        args += ["--tasks", task_id]
    result = CliRunner().invoke(app, args, env=_env(fakes, tmp_path_factory.mktemp("env")),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _results(report: dict, mode: str) -> dict[str, dict]:
    return {r["task_id"]: r for r in report["modes"][mode]["results"]}


def test_pass_rates_per_mode(report):
    assert report["tasks"] == TASKS
    modes = report["modes"]
    assert set(modes) == {"hybrid", "all-claude", "all-local"}
    assert (modes["all-claude"]["passed"], modes["hybrid"]["passed"],
            modes["all-local"]["passed"]) == (3, 2, 1)
    assert modes["hybrid"]["pass_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert {k: v["passed"] for k, v in _results(report, "hybrid").items()} == {
        "validate-email": True, "parse-duration": False, "luhn-check": True}


def test_pgr_matches_the_hand_computation(report):
    assert report["pgr"]["value"] == pytest.approx(0.5)
    assert report["pgr"]["reason"] is None
    assert "RouteLLM" in report["pgr"]["definition"]


def test_hidden_tests_catch_what_acceptance_tests_let_through(report):
    duration = _results(report, "hybrid")["parse-duration"]
    assert duration["implemented"] is True  # the engine's acceptance tests passed…
    assert duration["passed"] is False  # …the hidden tests did not
    assert 0 < duration["hidden_passed"] < duration["hidden_total"]
    assert duration["escalated"] is False


def test_escalation_and_spend(report):
    modes = report["modes"]
    hybrid = _results(report, "hybrid")
    assert hybrid["luhn-check"]["escalated"] is True
    assert hybrid["luhn-check"]["final_model"].startswith("anthropic:")
    assert hybrid["validate-email"]["route"] == "local"
    assert modes["hybrid"]["escalated"] == 1
    assert modes["hybrid"]["escalation_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # Claude is paid only where Claude answered; local tokens only where a local model did.
    assert modes["all-local"]["claude_usd"] == 0 and modes["all-local"]["claude_tokens"] == 0
    assert modes["all-local"]["local_tokens"] > 0
    assert modes["all-claude"]["local_tokens"] == 0
    # Dollars depend on which mode wrote the shared prompt prefix to the cache first (every
    # task's Claude calls share it); what Claude wrote does not.
    assert modes["all-claude"]["claude_usd"] > 0 and modes["hybrid"]["claude_usd"] > 0
    claude_out = {name: sum(r["claude_output_tokens"] for r in m["results"])
                  for name, m in modes.items()}
    assert claude_out["all-claude"] > claude_out["hybrid"] > 0
    assert modes["all-claude"]["claude_tokens"] > modes["hybrid"]["claude_tokens"] > 0
    assert modes["all-claude"]["escalation_rate"] == 0
    for mode in modes.values():
        assert mode["wall_s"] > 0


def test_claude_output_per_accepted_item_and_the_spec_to_code_ratio(report):
    modes = report["modes"]
    assert modes["all-local"]["claude_output_tokens_per_accepted"] == 0
    claude = modes["all-claude"]
    outputs = sum(r["claude_output_tokens"] for r in claude["results"])
    assert outputs > 0
    assert claude["claude_output_tokens_per_accepted"] == pytest.approx(
        outputs / claude["accepted"], abs=0.1)
    hybrid = modes["hybrid"]
    assert 0 < hybrid["claude_output_tokens_per_accepted"] < \
        claude["claude_output_tokens_per_accepted"]
    for mode in modes.values():
        done = [r for r in mode["results"] if r["implemented"]]
        assert all(r["spec_tokens"] > 0 and r["code_tokens"] > 0 for r in done)
        ratio = sum(r["spec_tokens"] for r in done) / sum(r["code_tokens"] for r in done)
        assert mode["spec_to_code_ratio"] == pytest.approx(ratio, abs=1e-3)


def test_hidden_tests_never_reach_a_model(report, fakes):
    prompts = fakes[2]
    assert prompts
    for name in _hidden_names():
        assert not any(name in prompt for prompt in prompts), name


def test_table_and_pgr_line(fakes, project, tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "--repo", str(project), "--tasks", "validate-email",
              "--mode", "all-local", "--mode", "all-claude"],
        env=_env(fakes, tmp_path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "all-local" in out and "all-claude" in out and "pass rate" in out
    # Both ends scored 100%, and hybrid was not run: PGR is n/a with the reason.
    assert "PGR (performance gap recovered, RouteLLM): n/a (needs all three modes; " \
           "not run: hybrid)" in out
    assert "all-local 1/1 validate-email: pass" in result.stderr


def test_unknown_mode_and_task_are_usage_errors(project, tmp_path):
    runner = CliRunner()
    bad_mode = runner.invoke(app, ["bench", "--repo", str(project), "--mode", "cheap"])
    assert bad_mode.exit_code == 2 and "--mode cheap is not a bench mode" in bad_mode.output
    bad_task = runner.invoke(app, ["bench", "--repo", str(project), "--tasks", "nope"])
    assert bad_task.exit_code == 2 and "no bench task 'nope'" in bad_task.output
    bad_suite = runner.invoke(app, ["bench", "--suite", str(tmp_path), "--repo", str(project)])
    assert bad_suite.exit_code == 2 and "has no tasks" in bad_suite.output


def test_modes_need_their_rungs(tmp_path):
    (tmp_path / ".hybrid").mkdir()
    (tmp_path / ".hybrid" / "config.toml").write_text(
        '[tiers]\nimplementer = [{backend = "anthropic", model = "claude-sonnet-5-5"}]\n'
        'planner = {backend = "anthropic", model = "claude-opus-5-5"}\n'
        'reviewer = {backend = "anthropic", model = "claude-opus-5-5"}\n')
    settings = load_settings(tmp_path)
    assert [s.backend for s in mode_settings(settings, "all-claude").tiers.implementer] == [
        "anthropic"]
    with pytest.raises(UsageError, match="all-local needs a local rung"):
        mode_settings(settings, "all-local")


@pytest.mark.parametrize("hybrid,local,claude,value,reason", [
    (2 / 3, 1 / 3, 1.0, 0.5, None),
    (1.0, 0.5, 1.0, 1.0, None),
    (0.25, 0.5, 1.0, -0.5, None),  # worse than all-local: reported, not clamped
    (0.5, 0.5, 0.5, None, "both scored 50%"),
    (0.5, None, 1.0, None, "not run: all-local"),
])
def test_pgr(hybrid, local, claude, value, reason):
    pgr = compute_pgr(hybrid, local, claude)
    if value is None:
        assert pgr.value is None and reason in pgr.reason
        assert pgr.render().startswith("n/a (")
    else:
        assert pgr.value == pytest.approx(value)
