"""A Claude rung taking over a failing attempt: a short single-shot prompt, answered with
SEARCH/REPLACE edits to the failing code — through `implement_plan`, the real SDKs against
FakeOllama and FakeAnthropic, a real git repository and real pytest runs."""

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
    fn_item,
    make_project,
    settings_for,
    write_plan,
)

from hybridcode.implement.runner import implement_plan
from hybridcode.ledger import Ledger
from hybridcode.plan.prefix import instructions, schema_text
from hybridcode.testing import FakeAnthropic, FakeOllama

WRONG = code("add", "a - b")  # the local model's failing attempt


def edit(search: str, replace: str, path: str = "") -> str:
    head = f"{path}\n" if path else ""
    return (f"{head}```python\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n"
            ">>>>>>> REPLACE\n```\n")


FIX = edit("    return a - b", "    return a + b")


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "repo")


@pytest.fixture
def fakes():
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        yield ollama, claude


def run(root, fakes, cloud_answers, local_answers=(WRONG,), item=None, **kw):
    """One local attempt, then the Claude rung; returns the result and the Claude script."""
    ollama, claude = fakes
    write_plan(root, [item or add_item()])
    item_id = (item or add_item()).id
    ollama.responder = Script({item_id: list(local_answers)})
    cloud = Script({item_id: list(cloud_answers)})
    claude.responder = cloud
    settings = settings_for(root, ollama, claude, attempts=kw.pop("attempts", 2))
    return implement_plan(root, "p1", settings=settings, **kw), cloud


def claude_bodies(fakes) -> list[dict]:
    return [r.json for r in fakes[1].requests if r.path.endswith("/v1/messages")]


def edit_fates(root, item_id="add"):
    with Ledger.open(root) as ledger:
        rows = ledger.query("SELECT model, outcome, edit FROM attempts WHERE item_id = ? "
                            "ORDER BY id", (item_id,))
    return [(row["outcome"], row["edit"]) for row in rows if "claude" in row["model"]]


def test_an_edit_to_the_failing_attempt_is_applied_and_judged(project, fakes):
    result, cloud = run(project, fakes, [FIX], attempts=1)
    assert result.ok and result.items[0].model.endswith("claude-sonnet-5-5")
    assert "return a + b" in (result.worktree / "calc/add.py").read_text()
    assert edit_fates(project) == [("passed", "applied")]
    prompt = cloud.seen["add"][0]
    # the failing attempt and why it failed are in the prompt, with the edit format
    assert "return a - b" in prompt and "assert -1 == 3" in prompt
    assert "<<<<<<< SEARCH" in prompt
    with Ledger.open(project) as ledger:
        saved = ledger.query("SELECT output FROM attempts WHERE edit = 'applied'")[0][0]
    assert saved == FIX  # the ledger keeps the answer as the model wrote it


def test_the_rung_prompt_is_short_and_sets_no_cache_breakpoint(project, fakes):
    result, cloud = run(project, fakes, [FIX], attempts=1)
    assert result.ok
    [body] = claude_bodies(fakes)
    sent = json.dumps(body)
    assert "cache_control" not in sent  # single-shot: nothing it writes would be read
    prompt = cloud.seen["add"][0]
    assert "Instructions of the planner" not in prompt
    assert schema_text().strip()[:200] not in prompt and "PlannerOutput" not in prompt
    assert len(prompt) < len(instructions()) / 3


def test_a_claude_routed_first_call_sets_no_cache_breakpoint(project, fakes):
    result, _ = run(project, fakes, [code("add", "a + b")], local_answers=(),
                    item=add_item(route="claude"))
    assert result.ok
    [body] = claude_bodies(fakes)
    assert "cache_control" not in json.dumps(body)
    assert "Instructions of the planner" not in json.dumps(body)


def test_an_edit_that_does_not_match_falls_back_to_the_whole_item(project, fakes):
    stale = edit("    return a * b", "    return a + b")
    result, cloud = run(project, fakes, [stale, code("add", "a + b")])
    assert result.ok
    assert edit_fates(project) == [("placement_error", "fell back"), ("passed", None)]
    second = cloud.seen["add"][1]
    assert "Your edits could not be applied" in second
    assert "return a * b" in second  # says which SEARCH text did not match
    assert "return a - b" in second and "assert -1 == 3" in second  # the failing code still
    assert "<<<<<<< SEARCH" not in second  # asks for the whole item this time


