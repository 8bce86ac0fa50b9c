"""The bench's test, doc and look-alike tasks in `hybrid bench --mode all-local` through a fake
Ollama: the reference answers pass; a test file that asserts nothing fails every test task,
naming a surviving mutant; a doc answer that changes a line of code fails every doc task,
naming the line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from toolchains import need_bwrap
from typer.testing import CliRunner

from hybridcode.bench.judged import code_changed, vacuous_tests
from hybridcode.bench.suite import load_suite, task_spec
from hybridcode.cli.app import app
from hybridcode.testing import FakeAnthropic
from hybridcode.testing.fake_ollama import FakeOllama

SUITE = {t.id: t for t in load_suite()}
TESTS = sorted(t.id for t in SUITE.values() if t.kind == "test")
DOCS = sorted(t.id for t in SUITE.values() if t.kind == "doc")
LIKES = sorted(t.id for t in SUITE.values() if t.like)


def test_each_kind_has_at_least_two_tasks():
    assert len(TESTS) >= 2 and len(DOCS) >= 2 and len(LIKES) >= 2
    for task_id in TESTS + DOCS + LIKES:
        item = task_spec(SUITE[task_id]).items[0]
        assert item.kind == SUITE[task_id].kind and item.like == (SUITE[task_id].like or None)


def _reference(task_id: str) -> str:
    return SUITE[task_id].reference_path.read_text(encoding="utf-8")


def _bench(tmp_path: Path, answers: dict[str, str], tasks: list[str]) -> dict[str, dict]:
    def local(body: dict) -> str:
        text = json.dumps(body)
        task_id = re.search(r"# Item `([a-z0-9-]+)`", text).group(1)
        return f"```python\n{answers[task_id].strip()}\n```\n"

    project = tmp_path / "project"
    (project / ".hybrid").mkdir(parents=True)
    (project / ".hybrid" / "config.toml").write_text("attempts = 1\nparallel = 1\n")
    with FakeOllama() as ollama, FakeAnthropic() as anthropic:
        ollama.responder = local
        env: dict[str, str | None] = {
            name: None for name in os.environ
            if name.startswith(("HYBRID_", "ANTHROPIC_", "OLLAMA_", "OPENAI_"))}
        env.update({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": anthropic.base_url,
                    "OLLAMA_HOST": ollama.host, "HYBRID_USER_CONFIG": str(tmp_path / "u.toml"),
                    "NO_COLOR": "1"})
        args = ["bench", "--repo", str(project), "--json", "--mode", "all-local"]
        for task_id in tasks:
            args += ["--tasks", task_id]
        result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    return {r["task_id"]: r for r in report["modes"]["all-local"]["results"]}


def test_reference_answers_pass_every_routine_task(tmp_path):
    need_bwrap()
    tasks = TESTS + DOCS + LIKES
    results = _bench(tmp_path, {t: _reference(t) for t in tasks}, tasks)
    failed = {t: r.get("error") or r.get("hidden_output") for t, r in results.items()
              if not r["passed"]}
    assert failed == {}
    for task_id in TESTS:  # scored by the mutants the reference tests kill
        assert results[task_id]["hidden_total"] >= 5


def test_a_vacuous_test_file_fails_every_test_task_naming_survivors(tmp_path):
    need_bwrap()
    results = _bench(tmp_path, {t: vacuous_tests(SUITE[t]) for t in TESTS}, TESTS)
    for task_id in TESTS:
        result = results[task_id]
        assert not result["passed"] and not result["implemented"]
        symbol = SUITE[task_id].under_test.partition("::")[2]
        assert f"first survivor: `{symbol}`, line " in result["error"], result["error"]
        assert " made `" in result["error"]


def test_a_doc_answer_that_changes_code_fails_every_doc_task_naming_the_line(tmp_path):
    need_bwrap()
    results = _bench(tmp_path, {t: code_changed(_reference(t)) for t in DOCS}, DOCS)
    for task_id in DOCS:
        result = results[task_id]
        assert not result["passed"] and not result["implemented"]
        assert re.search(r"line \d+ changed: `", result["error"]), result["error"]
