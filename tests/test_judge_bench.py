"""`hybrid bench` on the bundled Go and TypeScript tasks, end to end: the real engine through
FakeOllama, judged by go test / vitest, scored on the hidden tests. With the reference answers
every task passes; a wrong answer is implemented (its acceptance tests pass) yet scored as a
failure by the hidden tests — the case the hidden set exists for."""

from __future__ import annotations

import json
import re

import pytest
from toolchains import need_go, need_node_runners

from hybridcode.bench import load_suite
from hybridcode.bench.runner import run_bench
from hybridcode.config import load_settings
from hybridcode.testing import FakeOllama

NEW = ["go-chunk", "go-parse-kv", "go-slugify", "ts-chunk", "ts-parse-query", "ts-slugify"]
WRONG_CHUNK = '''export function chunk<T>(items: readonly T[], size: number): Batch<T>[] {
  if (size < 1) throw new RangeError("size must be a positive integer");
  const out: Batch<T>[] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
'''


@pytest.fixture
def tasks():
    return {t.id: t for t in load_suite(only=NEW)}


def _answering(tasks, answers):
    def respond(body):
        text = json.dumps(body)
        for task_id, task in tasks.items():
            if json.dumps(task.signature)[1:-1] in text:
                fence = "go" if task.language == "go" else "typescript"
                return f"```{fence}\n{answers[task_id].strip()}\n```\n"
        return "no task"
    return respond


def _run(tmp_path, monkeypatch, tasks, answers):
    modules = need_node_runners()
    need_go()
    monkeypatch.chdir(modules.parent)  # the bench finds vitest where it runs, as a user's would
    with FakeOllama() as ollama:
        ollama.responder = _answering(tasks, answers)
        settings = load_settings(tmp_path, environ={"OLLAMA_HOST": ollama.host},
                                 overrides={"attempts": 1})
        return run_bench(None, ["all-local"], settings, only=list(tasks))


def test_reference_answers_pass_every_hidden_test(tmp_path, monkeypatch, tasks):
    answers = {i: t.reference_path.read_text(encoding="utf-8") for i, t in tasks.items()}
    report = _run(tmp_path, monkeypatch, tasks, answers)
    results = {r.task_id: r for r in report.modes["all-local"].tasks}
    for task_id, result in results.items():
        print(f"{task_id}: passed={result.passed} hidden={result.hidden_passed}/"
              f"{result.hidden_total} wall={result.wall_s:.1f}s")
    assert {i: (r.implemented, r.passed) for i, r in results.items()} == {
        i: (True, True) for i in NEW}, {i: r.error or r.hidden_output for i, r in results.items()}
    assert all(r.hidden_total >= 3 for r in results.values())


def test_a_wrong_answer_passes_acceptance_but_not_the_hidden_tests(tmp_path, monkeypatch, tasks):
    only = {"ts-chunk": tasks["ts-chunk"]}
    report = _run(tmp_path, monkeypatch, only, {"ts-chunk": WRONG_CHUNK})
    (result,) = report.modes["all-local"].tasks
    assert result.implemented and not result.passed
    assert result.hidden_passed < result.hidden_total
    assert re.search(r"the error message is exact", result.hidden_output or "")
