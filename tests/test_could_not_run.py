""""Could not run": tests that cannot start are the environment's result, with the cause and the
fix — never a failed test, never the code's fault unless the code is what broke the load."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hybridcode.judge import JudgeConfig, run_tests
from toolchains import need_bwrap, unavailable


@pytest.fixture(autouse=True)
def _sandbox():
    need_bwrap()


def _repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_a_generated_file_missing_is_could_not_run_with_the_fix(tmp_path):
    repo = _repo(tmp_path / "lib", {
        ".gitignore": "src/pkg/_version.py\n",
        "src/pkg/__init__.py": "from ._version import version\n",
        "tests/test_a.py": "import pkg\n\ndef test_version():\n    assert pkg.version\n"})
    run = run_tests(repo, ["tests/test_a.py"], JudgeConfig())
    assert run.status == "could_not_run"
    assert "No module named 'pkg._version'" in run.summary
    assert run.culprit == "src/pkg/__init__.py"
    assert "src/pkg/_version.py" in run.fix and "pip install -e ." in run.fix
    assert run.blames_environment({"src/pkg/other.py"})
    assert run.cause().startswith("could not run: ") and run.fix in run.cause()


def test_code_that_imports_what_is_not_installed_is_blamed_on_the_code(tmp_path):
    repo = _repo(tmp_path / "lib", {
        "pkg/__init__.py": "",
        "pkg/mod.py": "import no_such_library_here\n",
        "tests/test_a.py": "from pkg import mod\n\ndef test_a():\n    assert mod\n"})
    run = run_tests(repo, ["tests/test_a.py"], JudgeConfig())
    assert run.status == "could_not_run" and run.culprit == "pkg/mod.py"
    assert not run.blames_environment({"pkg/mod.py"})
    assert run.blames_environment({"pkg/other.py"})


def test_a_missing_test_dependency_in_conftest_could_not_run(tmp_path):
    repo = _repo(tmp_path / "lib", {
        "conftest.py": "import hypothesis_not_installed_here\n",
        "tests/test_a.py": "def test_a():\n    assert True\n"})
    run = run_tests(repo, ["tests/test_a.py"], JudgeConfig())
    assert run.status == "could_not_run"
    assert "hypothesis_not_installed_here" in run.summary
    assert "test dependencies" in run.fix and run.blames_environment({"tests/test_a.py"})
    assert "ended it" not in run.summary


GO_MOD = "module example.com/shop\n\ngo 1.19\n\nrequire example.invalid/dep v1.0.0\n"


def _go_repo(tmp_path: Path, imported: str) -> Path:
    if shutil.which("go") is None:
        unavailable("go is not installed")
    return _repo(tmp_path / "shop", {
        "go.mod": GO_MOD,
        "util/u.go": f'package util\n\nimport dep "{imported}"\n\nfunc V() string {{ return '
                     'dep.V }\n',
        "util/u_test.go": 'package util\n\nimport "testing"\n\nfunc TestV(t *testing.T) {\n'
                          '\tif V() == "" {\n\t\tt.Fatal("empty")\n\t}\n}\n'})


def test_go_with_an_empty_module_cache_could_not_run_go_mod_download(tmp_path, monkeypatch):
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-cache"))
    (tmp_path / "empty-cache").mkdir()
    repo = _go_repo(tmp_path, "example.invalid/dep")
    run = run_tests(repo, ["util/u_test.go"], JudgeConfig())
    assert run.status == "could_not_run", run.summary
    assert "module cache" in run.summary
    assert run.fix == "run `go mod download` in the repository"
    assert repo.name not in run.fix


def test_go_code_importing_a_module_go_mod_lacks_is_the_codes_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-cache"))
    (tmp_path / "empty-cache").mkdir()
    repo = _go_repo(tmp_path, "example.invalid/other")
    run = run_tests(repo, ["util/u_test.go"], JudgeConfig())
    assert run.status == "failed"
    assert "example.invalid/other, which no module in go.mod provides" in run.summary


# ---------------------------------------------------------------------- review and CI (CLI)

def _cli(*args: str):
    from typer.testing import CliRunner

    from hybridcode.cli.app import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _generated_go_commit(repo: Path) -> None:
    """On ``repo`` (one commit): a Go module needing a module nobody downloaded, then a
    generated commit (Hybrid-Plan trailer) that changes its code."""
    from conftest import git

    for name, text in {"go.mod": GO_MOD,
                       "util/u.go": 'package util\n\nimport dep "example.invalid/dep"\n\n'
                                    'func V() string { return dep.V }\n',
                       "util/u_test.go": 'package util\n\nimport "testing"\n\nfunc TestV(t '
                                         '*testing.T) {\n\tif V() == "" {\n\t\tt.Fatal("e")\n'
                                         '\t}\n}\n'}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "module")
    (repo / "util/u.go").write_text('package util\n\nimport dep "example.invalid/dep"\n\n'
                                    'func V() string { return dep.V + "!" }\n')
    git(repo, "commit", "-q", "-am", "louder V\n\nHybrid-Plan: 260101-louder")


def test_ci_over_a_go_module_with_an_empty_cache_says_could_not_run_everywhere(
        repo, tmp_path, monkeypatch):
    import json
    import xml.etree.ElementTree as ET

    import jsonschema
    from gate_helpers import sarif_schema

    from hybridcode.review.service import EXIT_COULD_NOT_RUN

    if shutil.which("go") is None:
        unavailable("go is not installed")
    (tmp_path / "empty-cache").mkdir()
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(repo)
    _generated_go_commit(repo)
    wanted = "run `go mod download` in the repository"
    outputs = {}
    for fmt in ("text", "json", "markdown", "sarif", "github", "junit"):
        result = _cli("review", "--ci", "--base", "HEAD~1", "--head", "HEAD", "--format", fmt,
                      "--cache", str(tmp_path / "verdicts"))
        assert result.exit_code == EXIT_COULD_NOT_RUN == 3, (fmt, result.output)
        text = " ".join(result.output.split())  # the terminal table folds long cells
        assert "could not run" in text and "go mod download" in text, (fmt, result.output)
        outputs[fmt] = result.output
    commit = json.loads(outputs["json"])["commits"][0]
    assert commit["status"] == "could-not-run" and json.loads(outputs["json"])["exit_code"] == 3
    assert commit["review"]["could_not_run"]["fix"] == wanted
    assert commit["review"]["reviewer_calls"] == 0  # no paid call that cannot help
    sarif = json.loads(outputs["sarif"])
    jsonschema.validate(sarif, sarif_schema())
    [found] = sarif["runs"][0]["results"]
    assert found["ruleId"] == "check/could-not-run" and found["message"]["text"].startswith(
        "could not run: ") and wanted in found["message"]["text"]
    assert "title=could not run::could not run: " in outputs["github"]
    suites = ET.fromstring(outputs["junit"])
    assert suites.get("errors") == "1" and suites.get("failures") == "0"
    assert wanted in suites.find(".//error").get("message")
    assert "⚠️ could not run" in outputs["markdown"]


def test_review_of_a_range_whose_test_dependency_is_missing_could_not_run(repo, monkeypatch):
    from conftest import git

    monkeypatch.chdir(repo)
    (repo / "pkg").mkdir()
    (repo / "pkg/__init__.py").write_text("")
    (repo / "pkg/calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "tests").mkdir()
    (repo / "tests/conftest.py").write_text("import hypothesis_not_installed_here\n")
    (repo / "tests/test_calc.py").write_text("from pkg.calc import add\n\n\ndef test_add():\n"
                                             "    assert add(1, 2) == 3\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc")
    (repo / "pkg/calc.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-q", "-am", "swap")
    result = _cli("review", "--base", "HEAD~1", "--format", "json")
    assert result.exit_code == 3, result.output
    import json

    data = json.loads(result.output)
    assert data["decision"] == "blocked" and data["reviewer_calls"] == 0
    cause = data["could_not_run"]["cause"]
    assert cause.startswith("could not run: ") and "hypothesis_not_installed_here" in cause
    assert "ended it" not in cause and "test dependencies" in data["could_not_run"]["fix"]
    text = _cli("review", "--base", "HEAD~1")
    assert text.exit_code == 3 and "COULD NOT RUN" in text.output


def test_a_test_importing_a_name_the_module_lacks_blames_the_module(tmp_path):
    repo = _repo(tmp_path / "lib", {
        "pkg/__init__.py": "",
        "pkg/calc.py": "def add_numbers(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from pkg.calc import add\n\ndef test_add():\n"
                              "    assert add(1, 2) == 3\n"})
    run = run_tests(repo, ["tests/test_calc.py"], JudgeConfig())
    assert run.status == "could_not_run" and run.culprit == "pkg/calc.py"
    assert not run.blames_environment({"pkg/calc.py"})


def test_ci_checkout_of_a_commit_gets_the_version_file_the_job_installed(repo, claude,
                                                                        monkeypatch):
    """A hatch-vcs-style package: the job installed it (its checkout has the ignored
    _version.py); the commit's temporary checkout gets it too, so its tests run."""
    import json

    from conftest import git
    from review_helpers import verdict

    monkeypatch.chdir(repo)
    (repo / "src/vpkg").mkdir(parents=True)
    (repo / "src/vpkg/__init__.py").write_text("from ._version import version\n")
    (repo / "src/vpkg/calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / ".gitignore").write_text("src/vpkg/_version.py\n")
    (repo / "pyproject.toml").write_text(
        '[tool.hatch.build.hooks.vcs]\nversion-file = "src/vpkg/_version.py"\n')
    (repo / "tests").mkdir()
    (repo / "tests/test_calc.py").write_text(
        "import vpkg\nfrom vpkg.calc import add\n\n\ndef test_add():\n"
        "    assert add(1, 2) == 3 and vpkg.version == '9.9.9'\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "vpkg")
    (repo / "src/vpkg/_version.py").write_text("version = '9.9.9'\n")  # the job's install
    (repo / "src/vpkg/calc.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-q", "-am", "swap\n\nHybrid-Plan: 260101-swap")
    claude.enqueue_json(verdict())
    result = _cli("review", "--ci", "--base", "HEAD~1", "--format", "json", "--cache",
                  str(repo.parent / "verdicts"))
    data = json.loads(result.output)
    tests = {c["name"]: c for c in data["commits"][0]["review"]["checks"]}["tests"]
    assert tests["ok"] and not tests["could_not_run"], tests
    assert result.exit_code == 0, result.output


def test_mocha_and_ava_tests_are_named_as_not_run_by_hybrid(repo, claude, monkeypatch):
    import json

    from conftest import git
    from review_helpers import verdict

    monkeypatch.chdir(repo)
    for folder, runner in (("api", "mocha"), ("cli", "ava")):
        (repo / folder / "lib").mkdir(parents=True)
        (repo / folder / "test").mkdir()
        (repo / folder / "package.json").write_text(
            json.dumps({"scripts": {"test": runner}, "devDependencies": {runner: "10"}}))
        (repo / folder / "lib/sum.js").write_text("module.exports = (a, b) => a + b;\n")
        (repo / folder / "test/sum.js").write_text("// the project's own tests\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two packages")
    for folder in ("api", "cli"):
        (repo / folder / "lib/sum.js").write_text("module.exports = (a, b) => b + a;\n")
    git(repo, "commit", "-q", "-am", "swap")
    claude.enqueue_json(verdict())
    result = _cli("review", "--base", "HEAD~1", "--format", "json")
    tests = {c["name"]: c for c in json.loads(result.output)["checks"]}["tests"]
    assert tests["skipped"] and not tests["could_not_run"]
    assert tests["summary"].startswith("not run by hybrid: 2 ava/mocha test file(s)")
    assert "api/test/sum.js" in tests["summary"] and "cli/test/sum.js" in tests["summary"]
