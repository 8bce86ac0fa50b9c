"""``hybrid bench import-polyglot`` and ``hybrid bench --protocol aider`` through the CLI.

The checkout is ``tests/data/polyglot``: three exercises written for these tests in the layout of
Aider's polyglot benchmark (a unittest class not named Test*, Go subtests with a read-only cases
file, a jest suite in ES modules with ``xtest``). The local model is the wire-level fake Ollama;
the tests run through the judge with the real pytest, go and jest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.testing.fake_ollama import FakeOllama
from tests.toolchains import need_go, need_node_runners

CHECKOUT = Path(__file__).parent / "data" / "polyglot"
TASKS = {"python-leap-years": "leap_years.py", "go-run-length": "run_length.go",
         "javascript-word-count": "word-count.js"}


def _checkout(tmp_path: Path) -> Path:
    """The exercises as a git checkout (the importer records its commit)."""
    root = tmp_path / "polyglot-benchmark"
    shutil.copytree(CHECKOUT, root)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q", "-m",
                  "exercises"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def _invoke(args: list[str], env: dict[str, str | None] | None = None):
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """The imported and self-checked suite, with the JavaScript runners a user would install
    with `npm install` in it."""
    need_go()
    modules = need_node_runners()
    tmp = tmp_path_factory.mktemp("polyglot")
    out = tmp / "suite"
    result = _invoke(["bench", "import-polyglot", str(_checkout(tmp)), "--out", str(out),
                      "--no-check", "--json"])
    assert result.exit_code == 0, result.output
    (out / "node_modules").symlink_to(modules, target_is_directory=True)
    from hybridcode.bench.protocols import check_suite_file

    check_suite_file(out)
    return out


def test_import_writes_one_task_per_exercise(tmp_path):
    checkout = _checkout(tmp_path)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, text=True,
                            capture_output=True, check=True).stdout.strip()
    out = tmp_path / "suite"
    result = _invoke(["bench", "import-polyglot", str(checkout), "--out", str(out),
                      "--no-check", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["imported"] == {"python": 1, "go": 1, "javascript": 1}
    assert summary["commit"] == commit and summary["skipped"] == []
    assert "jest" in summary["node_packages"]
    assert not any("eslint" in name for name in summary["node_packages"])

    go = out / "go-run-length"
    assert sorted(p.name for p in (go / "files").iterdir()) == ["go.mod", "run_length.go"]
    assert sorted(p.name for p in (go / "hidden").iterdir()) == ["cases_test.go",
                                                                 "run_length_test.go"]
    assert (go / "reference.go").read_text() == (
        CHECKOUT / "go/exercises/practice/run-length/.meta/example.go").read_text()
    task = (go / "task.toml").read_text()
    assert 'kind = "module"' in task and 'action = "modify"' in task
    assert f'commit = "{commit}"' in task and 'file = "run_length.go"' in task

    js = out / "javascript-word-count"
    spec = (js / "hidden" / "word-count.spec.js").read_text()
    assert "xtest(" not in spec and "test.skip(" not in spec
    assert spec.count("test(") == 5
    assert "4 test(s) marked for students to enable" in (js / "task.toml").read_text()
    assert not (js / "files" / ".eslintrc").exists()
    assert (js / "files" / "babel.config.js").is_file()

    python = (out / "python-leap-years" / "task.toml").read_text()
    # Instructions, then the track's append, as Aider's harness joins them.
    assert python.index("Gregorian") < python.index("year must be positive")
    assert "MIT" in (out / "LICENSE-NOTICE.md").read_text()


def test_import_refuses_what_it_cannot_do(tmp_path):
    result = _invoke(["bench", "import-polyglot", str(tmp_path), "--out",
                      str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "not a checkout of the polyglot benchmark" in result.output
    result = _invoke(["bench", "import-polyglot", str(CHECKOUT), "--out", str(tmp_path / "s"),
                      "--languages", "rust"])
    assert result.exit_code == 2 and "C++, Java and Rust" in result.output
    full = tmp_path / "full"
    (full / "x").mkdir(parents=True)
    result = _invoke(["bench", "import-polyglot", str(CHECKOUT), "--out", str(full)])
    assert result.exit_code == 2 and "already has files" in result.output


def test_the_self_check_passes_references_and_fails_stubs(suite):
    record = json.loads((suite / "check.json").read_text())
    assert record["excluded"] == [], record
    assert record["languages"] == {lang: {"tasks": 1, "ok": 1, "excluded": 0}
                                   for lang in ("go", "javascript", "python")}


def test_a_stub_that_already_passes_is_listed_not_counted(suite, tmp_path):
    from hybridcode.bench.protocols import check_suite_file

    copy = tmp_path / "suite"
    shutil.copytree(suite / "python-leap-years", copy / "python-leap-years")
    stub = copy / "python-leap-years" / "files" / "leap_years.py"
    shutil.copyfile(copy / "python-leap-years" / "reference.py", stub)
    record = check_suite_file(copy)
    assert record["excluded"] == [{"task_id": "python-leap-years", "why": (
        "the stub already passes the tests (a refactoring exercise): nothing to measure")}]


# ------------------------------------------------------------------ --protocol aider

def _reference(suite: Path, task_id: str) -> str:
    return next((suite / task_id).glob("reference.*")).read_text()


def _stub(suite: Path, task_id: str) -> str:
    return (suite / task_id / "files" / TASKS[task_id]).read_text()


def _run(suite: Path, tmp_path: Path, answer) -> tuple[dict, list[str]]:
    prompts: list[str] = []

    def local(body: dict) -> str:
        text = "\n".join(m["content"] for m in body["messages"])
        prompts.append(text)
        task_id = next(t for t, name in TASKS.items() if f"supplied files: {name}" in text)
        return f"{TASKS[task_id]}\n```\n{answer(task_id, len(body['messages']))}```\n"

    with FakeOllama() as ollama:
        ollama.responder = local
        env: dict[str, str | None] = {name: None for name in os.environ
                                      if name.startswith(("HYBRID_", "ANTHROPIC_", "OLLAMA_"))}
        env.update({"OLLAMA_HOST": ollama.host, "HYBRID_USER_CONFIG": str(tmp_path / "u.toml"),
                    "NO_COLOR": "1"})
        result = _invoke(["bench", "--suite", str(suite), "--protocol", "aider", "--mode",
                          "all-local", "--repo", str(tmp_path), "--json"], env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), prompts


def test_the_reference_passes_every_exercise_on_the_first_try(suite, tmp_path):
    report, prompts = _run(suite, tmp_path, lambda task_id, n: _reference(suite, task_id))
    mode = report["modes"]["all-local"]
    assert mode["tallies"]["all"]["passed_try1"] == 3
    assert {lang: t["passed_try1"] for lang, t in mode["tallies"].items()} == {
        "go": 1, "javascript": 1, "python": 1, "all": 3}
    assert len(prompts) == 3  # no second try when the first passes
    assert report["protocol"] == "aider" and "3 exercises" in report["label"]
    assert any(row["model"] == "Qwen2.5-Coder-32B-Instruct" and row["edit_format"] == "whole"
               for row in report["leaderboard"])
    for text in prompts:  # the instructions and the stub; never the tests
        assert "Use the above instructions to modify the supplied files" in text
        assert "xtest" not in text and "TestEncode" not in text
        assert "LeapYearsTest" not in text
    go = next(r for r in mode["results"] if r["task_id"] == "go-run-length")
    # Every subtest of the table tests is counted (the cases come from the editor file).
    assert go["tests_passed"] == go["tests_total"] >= 2


def test_a_wrong_answer_fails_and_the_second_try_sees_the_test_output(suite, tmp_path):
    report, prompts = _run(suite, tmp_path, lambda task_id, n: _stub(suite, task_id))
    mode = report["modes"]["all-local"]
    assert mode["tallies"]["all"]["passed_try2"] == 0
    assert all(r["tries"] == [False, False] for r in mode["results"])
    assert len(prompts) == 6  # two tries each
    retries = [p for p in prompts if "See the testing errors above" in p]
    assert len(retries) == 3
    go_retry = next(p for p in retries if "run_length.go" in p)
    assert re.search(r"Please implement the (Encode|Decode) function|Encode|panic", go_retry)


def test_an_exercise_suite_needs_a_protocol(suite):
    result = _invoke(["bench", "--suite", str(suite), "--mode", "all-local"])
    assert result.exit_code == 2 and "--protocol aider" in result.output


def test_an_answer_without_code_gets_its_parse_error_and_a_second_try(suite, tmp_path):
    def answer(task_id: str, messages: int) -> str:
        return "" if messages == 1 else _reference(suite, task_id)

    report, prompts = _run(suite, tmp_path, answer)
    results = report["modes"]["all-local"]["results"]
    assert all(r["tries"] == [False, True] for r in results), results
    tally = report["modes"]["all-local"]["tallies"]["all"]
    assert (tally["passed_try1"], tally["passed_try2"]) == (0, 3)
    retries = [p for p in prompts if "See the testing errors above" in p]
    assert len(retries) == 3 and all("empty code block" in p for p in retries)


# ------------------------------------------------------------------ --protocol pipeline

LEAP_REFERENCE = (CHECKOUT / "python/exercises/practice/leap-years/.meta/example.py").read_text()
# Passes the plan's examples, fails the exercise's hidden test for year 0.
LEAP_BUGGY = ("def leap_year(year):\n"
              "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n")


def _leap_plan() -> dict:
    """The planner's answer: one local-sized item on the stub's function, shaped like every
    planner answer the suite's helpers build (so a new planner field reaches it too)."""
    from tests.plan_helpers import planner_answer

    answer = planner_answer()
    item = dict(answer["spec"]["items"][0])
    item.update({
        "id": "leap-year", "title": "Tell leap years from common years", "kind": "function",
        "category": "validation", "file": "leap_years.py", "symbol": "leap_year",
        "action": "modify", "signature": "def leap_year(year)",
        "description": "Gregorian rule: divisible by 4, except centuries unless divisible "
                       "by 400; ValueError('year must be positive') below 1.",
        "requirements": ["centuries are common unless divisible by 400"], "constraints": [],
        "examples": [{"input": "leap_year(1900)", "expected": "False"},
                     {"input": "leap_year(2000)", "expected": "True"}],
        "tests": {"code": "", "path": ""}, "risk": [],
    })
    answer["spec"]["items"] = [item]
    answer["spec"]["title"] = "Leap years"
    answer["architecture_note"] = "One function in leap_years.py."
    return answer


