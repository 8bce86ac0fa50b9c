"""An environment that cannot run the tests is not the model's failure: ``hybrid implement``
stops the item with "could not run", the cause and the fix — no second attempt, no paid rung,
nothing counted against the rung or the kind — and a resume judges the same answer again once
the environment is fixed. Files the build generates and git ignores (a hatch-vcs version file)
are put into the worktree as the project's own install would."""

from __future__ import annotations

import json

import pytest
from implement_helpers import (
    Script,
    add_item,
    attempts_of,
    calls_per_item,
    code,
    env_for,
    git,
    make_project,
    write_plan,
)
from toolchains import need_bwrap
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.ledger import Ledger
from hybridcode.ledger.history import kind_history
from hybridcode.testing import FakeAnthropic, FakeOllama

HATCH_PYPROJECT = '''[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "calc"
dynamic = ["version"]

[tool.hatch.version]
source = "vcs"

[tool.hatch.build.hooks.vcs]
version-file = "calc/_version.py"
'''


@pytest.fixture(autouse=True)
def _sandbox():
    need_bwrap()


@pytest.fixture
def fakes(monkeypatch):
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        for name, value in env_for(ollama, claude).items():
            monkeypatch.setenv(name, value)
        yield ollama, claude


def _versioned_project(tmp_path, *, declared: bool):
    """The sample package, whose ``__init__`` imports a version file git ignores (as hatch-vcs
    and setuptools-scm projects do); ``declared``: pyproject.toml names it as hatch-vcs does."""
    root = make_project(tmp_path / "repo")
    (root / "calc" / "__init__.py").write_text("from ._version import version as __version__\n")
    (root / ".gitignore").write_text(".hybrid/\ncalc/_version.py\n")
    if declared:
        (root / "pyproject.toml").write_text(HATCH_PYPROJECT)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "version from the build")
    git(root, "tag", "v1.2.0")
    return root


def _implement(root, monkeypatch, *args):
    monkeypatch.chdir(root)
    return CliRunner().invoke(app, ["implement", "p1", *args], catch_exceptions=False)


def _claude_calls(root) -> int:
    with Ledger.open(root) as ledger:
        return ledger.query("SELECT COUNT(*) FROM calls WHERE is_local = 0")[0][0]