def test_a_malformed_edit_answer_is_fed_back_with_the_exact_parse_error(project, fakes):
    broken = "```python\n<<<<<<< SEARCH\n    return a - b\n>>>>>>> REPLACE\n```\n"
    result, cloud = run(project, fakes, [broken, FIX])
    assert result.ok
    assert edit_fates(project) == [("syntax_error", "malformed"), ("passed", "applied")]
    with Ledger.open(project) as ledger:
        feedback = ledger.query("SELECT feedback FROM attempts WHERE edit = 'malformed'")[0][0]
    assert "expected a `=======` line, found `>>>>>>> REPLACE`" in feedback
    assert feedback.splitlines()[0] in cloud.seen["add"][1]
    assert "assert -1 == 3" in cloud.seen["add"][1]  # and still why the code failed


@pytest.mark.parametrize("hostile", [
    # a block naming the acceptance tests' file
    edit("    assert add(1, 2) == 3", "    assert True", path="tests/hybrid/test_hybrid_add.py"),
    # text of the acceptance tests, with no path
    edit("    assert add(1, 2) == 3", "    assert True"),
    # another file altogether
    edit("    return a - b", "    return a + b", path="calc/ops.py"),
], ids=["tests-by-path", "tests-by-text", "other-file"])
def test_edits_aimed_outside_the_item_are_refused(project, fakes, hostile):
    result, cloud = run(project, fakes, [hostile, FIX])
    assert result.ok
    assert edit_fates(project) == [("refused", "refused"), ("passed", "applied")]
    assert (result.worktree / "tests/hybrid/test_hybrid_add.py").read_text() == add_item().tests.code
    assert (result.worktree / "calc/ops.py").read_text() == (project / "calc/ops.py").read_text()
    assert "refused" in cloud.seen["add"][1]
    assert any("refused its edits" in m for m in result.messages)


def test_an_edit_of_the_file_around_the_item_is_refused(project, fakes):
    # `add` joins calc/ops.py, next to `double`: an edit of `double` is outside the item
    tests = arith_tests("calc.ops", "add", [(1, 2, 3)])
    item = fn_item("add", "add", tests, file="calc/ops.py")
    hostile = edit("    return 2 * x", "    return 3 * x")
    result, _ = run(project, fakes, [hostile, FIX], item=item)
    assert result.ok
    assert edit_fates(project) == [("refused", "refused"), ("passed", "applied")]
    text = (result.worktree / "calc/ops.py").read_text()
    assert "return 2 * x" in text and "3 * x" not in text


def test_an_interrupted_edit_is_verified_on_resume_without_a_new_call(project, fakes):
    ollama, claude = fakes
    write_plan(project, [add_item()])
    ollama.responder = Script({"add": [WRONG]})
    cloud = Script({"add": [FIX]})
    claude.responder = cloud
    settings = settings_for(project, ollama, claude, attempts=1)

    def interrupt(event):
        if event.item_id == "add" and event.state == "queued" and event.rung == 1:
            raise KeyboardInterrupt  # the edit answer is saved, not yet applied

    with pytest.raises(KeyboardInterrupt):
        implement_plan(project, "p1", settings=settings, on_event=interrupt)
    result = implement_plan(project, "p1", settings=settings, resume=True)
    assert result.ok and cloud.count("add") == 1
    assert calls_per_item(project) == {"add": 2}
    assert edit_fates(project) == [("passed", "applied")]


def test_the_failing_code_goes_through_the_secrets_door(project, fakes):
    key = "sk-" + "ant-api03-" + "Zx8Qw7Er6Ty5Ui4Op3As2Df1Gh0JkLzXcVbNm"  # fake, in pieces
    leaky = ("```python\ndef add(a: int, b: int) -> int:\n"
             f"    token = \"{key}\"\n    return a - b\n```\n")
    result, cloud = run(project, fakes, [FIX], local_answers=(leaky,), attempts=1)
    assert result.ok and cloud.count("add") == 1
    assert "return a - b" in cloud.seen["add"][0]  # the failing code was sent…
    assert not any(key in json.dumps(body) for body in claude_bodies(fakes))  # …not the key
