"""The bundled bench suite checks itself: for every task the reference solution passes its
acceptance and hidden tests, trivial stubs fail the hidden tests, and the hidden tests
outnumber the acceptance tests. The references never reach a model (tests/test_bench.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hybridcode.bench import load_suite
from hybridcode.bench.score import check_suite
from hybridcode.bench.suite import task_spec
from hybridcode.errors import UsageError

ROUTINE = {"validation", "parsing", "data_transformation", "crud", "extraction", "test",
           "docstring"}


@pytest.fixture(scope="module")
def tasks():
    return load_suite()


def test_suite_size_and_kinds(tasks):
    assert len(tasks) >= 20
    assert {t.category for t in tasks} <= ROUTINE
    assert {"validation", "parsing", "data_transformation", "crud"} <= {t.category for t in tasks}
    assert len({t.id for t in tasks}) == len(tasks)


def test_every_task_is_sound(tasks):
    from toolchains import need_go, need_node_runners

    need_go()  # the Go tasks run with go test, the TypeScript ones with vitest and tsc
    problems = {c.task_id: c.problems for c in check_suite(tasks, node_modules=need_node_runners())
                if not c.ok}
    assert problems == {}


def test_go_and_typescript_tasks_are_bundled(tasks):
    languages = [t.language for t in tasks]
    assert languages.count("go") >= 3 and languages.count("typescript") >= 3
    for task in tasks:
        assert task.acceptance_path.suffix == task.hidden_path.suffix == task.reference_path.suffix


def test_the_spec_holds_no_hidden_tests_or_reference(tasks):
    for task in tasks:
        spec = task_spec(task)
        text = spec.model_dump_json()
        if task.judged:  # test and doc tasks: no hidden tests; the reference is the answer
            assert task.reference_path.read_text(encoding="utf-8").strip() not in text
            continue
        assert task.hidden_path.read_text(encoding="utf-8").strip() not in text
        reference = task.reference_path
        assert reference is not None
        assert reference.read_text(encoding="utf-8").strip() not in text
        item = spec.items[0]
        assert (item.file, item.symbol, item.kind) == (task.file, task.symbol, task.kind)


def test_the_router_sends_every_task_local(tasks):
    from hybridcode.plan.routing import route_item

    assert {t.id: route_item(task_spec(t).items[0]).route for t in tasks} == {
        t.id: "local" for t in tasks}


def test_a_weak_task_is_reported(tmp_path):
    """The self-check itself: hidden tests that accept anything are caught."""
    source = Path(load_suite(only=["luhn-check"])[0].directory)
    weak = tmp_path / "suite" / "luhn-check"
    shutil.copytree(source, weak)
    (weak / "hidden_test.py").write_text("def test_nothing():\n    pass\n")
    (check,) = check_suite(load_suite(tmp_path / "suite"))
    assert any("stub passes the hidden tests" in p for p in check.problems)
    assert any("only 1 hidden tests for 2 acceptance tests" in p for p in check.problems)


def test_broken_task_folders_are_usage_errors(tmp_path):
    task = tmp_path / "suite" / "t1"
    task.mkdir(parents=True)
    (task / "task.toml").write_text('id = "t1"\ncategory = "parsing"\n')
    with pytest.raises(UsageError, match="lacks title, file, symbol, signature, request"):
        load_suite(tmp_path / "suite")
    (task / "task.toml").write_text(
        'id = "other"\ncategory = "parsing"\ntitle = "t"\nfile = "a.py"\nsymbol = "f"\n'
        'signature = "def f() -> int"\nrequest = "r"\n')
    with pytest.raises(UsageError, match="differs from its folder name"):
        load_suite(tmp_path / "suite")


def test_tests_generated_from_the_examples_pass_the_reference_and_fail_broken_code(tasks):
    """For every bundled task, the parametrized tests the tool writes from the task's examples
    (at zero tokens) pass the reference solution and fail both broken variants (a stub that
    raises NotImplementedError, one that returns None)."""
    from hybridcode.bench.score import check_examples

    problems = {c.task_id: c.problems for c in check_examples(tasks) if not c.ok}
    assert problems == {}