def test_a_hatch_vcs_version_file_is_generated_and_a_correct_answer_passes_first_time(
        tmp_path, fakes, monkeypatch):
    root = _versioned_project(tmp_path, declared=True)
    write_plan(root, [add_item()])
    fakes[0].responder = Script({"add": [code("add", "a + b")]})
    result = _implement(root, monkeypatch, "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert data["passed"] == 1 and data["items"][0]["attempts"] == 1
    version = (root / ".hybrid/worktrees/p1/calc/_version.py").read_text()
    assert "__version__ = version = '1.2.0'" in version
    assert any("calc/_version.py" in m and "template" in m for m in data["messages"])
    assert not (root / "calc/_version.py").exists()  # the user's tree is untouched
    assert git(root / ".hybrid/worktrees/p1", "status", "--porcelain", "--", "calc/_version.py"
               ) == ""  # ignored: never part of the reviewed diff


def test_an_unimportable_package_stops_with_could_not_run_and_no_claude_call(
        tmp_path, fakes, monkeypatch):
    root = _versioned_project(tmp_path, declared=False)  # nothing says how to make it
    sub = add_item("sub", route="claude")  # would start on the paid rung
    write_plan(root, [add_item(), sub])
    local = Script({"add": [code("add", "a + b")]})
    cloud = Script({"sub": [code("add", "a + b")]})
    fakes[0].responder, fakes[1].responder = local, cloud
    result = _implement(root, monkeypatch, "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "could_not_run" and data["could_not_run"] == 2
    first = next(i for i in data["items"] if i["item_id"] == "add")
    assert first["state"] == "could_not_run" and first["attempts"] == 1
    assert first["error"].startswith("could not run: ")
    assert "No module named 'calc._version'" in first["error"]
    assert "calc/_version.py" in first["error"] and "pip install -e ." in first["error"]
    other = next(i for i in data["items"] if i["item_id"] == "sub")
    assert other["state"] == "could_not_run" and "found while judging add" in other["error"]
    assert local.count("add") == 1 and cloud.count("sub") == 0
    assert _claude_calls(root) == 0 and calls_per_item(root) == {"add": 1}
    assert [a["outcome"] for a in attempts_of(root, "add")] == ["could_not_run"]
    assert not any("switched off" in m or "escalat" in m for m in data["messages"])
    with Ledger.open(root) as ledger:
        assert all(s.local_uses == 0 for s in kind_history(ledger).values())

    text = _implement(root, monkeypatch, "--resume")
    assert text.exit_code == 1
    assert "could not run add: " in " ".join(text.stdout.split())
    assert "--resume" in text.stdout

    # The fix the message gave: install the project, which writes the version file.
    (root / "calc/_version.py").write_text("version = '1.2.0'\n")
    done = _implement(root, monkeypatch, "--resume", "--json")
    assert done.exit_code == 0, done.output
    assert local.count("add") == 1  # judged again without a new call
    assert cloud.count("sub") == 1 and json.loads(done.stdout)["passed"] == 2


def test_an_answer_importing_a_missing_library_is_the_models_failure(
        tmp_path, fakes, monkeypatch):
    root = make_project(tmp_path / "repo")
    write_plan(root, [add_item()])
    wrong = "```python\nimport no_such_library_here\n\n\ndef add(a: int, b: int) -> int:\n" \
            "    return a + b\n```\n"
    local = Script({"add": [wrong, code("add", "a + b")]})
    fakes[0].responder = local
    result = _implement(root, monkeypatch, "--json")
    assert result.exit_code == 0, result.output
    assert [a["outcome"] for a in attempts_of(root, "add")] == ["test_failed", "passed"]
    assert "no_such_library_here" in local.seen["add"][1]


def test_ollama_going_down_mid_run_says_cannot_reach_not_switched_off(tmp_path, monkeypatch):
    import threading

    from implement_helpers import fn_item, arith_tests

    root = make_project(tmp_path / "repo")
    sub = fn_item("sub", "sub", arith_tests("calc.sub", "sub", [(3, 1, 2)]),
                  depends_on=["add"])
    write_plan(root, [add_item(), sub])
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        for name, value in env_for(ollama, claude).items():
            monkeypatch.setenv(name, value)
        answers = Script({"add": [code("add", "a + b")], "sub": [code("sub", "a - b")]})

        def then_stop(body):
            text = answers(body)
            threading.Timer(0.05, ollama.close).start()  # the server dies after answering
            return text

        ollama.responder = then_stop
        claude.responder = Script({"sub": [code("sub", "a - b")]})
        result = _implement(root, monkeypatch, "--json")
        data = json.loads(result.stdout)
        assert result.exit_code == 1, result.output
        assert data["passed"] == 1 and data["status"] == "interrupted"
        said = " ".join(data["messages"])
        assert "cannot reach Ollama at" in said and "--resume" in said
        assert "switched off" not in said and "escalat" not in said
        assert _claude_calls(root) == 0

        allowed = _implement(root, monkeypatch, "--resume", "--json", "--allow-missing-local")
        data = json.loads(allowed.stdout)
        assert allowed.exit_code == 0, allowed.output
        sub_row = next(i for i in data["items"] if i["item_id"] == "sub")
        assert "cannot reach Ollama at" in (sub_row["escalation"] or "") or any(
            "not ready" in m and "cannot reach Ollama" in m for m in data["messages"])
        assert not any("failed 3 times" in m for m in data["messages"])


def test_go_with_an_empty_module_cache_stops_with_go_mod_download_in_the_repository(
        tmp_path, fakes, monkeypatch):
    from judge_projects import GO_RIGHT, go_item, make_go_project
    from toolchains import need_go

    need_go()
    cache = tmp_path / "empty-module-cache"
    cache.mkdir()
    monkeypatch.setenv("GOMODCACHE", str(cache))
    root = make_go_project(tmp_path / "shop")
    (root / "go.mod").write_text("module example.com/shop\n\ngo 1.19\n\n"
                                 "require example.invalid/dep v1.0.0\n")
    (root / "textutil" / "dep.go").write_text(
        'package textutil\n\nimport dep "example.invalid/dep"\n\nvar version = dep.V\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "use a module nobody downloaded here")
    write_plan(root, [go_item()])
    local = Script({"slug": [GO_RIGHT]})
    fakes[0].responder = local
    result = _implement(root, monkeypatch, "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["status"] == "could_not_run", result.output
    error = data["items"][0]["error"]
    assert error.startswith("could not run: go vet ./textutil needs modules that are not in "
                            "the Go module cache")
    assert error.endswith("run `go mod download` in the repository")
    assert ".hybrid" not in error and local.count("slug") == 1 and _claude_calls(root) == 0
