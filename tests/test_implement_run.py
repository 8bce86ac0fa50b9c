"""`hybrid implement` end to end: the real SDKs against FakeOllama and FakeAnthropic, a real git
repository, real pytest runs in the plan's worktree."""

from __future__ import annotations

import json

import pytest
from implement_helpers import (
    Script,
    add_item,
    arith_tests,
    attempts_of,
    calls_per_item,
    code,
    env_for,
    fn_item,
    git,
    make_project,
    settings_for,
    user_tree,
    write_plan,
)
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.errors import UsageError
from hybridcode.implement.runner import implement_plan
from hybridcode.implement.state import PlanLock, RunState
from hybridcode.ledger import Ledger
from hybridcode.plan.store import PlanStore
from hybridcode.testing import FakeAnthropic, FakeOllama
from hybridcode.testing.fake_anthropic import TextReply

QWEN = "ollama:qwen2.5-coder:32b"
SONNET = "anthropic:claude-sonnet-5-5"


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "repo")
    before = user_tree(root)
    yield root
    # Whatever a test did, the user's HEAD, index and working tree are as they were, and
    # nothing was committed on the plan's branch.
    assert user_tree(root) == before
    branch = git(root, "branch", "--list", "hybrid/*").strip()
    if branch:
        assert git(root, "rev-parse", "hybrid/p1") == before["head"]


@pytest.fixture
def fakes():
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        yield ollama, claude


def run(root, fakes, local=None, cloud=None, plan="p1", **kw):
    ollama, claude = fakes
    if local is not None:
        ollama.responder = local
    if cloud is not None:
        claude.responder = cloud
    settings_kw = kw.pop("settings_kw", {})
    settings = settings_for(root, ollama, claude, **settings_kw)
    events = []
    result = implement_plan(root, plan, settings=settings, on_event=events.append, **kw)
    return result, events


def states(result):
    return {item.item_id: item.state for item in result.items}


def worktree_file(result, path):
    return (result.worktree / path).read_text()


# ---------------------------------------------------------------------------------- items

def test_item_passes_first_try(project, fakes):
    write_plan(project, [add_item()])
    local = Script({"add": [code("add", "a + b")]})
    result, events = run(project, fakes, local)
    assert result.ok and result.status == "implemented"
    assert "return a + b" in worktree_file(result, "calc/add.py")
    assert result.items[0].model == QWEN and result.items[0].attempts == 1
    assert calls_per_item(project) == {"add": 1}
    assert [a["outcome"] for a in attempts_of(project, "add")] == ["passed"]
    assert PlanStore(project).meta("p1").status == "implemented"
    summary = json.loads((project / ".hybrid/plans/p1/state.json").read_text())
    assert summary["items"]["add"]["state"] == "passed"
    assert [e.state for e in events if e.item_id == "add"][-1] == "passed"
    assert result.local_tokens > 0 and result.claude_usd == 0


def test_failing_then_passing_with_the_test_output_fed_back(project, fakes):
    write_plan(project, [add_item()])
    local = Script({"add": [code("add", "a - b"), code("add", "a + b")]})
    result, _ = run(project, fakes, local)
    assert result.ok
    assert local.count("add") == 2
    second = local.seen["add"][1]
    assert "assert -1 == 3" in second and "test_add_0" in second
    assert "return a - b" in second  # the previous answer is part of the conversation
    outcomes = attempts_of(project, "add")
    assert [a["outcome"] for a in outcomes] == ["test_failed", "passed"]
    assert "assert -1 == 3" in outcomes[0]["feedback"]


def test_climbs_to_the_claude_rung(project, fakes):
    write_plan(project, [add_item()])
    local = Script({"add": [code("add", "a * b")]})
    cloud = Script({"add": [code("add", "a + b")]})
    result, events = run(project, fakes, local, cloud, settings_kw={"attempts": 2})
    assert result.ok
    assert local.count("add") == 2 and cloud.count("add") == 1
    assert result.items[0].model == SONNET and result.items[0].rung == 1
    assert any("escalating" in e.message for e in events if e.item_id is None)
    with Ledger.open(project) as ledger:
        row = ledger.query("SELECT escalated, rung FROM items WHERE item_id = 'add'")[0]
    assert row["escalated"] == 1 and row["rung"] == 1
    assert result.claude_usd > 0


def test_claude_routed_item_starts_on_the_claude_rung(project, fakes):
    write_plan(project, [add_item(route="claude")])
    cloud = Script({"add": [code("add", "a + b")]})
    local = Script()
    result, _ = run(project, fakes, local, cloud)
    assert result.ok and local.count("add") == 0 and cloud.count("add") == 1


