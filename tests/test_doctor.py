"""`hybrid doctor` against real fake servers: no network, no key, no GPU."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.doctor import vram_advice
from hybridcode.testing import FakeAnthropic, FakeOllama

runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_doctor(repo, monkeypatch, *args):
    monkeypatch.chdir(repo)
    result = runner.invoke(app, ["doctor", "--json", *args])
    return result, json.loads(result.stdout)


def by_name(report):
    return {c["name"]: c for c in report["checks"]}


def test_all_required_parts_present(repo, monkeypatch):
    with FakeOllama(models={"qwen2.5-coder:32b": 19_851_349_856}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-doctor-test")
        result, report = run_doctor(repo, monkeypatch)
    assert result.exit_code == 0, result.output
    assert report["ok"] is True
    text = json.dumps(report)
    assert "sk-ant-doctor-test" not in text
    assert any("19.9" in c["detail"] or "18.5" in c["detail"] for c in report["checks"]), text
    gpu = by_name(report)["GPU"]
    assert gpu["required"] is False


def test_missing_key_and_model_fail_with_advice(repo, monkeypatch):
    with FakeOllama(models={"llama3:8b": 1}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        result, report = run_doctor(repo, monkeypatch)
    assert result.exit_code == 1
    failed = [c for c in report["checks"] if not c["ok"] and c["required"]]
    hints = " ".join((c["hint"] or "") for c in failed)
    assert "ANTHROPIC_API_KEY" in hints
    assert "ollama pull qwen2.5-coder:32b" in hints


def test_ollama_down_says_how_to_start_it(repo, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    result, report = run_doctor(repo, monkeypatch)
    assert result.exit_code == 1
    hints = " ".join(c["hint"] or "" for c in report["checks"] if not c["ok"])
    assert "ollama serve" in hints or "OLLAMA_HOST" in hints


def test_online_pings_claude(repo, monkeypatch):
    with FakeOllama(models={"qwen2.5-coder:32b": 1}) as ollama, FakeAnthropic() as claude:
        claude.responder = lambda body: "ok"
        monkeypatch.setenv("OLLAMA_HOST", ollama.host)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", claude.base_url)
        result, report = run_doctor(repo, monkeypatch, "--online")
        pinged = [r for r in claude.requests if r.path.endswith("/v1/messages")]
    assert result.exit_code == 0, result.output
    assert {r.json["model"] for r in pinged} == {"claude-sonnet-5-5"}  # one model, one ping


def test_table_output(repo, monkeypatch):
    monkeypatch.chdir(repo)
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{closed_port()}")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "hybrid doctor" in result.stdout and "git" in result.stdout


@pytest.mark.parametrize("gb,expect", [(24, "32b"), (16, "14b"), (8, "7b"), (4, "shared")])
def test_vram_advice(gb, expect):
    assert expect in vram_advice(gb)


def test_a_hybrid_variable_that_sets_nothing_is_named_with_the_closest_one(repo, monkeypatch):
    with FakeOllama(models={"qwen2.5-coder:32b": 1}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-doctor-test")
        monkeypatch.setenv("HYBRID_BUDGET", "3")  # a typo of HYBRID_BUDGET_USD
        monkeypatch.setenv("HYBRID_SANDBOX__MODE", "auto")  # the section form: a setting
        result, report = run_doctor(repo, monkeypatch)
    assert result.exit_code == 0, result.output  # a warning, not a failure
    checks = by_name(report)
    warning = checks["environment: HYBRID_BUDGET"]
    assert not warning["ok"] and warning["required"] is False
    assert "did you mean HYBRID_BUDGET_USD?" in warning["hint"]
    assert not any("HYBRID_SANDBOX" in name for name in checks)


def test_a_key_too_short_to_be_real_is_flagged(repo, monkeypatch):
    with FakeOllama(models={"qwen2.5-coder:32b": 1}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        result, report = run_doctor(repo, monkeypatch)
    key = by_name(report)["Anthropic API key"]
    assert key["ok"] is False and key["required"] is False
    assert "cannot be a real key" in key["detail"] and "sk-ant-" in key["hint"]
    assert result.exit_code == 0, result.output  # a warning: a gateway may take any key


def _python_row(repo, monkeypatch):
    with FakeOllama(models={"qwen2.5-coder:32b": 1}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-doctor-test")
        _, report = run_doctor(repo, monkeypatch)
    return by_name(report)["Python tests"]


def _commit(repo, files):
    import subprocess

    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "code"], cwd=repo, check=True)


def test_python_tests_row_names_the_judges_interpreter_and_imports_the_package(
        repo, monkeypatch):
    import sys

    _commit(repo, {"calc/__init__.py": "", "tests/test_calc.py": "import calc\n"})
    row = _python_row(repo, monkeypatch)
    assert row["ok"] is True, row
    assert sys.executable in row["detail"] and "no .venv" in row["detail"]
    assert "imports calc" in row["detail"] and "pytest " in row["detail"]


def test_python_tests_row_fails_when_the_src_package_is_not_installed(repo, monkeypatch):
    _commit(repo, {"src/shoplib/__init__.py": "from shoplib._version import v\n"})
    row = _python_row(repo, monkeypatch)
    assert row["ok"] is False and row["required"] is False
    assert "shoplib: ModuleNotFoundError" in row["detail"]
    assert "pip install -e ." in row["hint"]


def test_python_tests_row_checks_pytest_in_the_configured_interpreter(repo, monkeypatch):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo / "env")],
                   check=True)
    (repo / ".hybrid").mkdir()
    (repo / ".hybrid" / "config.toml").write_text('[checks]\npython = "env/bin/python"\n')
    _commit(repo, {"app.py": "x = 1\n"})
    row = _python_row(repo, monkeypatch)
    assert row["ok"] is False
    assert "pytest does not import" in row["detail"] and "env/bin/python" in row["detail"]
    assert "[checks] python" in row["detail"]
    monkeypatch.setenv("COLUMNS", "200")
    table = runner.invoke(app, ["doctor"])
    # config sections are text, not rich markup that swallows them
    assert "([checks] python)" in " ".join(table.stdout.split())