def test_pipeline_plans_implements_and_scores_and_the_second_try_gets_the_output(
        suite, tmp_path):
    from hybridcode.testing import FakeAnthropic

    local_prompts: list[str] = []

    def local(body: dict) -> str:
        text = "\n".join(m["content"] for m in body["messages"])
        local_prompts.append(text)
        code = LEAP_REFERENCE if "The exercise's own tests failed" in text else LEAP_BUGGY
        return f"```python\n{code}```\n"

    def claude(body: dict) -> str:
        assert "output_config" in body, "only the planner should reach Claude here"
        return json.dumps(_leap_plan())

    with FakeOllama() as ollama, FakeAnthropic() as anthropic:
        ollama.responder = local
        anthropic.responder = claude
        env: dict[str, str | None] = {name: None for name in os.environ
                                      if name.startswith(("HYBRID_", "ANTHROPIC_", "OLLAMA_"))}
        env.update({"OLLAMA_HOST": ollama.host, "ANTHROPIC_API_KEY": "sk-ant-test",
                    "ANTHROPIC_BASE_URL": anthropic.base_url,
                    "HYBRID_USER_CONFIG": str(tmp_path / "u.toml"), "NO_COLOR": "1"})
        result = _invoke(["bench", "--suite", str(suite), "--protocol", "pipeline", "--tasks",
                          "python-leap-years", "--repo", str(tmp_path), "--json"], env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    exercise = report["modes"]["hybrid"]["results"][0]
    assert exercise["tries"] == [False, True], exercise
    assert exercise["claude_usd"] > 0  # planning is paid for, and counted
    assert exercise["solved_locally"] is True and exercise["escalated"] is False
    tally = report["modes"]["hybrid"]["tallies"]["all"]
    assert (tally["passed_try1"], tally["passed_try2"], tally["solved_on_local_rung"]) == (1 - 1, 1, 1)
    # The second try saw the hidden tests' failure, never the tests themselves.
    retry = next(p for p in local_prompts if "The exercise's own tests failed" in p)
    assert "year must be positive" in retry or "test_year_zero_is_refused" in retry
    assert not any("class LeapYearsTest" in p for p in local_prompts)


def test_an_exercise_with_no_tests_to_run_is_listed_as_such(suite, tmp_path):
    from hybridcode.bench.protocols import check_suite_file

    copy = tmp_path / "suite"
    shutil.copytree(suite / "go-run-length", copy / "go-run-length")
    # go-counter's shape: the student writes the tests, the file holds none.
    (copy / "go-run-length" / "hidden" / "run_length_test.go").write_text(
        "package runlength\n\n// Define your tests here\n")
    record = check_suite_file(copy)
    assert record["excluded"][0]["why"].startswith("its tests declare no test to run")