def test_failing_on_every_rung_skips_dependents_and_independent_items_go_on(project, fakes):
    sub_tests = arith_tests("calc.sub", "sub", [(3, 1, 2)])
    write_plan(project, [
        add_item(),
        fn_item("twice", "twice", arith_tests("calc.twice", "twice", [(1, 2, 6)]),
                depends_on=["add"]),
        fn_item("sub", "sub", sub_tests),
    ])
    local = Script({"add": [code("add", "0")], "sub": [code("sub", "a - b")]})
    cloud = Script({"add": [code("add", "1")]})
    result, _ = run(project, fakes, local, cloud, parallel=2, settings_kw={"attempts": 2})
    assert states(result) == {"add": "failed", "twice": "skipped", "sub": "passed"}
    assert result.status == "failed" and not result.ok
    assert local.count("twice") == 0 and cloud.count("twice") == 0
    assert local.count("add") == 2 and cloud.count("add") == 2
    skipped = next(i for i in result.items if i.item_id == "twice")
    assert "add" in skipped.error
    assert not (result.worktree / "calc/add.py").exists()  # failed code was rolled back
    assert PlanStore(project).meta("p1").status == "failed"


def test_several_items_are_generated_in_parallel(project, fakes):
    names = ["a1", "a2", "a3", "a4"]
    write_plan(project, [fn_item(n, "add", arith_tests(f"calc.{n}", "add", [(1, 2, 3)]))
                         for n in names])
    local = Script({n: [code("add", "a + b")] for n in names}, delay=0.6)
    result, _ = run(project, fakes, local, parallel=4)
    assert result.ok
    assert local.max_active == 4  # all four answers were being written at the same time


def test_dependent_item_sees_its_dependency_and_runs_after_it(project, fakes):
    write_plan(project, [
        add_item(),
        fn_item("twice", "twice", arith_tests("calc.twice", "twice", [(1, 2, 6)]),
                depends_on=["add"]),
    ])
    local = Script({"add": [code("add", "a + b")],
                    "twice": [("```python\nfrom calc.add import add\n\n\n"
                               "def twice(a: int, b: int) -> int:\n"
                               "    return 2 * add(a, b)\n```")]})
    result, _ = run(project, fakes, local, parallel=2)
    assert result.ok


# ---------------------------------------------------------------------------------- refusals

def test_output_writing_outside_its_file_is_refused(project, fakes):
    write_plan(project, [add_item()])
    escape = "```python\n# ../escape.py\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
    local = Script({"add": [escape, code("add", "a + b")]})
    result, _ = run(project, fakes, local)
    assert result.ok
    assert not (project.parent / "escape.py").exists()
    assert not (result.worktree.parent / "escape.py").exists()
    first = attempts_of(project, "add")[0]
    assert first["outcome"] == "refused"
    assert "refused" in local.seen["add"][1].lower()


def test_output_changing_the_acceptance_tests_is_refused_and_they_are_restored(project, fakes):
    # The item allows writing files, so confinement (not the static refusal) stops the cheat.
    write_plan(project, [add_item().model_copy(update={"allow": ["files"]})])
    cheat = ("```python\nimport pathlib\n\n\ndef add(a: int, b: int) -> int:\n"
             "    test = pathlib.Path(__file__).resolve().parents[1] / 'tests' / 'hybrid' / "
             "'test_hybrid_add.py'\n"
             "    test.write_text('def test_nothing():\\n    pass\\n')\n"
             "    return a + b\n```")
    local = Script({"add": [cheat, code("add", "a + b")]})
    result, events = run(project, fakes, local)
    assert result.ok
    assert [a["outcome"] for a in attempts_of(project, "add")] == ["refused", "passed"]
    spec_tests = add_item().tests.code
    assert worktree_file(result, "tests/hybrid/test_hybrid_add.py") == spec_tests
    assert "write_text" not in worktree_file(result, "calc/add.py")
    assert any("changed tests/hybrid/test_hybrid_add.py" in e.message for e in events
               if e.item_id is None)


def test_output_naming_the_acceptance_test_file_is_refused(project, fakes):
    write_plan(project, [add_item()])
    into_tests = ("```python\n# tests/hybrid/test_hybrid_add.py\ndef test_add_0():\n    pass\n```")
    local = Script({"add": [into_tests, code("add", "a + b")]})
    result, _ = run(project, fakes, local)
    assert result.ok
    assert attempts_of(project, "add")[0]["outcome"] in ("refused", "syntax_error")
    assert worktree_file(result, "tests/hybrid/test_hybrid_add.py") == add_item().tests.code


def test_broken_syntax_is_retried_with_the_parser_message(project, fakes):
    write_plan(project, [add_item()])
    broken = "```python\ndef add(a: int, b: int) -> int:\n    return (a + b\n```"
    local = Script({"add": [broken, code("add", "a + b")]})
    result, _ = run(project, fakes, local)
    assert result.ok
    first = attempts_of(project, "add")[0]
    assert first["outcome"] in ("syntax_error", "placement_error")
    assert first["feedback"]
    assert first["feedback"].splitlines()[0] in local.seen["add"][1]


