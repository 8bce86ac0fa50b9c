from __future__ import annotations

import json
import subprocess

from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.config import load_settings

runner = CliRunner()


def test_init_writes_valid_config_and_gitignore(repo):
    result = runner.invoke(app, ["init", str(repo)])
    assert result.exit_code == 0, result.output
    config = repo / ".hybrid" / "config.toml"
    assert config.is_file()
    assert load_settings(repo, environ={}).tiers.planner.model == "claude-sonnet-5-5"
    ignore = (repo / ".gitignore").read_text()
    assert ".hybrid/*" in ignore and "!.hybrid/config.toml" in ignore
    # the config stays committable, runtime state does not
    (repo / ".hybrid" / "ledger.db").write_text("x")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=repo, capture_output=True, text=True).stdout
    assert ".hybrid/config.toml" in status and "ledger.db" not in status


def test_init_is_idempotent_and_keeps_user_edits(repo):
    (repo / ".gitignore").write_text("node_modules/")  # no trailing newline
    runner.invoke(app, ["init", str(repo)])
    config = repo / ".hybrid" / "config.toml"
    config.write_text("parallel = 4\n" + config.read_text())
    result = runner.invoke(app, ["init", str(repo), "--json"])
    data = json.loads(result.output)
    assert data["config_written"] is False and data["gitignore_added"] == []
    assert "parallel = 4" in config.read_text()
    lines = (repo / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/"
    assert lines.count(".hybrid/*") == 1
