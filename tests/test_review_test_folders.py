"""`hybrid review` runs a changed module's own tests wherever the project keeps them: a test file
named after the module, a folder of tests kept for it (``tests/test_<module>/``,
``tests/<module>/``, ``__tests__/<module>/``), jest's ``__tests__/<module>.js`` — and only
those: another module's failing tests stay out of the verdict. Real git repositories, the real
runners in the sandbox, the CLI as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from implement_helpers import git
from judge_projects import TS_TRIM_TESTS, make_ts_project
from toolchains import link_node_modules, need_node_runners
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.judge.detect import tests_for_changes as module_tests
from hybridcode.review.checks import select_tests
from hybridcode.vcs.diff import staged_diff

runner = CliRunner()

OPS = "def double(x: int) -> int:\n    return 2 * x\n"
FAILS = "def test_fails():\n    assert False, 'another module'\n"


def _commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def _python_repo(root: Path) -> Path:
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "ops.py").write_text(OPS)
    (root / "calc" / "other.py").write_text("X = 1\n")
    folder = root / "tests" / "test_ops"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "test_double.py").write_text(
        "from calc.ops import double\n\n\ndef test_double():\n    assert double(3) == 6\n")
    (root / "tests" / "test_other").mkdir()
    (root / "tests" / "test_other" / "test_x.py").write_text(FAILS)
    (root / ".gitignore").write_text(".hybrid/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    _commit(root, "calc")
    return root


def _review_staged(root: Path) -> dict:
    result = runner.invoke(app, ["review", "--staged", "--json", "--repo", str(root)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _tests_check(data: dict) -> dict:
    return next(c for c in data["checks"] if c["name"] == "tests")


def test_a_python_modules_test_folder_is_run_by_hybrid_review(tmp_path, claude):
    root = _python_repo(tmp_path / "repo")
    (root / "calc" / "ops.py").write_text(OPS.replace("2 * x", "3 * x"))
    git(root, "add", "-A")
    assert select_tests(root, staged_diff(root), None) == ["tests/test_ops/test_double.py"]
    data = _review_staged(root)
    tests = _tests_check(data)
    assert data["decision"] == "blocked" and not tests["ok"] and not tests["could_not_run"]
    assert tests["findings"][0]["file"] == "tests/test_ops/test_double.py"
    assert "test_double" in tests["findings"][0]["message"]
    assert "another module" not in json.dumps(tests)  # tests/test_other/ was not run
    assert claude.requests == []


def test_a_python_package_change_runs_its_folder_and_a_correct_change_passes(tmp_path, claude):
    root = _python_repo(tmp_path / "repo")
    (root / "tests" / "calc").mkdir()
    (root / "tests" / "calc" / "test_package.py").write_text(
        "import calc\n\n\ndef test_version():\n    assert calc.VERSION == '1'\n")
    _commit(root, "package tests")
    (root / "calc" / "__init__.py").write_text("VERSION = '1'\n")
    (root / "calc" / "ops.py").write_text(OPS.replace("2 * x", "x + x"))
    git(root, "add", "-A")
    assert select_tests(root, staged_diff(root), None) == [
        "tests/calc/test_package.py", "tests/test_ops/test_double.py"]
    claude.enqueue_json({"checklist": [], "findings": [], "grades": [],
                         "summary": "fine", "decision": "approve"})
    tests = _tests_check(_review_staged(root))
    assert tests["ok"] and tests["summary"].startswith("2 test file(s)"), tests


def test_a_typescript_modules_tests_folder_is_run_by_hybrid_review(tmp_path, claude):
    root = make_ts_project(tmp_path / "shop", need_node_runners())
    folder = root / "src" / "__tests__" / "text"
    folder.mkdir(parents=True)
    (folder / "trim.test.ts").write_text(TS_TRIM_TESTS.replace('"./text"', '"../../text"'))
    _commit(root, "tests")
    text = root / "src" / "text.ts"
    text.write_text(text.read_text().replace("s.trim()", "s"))
    git(root, "add", "-A")
    assert select_tests(root, staged_diff(root), None) == ["src/__tests__/text/trim.test.ts"]
    data = _review_staged(root)
    tests = _tests_check(data)
    assert data["decision"] == "blocked" and not tests["ok"], tests
    assert tests["findings"][0]["file"] == "src/__tests__/text/trim.test.ts"
    assert "trim removes surrounding spaces: failed" in tests["findings"][0]["message"]
    assert claude.requests == []


def test_jests_tests_folder_is_run_by_hybrid_review(tmp_path, claude):
    root = tmp_path / "web"
    (root / "src" / "__tests__").mkdir(parents=True)
    (root / "package.json").write_text('{"name": "web", "private": true, "scripts": {"test": '
                                       '"jest"}, "devDependencies": {"jest": "29.7.0"}}\n')
    (root / "src" / "text.js").write_text("exports.trim = (s) => s.trim();\n")
    (root / "src" / "__tests__" / "text.js").write_text(
        'const { trim } = require("../text");\n\n'
        'test("trim removes surrounding spaces", () => {\n'
        '  expect(trim("  a b  ")).toBe("a b");\n});\n')
    (root / "src" / "__tests__" / "other.js").write_text(
        'test("other", () => { throw new Error("another module"); });\n')
    link_node_modules(root, need_node_runners())
    (root / ".gitignore").write_text(".hybrid/\nnode_modules\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    _commit(root, "web")
    (root / "src" / "text.js").write_text("exports.trim = (s) => s;\n")
    git(root, "add", "-A")
    assert select_tests(root, staged_diff(root), None) == ["src/__tests__/text.js"]
    data = _review_staged(root)
    tests = _tests_check(data)
    assert data["decision"] == "blocked" and not tests["ok"], tests
    assert tests["findings"][0]["file"] == "src/__tests__/text.js"
    assert "trim removes surrounding spaces" in tests["findings"][0]["message"]
    assert "another module" not in json.dumps(tests)


def test_where_each_languages_module_tests_are_found():
    visible = [
        "pkg/ops.py", "tests/test_ops.py", "tests/test_ops/test_a.py", "tests/ops/test_b.py",
        "tests/test_ops/helpers.py", "tests/test_other/test_c.py", "pkg/ops_test.py",
        "pkg/server/__init__.py", "tests/test_server.py",
        "src/text.ts", "src/text.test.ts", "test/text/a.spec.ts", "src/__tests__/text/b.test.ts",
        "src/__tests__/text.ts", "src/__tests__/other.test.ts", "src/ui/index.ts",
        "src/ui/__tests__/ui.test.tsx",
        "cmd/run.go", "cmd/run_test.go", "cmd/sub/sub_test.go",
    ]
    assert module_tests(["pkg/ops.py"], visible) == [
        "tests/test_ops.py", "tests/test_ops/test_a.py", "tests/ops/test_b.py", "pkg/ops_test.py"]
    assert module_tests(["pkg/server/__init__.py"], visible) == ["tests/test_server.py"]
    # Without the repository (to ask which runner the package uses) only .test./.spec. names.
    assert module_tests(["src/text.ts"], visible) == [
        "src/text.test.ts", "test/text/a.spec.ts", "src/__tests__/text/b.test.ts"]
    assert module_tests(["src/ui/index.ts"], visible) == ["src/ui/__tests__/ui.test.tsx"]
    assert module_tests(["cmd/run.go"], visible) == ["cmd/run_test.go"]