# ---------------------------------------------------------------------------------- breaker

def test_breaker_switches_a_rung_off_after_three_consecutive_failures(project, fakes):
    # "sub" depends on "add" only so that it starts after the breaker tripped.
    write_plan(project, [add_item(), fn_item("sub", "sub", arith_tests("calc.sub", "sub",
                                                                        [(3, 1, 2)]),
                                             depends_on=["add"])])
    local = Script({"add": [code("add", "0")], "sub": [code("sub", "a - b")]})
    cloud = Script({"add": [code("add", "a + b")], "sub": [code("sub", "a - b")]})
    result, events = run(project, fakes, local, cloud, parallel=1)  # attempts: 3 by default
    assert result.ok
    assert local.count("add") == 3 and cloud.count("add") == 1
    # The local rung is off for the rest of the run: the next item starts on Claude.
    assert local.count("sub") == 0 and cloud.count("sub") == 1
    notes = [e.message for e in events if e.item_id is None]
    assert any("switched off for the rest of this run" in n and QWEN in n for n in notes)


def test_ladder_skips_switched_off_rungs_and_ends_when_all_are_off(project):
    from hybridcode.config import load_settings
    from hybridcode.implement.ladder import CircuitBreaker, Ladder

    breaker = CircuitBreaker()
    ladder = Ladder.from_settings(load_settings(project, environ={}), breaker)
    item = add_item()
    first = ladder.start(item)
    assert first.rung.index == 0 and first.attempt == 1
    assert ladder.after_failure(first).attempt == 2
    assert [breaker.record(0, ok=False) for _ in range(3)] == [False, False, True]
    assert ladder.start(item).rung.index == 1
    assert ladder.after_failure(first).rung.index == 1  # climbs at once once its rung is off
    breaker.record(1, ok=False)
    breaker.record(1, ok=True)  # a pass resets the count: failures must be consecutive
    for _ in range(2):
        breaker.record(1, ok=False)
    assert not breaker.is_open(1)
    breaker.record(1, ok=False)
    assert ladder.start(item) is None and ladder.start(add_item(route="claude")) is None


def test_model_errors_count_as_failures_and_climb(project, fakes):
    write_plan(project, [add_item()])
    ollama, _claude = fakes
    for _ in range(2):
        ollama.enqueue_error(500, "model runner crashed")
    cloud = Script({"add": [code("add", "a + b")]})
    result, _ = run(project, fakes, Script(), cloud, settings_kw={"attempts": 2})
    assert result.ok and result.items[0].model == SONNET
    assert [a["outcome"] for a in attempts_of(project, "add")] == [
        "model_error", "model_error", "passed"]


# ---------------------------------------------------------------------------------- budget

def pricey(text):
    """A Claude answer that costs $0.03 (3,000 output tokens of Sonnet at $10/M)."""
    return TextReply(text, usage={"output_tokens": 3000})


def test_budget_stops_the_run_cleanly_and_resume_finishes_it(project, fakes):
    write_plan(project, [add_item(route="claude"),
                         fn_item("sub", "sub", arith_tests("calc.sub", "sub", [(3, 1, 2)]),
                                 route="claude")])
    cloud = Script({"add": [pricey(code("add", "a + b").strip())],
                    "sub": [pricey(code("sub", "a - b").strip())]})
    # Each call reserves ~$0.042 (its prompt plus 4,096 output tokens); after the first has
    # cost $0.03, the second would cross $0.06.
    result, events = run(project, fakes, None, cloud, parallel=1, budget_usd=0.06)
    assert result.status == "budget"
    assert states(result) == {"add": "passed", "sub": "pending"}
    assert cloud.count("sub") == 0
    assert PlanStore(project).meta("p1").status == "budget"
    assert any("budget" in e.message for e in events if e.item_id is None)

    with pytest.raises(UsageError) as refused:
        run(project, fakes, None, cloud, parallel=1, budget_usd=1.0)
    assert "--resume" in refused.value.hint

    result, events = run(project, fakes, None, cloud, parallel=1, budget_usd=1.0,
                         resume=True)
    assert result.ok
    assert calls_per_item(project) == {"add": 1, "sub": 1}  # add was not paid for twice
    assert cloud.count("add") == 1
    assert any(e.item_id == "add" and "earlier run" in e.message for e in events)
    assert "return a + b" in worktree_file(result, "calc/add.py")


# ---------------------------------------------------------------------------------- resume

