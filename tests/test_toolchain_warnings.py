"""Plan-time toolchain warnings: `hybrid plan` and `hybrid doctor` say, before `implement`
runs, when the Go module cache lacks the module's dependencies or the JavaScript/TypeScript
runner cannot run on this node — with the command to fix it, in the repository (never the
plan's worktree folder)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from judge_projects import go_item, make_go_project
from test_judge_plan import planner_answer
from toolchains import need_go, unavailable
from typer.testing import CliRunner

from hybridcode.cli.app import app

runner = CliRunner()
REQUIRING = "module example.com/shop\n\ngo 1.19\n\nrequire example.invalid/dep v1.0.0\n"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "empty-module-cache"
    cache.mkdir()
    monkeypatch.setenv("GOMODCACHE", str(cache))
    return cache


def _requiring_project(root: Path) -> Path:
    from implement_helpers import git

    make_go_project(root)
    (root / "go.mod").write_text(REQUIRING)
    git(root, "commit", "-qam", "require a module")
    return root


def test_doctor_says_the_go_module_cache_lacks_the_dependencies(tmp_path, empty_cache,
                                                                 monkeypatch):
    need_go()
    root = _requiring_project(tmp_path / "shop")
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["doctor", "--json"])
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["Go module cache"]
    assert not check["ok"] and "example.invalid/dep" in check["detail"]
    assert check["hint"].startswith(f"run `go mod download` in {root.resolve()}")
    assert ".hybrid" not in check["hint"]


def test_doctor_is_quiet_when_the_module_needs_nothing_from_the_cache(tmp_path, empty_cache,
                                                                      monkeypatch):
    need_go()
    root = make_go_project(tmp_path / "shop")  # no require: nothing to download
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["doctor", "--json"])
    names = {c["name"] for c in json.loads(result.stdout)["checks"]}
    assert "Go toolchain" in names and "Go module cache" not in names


def test_plan_warns_before_implement_that_go_tests_cannot_start(tmp_path, claude, empty_cache):
    need_go()
    root = _requiring_project(tmp_path / "shop")
    claude.enqueue_json(planner_answer(go_item()))
    result = runner.invoke(app, ["plan", "Add a slug function", "--repo", str(root), "--json"])
    assert result.exit_code == 0, result.output
    [warning] = json.loads(result.stdout)["toolchain_warnings"]
    assert warning.startswith("Go module cache: ") and "go mod download" in warning
    assert str(root.resolve()) in warning and "worktrees" not in warning
    claude.enqueue_json(planner_answer(go_item()))
    text = runner.invoke(app, ["plan", "Add a slug function", "--repo", str(root)])
    assert "warning Go module cache:" in " ".join(text.stdout.split())


def test_doctor_says_when_the_runner_cannot_run_on_this_node(tmp_path, monkeypatch):
    from implement_helpers import git

    if shutil.which("node") is None:
        unavailable("node is not installed")
    root = tmp_path / "web"
    package = root / "node_modules" / "vitest"
    package.mkdir(parents=True)
    (root / "package.json").write_text('{"devDependencies": {"vitest": "99.0.0"}}')
    (root / "sum.test.ts").write_text("export {};\n")
    (root / ".gitignore").write_text("node_modules/\n")
    (package / "package.json").write_text('{"name": "vitest", "engines": {"node": ">=99"}}')
    (package / "vitest.mjs").write_text(
        'console.error("vitest 99 requires node >=99"); process.exit(1);\n')
    (root / "node_modules" / ".bin").mkdir()
    os.symlink("../vitest/vitest.mjs", root / "node_modules" / ".bin" / "vitest")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "web")
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["doctor", "--json"])
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["TypeScript tests"]
    assert not check["ok"]
    assert "vitest does not run on node" in check["detail"] and ">=99" in check["detail"]
    assert "requires node >=99" in check["detail"]


def test_doctor_ci_says_up_front_what_the_judge_lacks_and_fails(tmp_path, empty_cache,
                                                                monkeypatch):
    need_go()
    root = _requiring_project(tmp_path / "shop")
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["doctor", "--ci", "--json"])
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["Go module cache"]["required"] and not checks["Go module cache"]["ok"]
    assert "Ollama server" not in checks and "GPU" not in checks  # not what CI needs
    assert checks["Anthropic API key"]["required"] is False


def _python_repo(root: Path, init: str) -> Path:
    from implement_helpers import git

    (root / "src" / "vpkg").mkdir(parents=True)
    (root / "src" / "vpkg" / "__init__.py").write_text(init)
    (root / ".gitignore").write_text("src/vpkg/_version.py\n")
    (root / "pyproject.toml").write_text(
        '[tool.hatch.build.hooks.vcs]\nversion-file = "src/vpkg/_version.py"\n')
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "vpkg")
    return root


def test_doctor_says_a_fresh_checkout_cannot_import_the_package(tmp_path, monkeypatch):
    from toolchains import need_bwrap

    need_bwrap()
    good = _python_repo(tmp_path / "good", "from ._version import version\n")
    monkeypatch.chdir(good)
    checks = {c["name"]: c for c in json.loads(
        runner.invoke(app, ["doctor", "--ci", "--json"]).stdout)["checks"]}
    probe = checks["Python worktree import"]
    assert probe["ok"] and "src/vpkg/_version.py generated as the build would" in probe["detail"]
    bad = _python_repo(tmp_path / "bad", "from ._version import version\n"
                                         "import vpkg_dependency_not_installed\n")
    monkeypatch.chdir(bad)
    result = runner.invoke(app, ["doctor", "--ci", "--json"])
    probe = {c["name"]: c for c in json.loads(result.stdout)["checks"]}[
        "Python worktree import"]
    assert result.exit_code == 1 and not probe["ok"]
    assert "vpkg_dependency_not_installed" in probe["detail"] and "pip install -e ." in \
        probe["hint"]
    from implement_helpers import git

    assert git(bad, "worktree", "list").count("\n") == 1  # the probe's checkout is gone
