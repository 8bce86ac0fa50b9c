"""`hybrid map` end to end on real temporary git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app

from conftest import git


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def project(repo: Path) -> Path:
    files = {
        "app/models.py": "class User:\n    def save(self) -> None:\n        pass\n",
        "app/views.py": "from app.models import User\n\ndef show(request):\n"
                        "    return User().save()\n",
        "app/payments.py": "def refund(charge_id: str) -> bool:\n    return True\n",
        "app/settings.py": 'DEBUG = True\nAWS_SECRET = "x"\nAWS_ACCESS_KEY_ID = '
                           '"AKIAZ3MHQWERTYUIOPAS"\n',
        ".env": "DATABASE_URL=postgres://u:p@localhost/db\n",
        ".gitignore": "build/\n",
        "build/gen.py": "def generated(): pass\n",
        ".hybridignore": "legacy/\n",
        "legacy/old.py": "def ancient(): pass\n",
    }
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def run(runner: CliRunner, *args: str):
    return runner.invoke(app, ["map", *args], catch_exceptions=False)


def test_map_prints_signatures(runner: CliRunner, project: Path) -> None:
    result = run(runner, str(project))
    assert result.exit_code == 0, result.output
    assert "app/models.py:" in result.stdout
    assert "     1| class User:\n     2|     def save(self) -> None:" in result.stdout
    assert "ancient" not in result.stdout and "generated" not in result.stdout
    assert "AKIA" not in result.stdout and "settings.py" not in result.stdout


def test_map_json_lists_symbols_and_exclusions(runner: CliRunner, project: Path) -> None:
    result = run(runner, str(project), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    files = {f["path"]: f for f in data["files"]}
    assert files["app/models.py"]["symbols"] == [
        {"name": "User", "kind": "class", "qualified_name": "User", "line": 1, "end_line": 3,
         "signature": "class User:"},
        {"name": "save", "kind": "method", "qualified_name": "User.save", "line": 2,
         "end_line": 3, "signature": "def save(self) -> None:"},
    ]
    excluded = {e["path"]: e["reason"] for e in data["excluded"]}
    assert excluded == {".env": "env file", "legacy/old.py": "ignored",
                        "app/settings.py": "secret: AWS Access Key line 3"}
    assert "build/gen.py" not in files and "app/settings.py" not in files
    assert data["tokens"]["used"] <= data["tokens"]["budget"] == 2048


def test_focus_puts_the_symbol_first(runner: CliRunner, project: Path) -> None:
    plain = json.loads(run(runner, str(project), "--json").stdout)
    focused = json.loads(run(runner, str(project), "--json", "--focus", "refund").stdout)
    assert plain["files"][0]["path"] != "app/payments.py"
    assert focused["files"][0]["path"] == "app/payments.py"
    text = run(runner, str(project), "-f", "refund", "--tokens", "30").stdout
    assert text.startswith("app/payments.py:")


def test_tokens_budget(runner: CliRunner, project: Path) -> None:
    for budget in ("10", "40", "400"):
        data = json.loads(run(runner, str(project), "--json", "--tokens", budget).stdout)
        assert data["tokens"]["used"] <= int(budget)
    assert run(runner, str(project), "--tokens", "0").exit_code == 2


def test_second_run_is_served_from_cache(runner: CliRunner, project: Path) -> None:
    first = json.loads(run(runner, str(project), "--json").stdout)
    second = json.loads(run(runner, str(project), "--json").stdout)
    assert first["stats"]["parsed"] > 0
    assert second["stats"]["parsed"] == 0
    assert second["files"] == first["files"]


def test_not_a_repository(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, str(tmp_path))
    assert result.exit_code == 1
    assert "not a git repository" in result.stderr and "git init" in result.stderr
