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