def test_interrupted_run_verifies_the_saved_output_without_a_new_call(project, fakes):
    write_plan(project, [add_item()])
    local = Script({"add": [code("add", "a + b")]})
    ollama, claude = fakes
    ollama.responder = local
    settings = settings_for(project, ollama, claude)

    def interrupt(event):
        if event.item_id == "add" and event.state == "queued":
            raise KeyboardInterrupt  # Ctrl-C after the answer was saved, before verifying

    with pytest.raises(KeyboardInterrupt):
        implement_plan(project, "p1", settings=settings, on_event=interrupt)
    assert PlanStore(project).meta("p1").status == "interrupted"
    assert [a["outcome"] for a in attempts_of(project, "add")] == ["generated"]
    result = implement_plan(project, "p1", settings=settings, resume=True)
    assert result.ok
    assert local.count("add") == 1 and calls_per_item(project) == {"add": 1}


def test_a_half_applied_change_is_rolled_back_on_resume(project, fakes):
    write_plan(project, [add_item()])
    local = Script({"add": [code("add", "a + b")]})
    result, _ = run(project, fakes, local)
    target = result.worktree / "calc" / "add.py"
    good = target.read_bytes()
    # A run that died between placing code and settling the attempt leaves its snapshot.
    with Ledger.open(project) as ledger:
        state = RunState(ledger, PlanStore(project), "p1")
        state.save_snapshot(result.worktree, "add", "no-such-attempt", ["calc/add.py"])
        target.write_text("half written")
        assert state.recover_snapshot(result.worktree) == "add"
    assert target.read_bytes() == good
    assert not state.snapshot_path.exists()


def test_a_second_run_on_the_same_plan_is_refused(project, fakes):
    write_plan(project, [add_item()])
    store = PlanStore(project)
    with PlanLock(store.dir("p1"), "p1"), pytest.raises(UsageError) as err:
        run(project, fakes, Script())
    assert "another hybrid implement is running on plan p1 (pid" in err.value.message
    assert err.value.hint.startswith("wait for it to finish, or stop it (kill ")
    assert err.value.hint.endswith("and continue with: hybrid implement p1 --resume")


def test_an_invalid_plan_is_refused(project, fakes):
    write_plan(project, [add_item()])
    store = PlanStore(project)
    meta = store.meta("p1")
    meta.status = "invalid"
    store.save_meta(meta)
    with pytest.raises(UsageError) as err:
        run(project, fakes, Script())
    assert "hybrid spec check p1" in err.value.hint


# ---------------------------------------------------------------------------------- CLI

def test_cli_json_summary_and_exit_codes(project, fakes, monkeypatch):
    write_plan(project, [add_item()])
    ollama, claude = fakes
    ollama.responder = Script({"add": [code("add", "a - b")]})
    claude.responder = Script({"add": [code("add", "a - b")]})
    for name, value in env_for(ollama, claude).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HYBRID_ATTEMPTS", "1")
    monkeypatch.chdir(project)
    runner = CliRunner()
    failed = runner.invoke(app, ["implement", "p1", "--json"], catch_exceptions=False)
    assert failed.exit_code == 1, failed.output
    data = json.loads(failed.stdout)
    assert data["status"] == "failed" and data["failed"] == 1
    ollama.responder = Script({"add": [code("add", "a + b")]})
    done = runner.invoke(app, ["implement", "p1", "--resume"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "next: hybrid review p1" in done.stdout
    again = runner.invoke(app, ["implement", "p1"])
    assert again.exit_code == 2 and "--resume" in again.stderr


def test_a_context_overflow_reason_is_shown_whole_with_its_advice(project, fakes):
    write_plan(project, [add_item()])
    ollama, _claude = fakes
    ollama.enqueue_text(code("add", "a + b"), prompt_eval_count=40)  # the server cut the prompt
    cloud = Script({"add": [code("add", "a + b")]})
    result, events = run(project, fakes, Script(), cloud, settings_kw={"attempts": 1})
    assert result.ok and result.items[0].model == SONNET
    climb = next(e.message for e in events if e.item_id is None and "escalating" in e.message)
    assert "evidently smaller than the num_ctx=" in climb and "we sent)" in climb
    assert climb.rstrip().endswith("or shrink the item")


def test_an_items_error_keeps_the_failure_message_pytest_cuts_to_its_width(project, fakes):
    why = "the sum of one and two must be three, always and everywhere, on every machine"
    tests = f"from calc.add import add\n\n\ndef test_add_0():\n    assert add(1, 2) == 3, {why!r}\n"
    write_plan(project, [fn_item("add", "add", tests)])
    cloud = Script({"add": [code("add", "a - b")]})
    result, _ = run(project, fakes, Script({"add": [code("add", "a - b")]}), cloud,
                    settings_kw={"attempts": 1})
    [item] = result.items
    assert item.state == "failed"
    # The judge's one failure shape (every runner), with the message whole.
    assert item.error.startswith("1 problem(s) in 1 reported test(s); first: ")
    assert f"test_add_0: failed: AssertionError: {why}" in item.error
    assert "..." not in item.error
