"""Spec version 2: examples are data the tool turns into acceptance tests (zero tokens), old
specs still load, and items written in the plan are placed, tested and recorded with a reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hybridcode.spec.examples import acceptance_code, example_tests, parse_expected
from hybridcode.plan.routing import route_item
from hybridcode.spec import SPEC_VERSION, Example, Spec, SpecItem, load_spec, validate_spec

from implement_helpers import (Script, add_item, attempts_of, calls_per_item,
                               make_project, settings_for, write_plan)

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "fixtures" / "specs" / "ratelimit.v1.json"

DURATION = '''
def parse_seconds(text: str) -> int:
    if not text.endswith("s") or not text[:-1].isdigit():
        raise ValueError(f"invalid duration: {text!r}")
    return int(text[:-1])
'''


def duration_item(**update) -> SpecItem:
    item = SpecItem(
        id="parse-seconds", title="parse '45s'", kind="function", category="parsing",
        file="timing/durations.py", symbol="parse_seconds", action="create",
        signature="def parse_seconds(text: str) -> int", description="Seconds of '<n>s'.",
        examples=[Example(input="parse_seconds('45s')", expected="45"),
                  Example(input="parse_seconds('0s')", expected="0", note="edge: zero"),
                  Example(input="parse_seconds('4m')",
                          expected="raises ValueError(\"invalid duration: '4m'\")"),
                  Example(input="parse_seconds('')", expected="raises ValueError")])
    return item.model_copy(update=update)


def run_generated(tmp_path: Path, item: SpecItem, code: str) -> subprocess.CompletedProcess:
    package = tmp_path / "timing"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "durations.py").write_text(code)
    (tmp_path / "test_generated.py").write_text(acceptance_code(item) or "")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_generated.py"], cwd=tmp_path, capture_output=True, text=True)


def test_expected_is_a_value_or_an_exception():
    assert parse_expected("[1, 2]").value == "[1, 2]"
    raised = parse_expected("raises KeyError('missing')")
    assert (raised.error, raised.message) == ("KeyError", "missing")
    assert parse_expected("raises app.errors.LoginFailed").error == "app.errors.LoginFailed"
    for bad in ("raises ValueError(f'x{y}')", "raises 3", "the sixth attempt fails"):
        with pytest.raises(ValueError):
            parse_expected(bad)


def test_generated_tests_pass_right_code_and_fail_wrong_code(tmp_path):
    item = duration_item()
    text = example_tests(item)
    assert "from timing.durations import parse_seconds" in text
    assert text.count("pytest.param(") == 4
    ok = run_generated(tmp_path, item, DURATION)
    assert ok.returncode == 0 and "4 passed" in ok.stdout, ok.stdout
    wrong_message = DURATION.replace("invalid duration", "bad duration")
    assert run_generated(tmp_path, item, wrong_message).returncode == 1
    off_by_one = DURATION.replace("return int(text[:-1])", "return int(text[:-1]) + 1")
    result = run_generated(tmp_path, item, off_by_one)
    assert "2 failed, 2 passed" in result.stdout


def test_setup_names_are_not_imported_and_the_planners_tests_come_first(tmp_path):
    from hybridcode.spec import AcceptanceTests

    item = duration_item(
        examples=[Example(input="parse_seconds(TEXT)", expected="45")],
        example_setup="TEXT = '45s'",
        tests=AcceptanceTests(code="from __future__ import annotations\n\n"
                                   "def test_written():\n    assert True\n"))
    code = acceptance_code(item)
    assert code.startswith("from __future__ import annotations")
    assert "import parse_seconds\n" in code and "TEXT" not in code.split("import pytest")[1] \
        .split("\n")[1]
    result = run_generated(tmp_path, item, DURATION)
    assert "2 passed" in result.stdout, result.stdout


def test_examples_that_are_not_code_are_reported_by_field(tmp_path):
    item = duration_item(examples=[Example(input="six wrong attempts in a minute",
                                           expected="raises LoginThrottled")])
    issues = validate_spec(Spec(title="t", items=[item]), tmp_path)
    assert [(i.field, i.is_error) for i in issues] == [("examples[0].input", True)]
    illustration = duration_item(examples=[Example(input="six wrong attempts", expected="x",
                                                   run=False)])
    assert not illustration.has_tests  # an illustration is not a test …
    issues = validate_spec(Spec(title="t", items=[illustration]), tmp_path)
    assert [i.field for i in issues] == ["tests"]  # … so a local code item lacks tests


def test_a_version_1_spec_still_loads_with_its_examples_kept_as_illustrations(tmp_path):
    spec = load_spec(V1)
    assert spec.spec_version == SPEC_VERSION == 2
    assert all(not e.run for item in spec.items for e in item.examples)
    assert json.loads(V1.read_text())["spec_version"] == 1  # the file itself is untouched
    store = spec.item("ratelimit-store")
    assert acceptance_code(store) == store.tests.code.strip() + "\n"  # judged as before


def test_an_item_cheaper_to_write_than_to_specify_is_routed_plan_with_its_reason():
    item = duration_item(code=DURATION.strip())
    decision = route_item(item)
    assert decision.route == "plan" and decision.rule == "written-in-plan"
    assert f"~{item.code_size()} tokens of code" in decision.reason
    assert decision.evidence["code_tokens"] == item.code_size() < item.spec_size()
    assert route_item(duration_item()).route == "local"


def test_the_plans_code_is_placed_and_tested_without_a_model_call(tmp_path):
    from hybridcode.implement.runner import implement_plan
    from hybridcode.testing import FakeAnthropic, FakeOllama

    root = make_project(tmp_path / "repo")
    written = add_item(route="plan").model_copy(update={
        "code": "def add(a: int, b: int) -> int:\n    return a + b\n",
        "route_reason": "written in the plan"})
    broken = add_item("plus", route="plan").model_copy(update={
        "code": "def add(a: int, b: int) -> int:\n    return a - b\n"})
    write_plan(root, [written, broken])
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        claude.responder = Script({"plus": [
            "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n"]})
        result = implement_plan(root, "p1", settings=settings_for(root, ollama, claude))
    assert {i.item_id: i.state for i in result.items} == {"add": "passed", "plus": "passed"}
    assert calls_per_item(root).get("add") is None  # no model was asked
    assert [(a["attempt"], a["model"], a["outcome"]) for a in attempts_of(root, "add")] == [
        (0, "plan", "passed")]  # a plan written by hand names no planner model
    # The plan's code failed its tests: the Claude rung fixed it with the test output
    plus = attempts_of(root, "plus")
    assert [(a["model"], a["outcome"]) for a in plus][0] == ("plan", "test_failed")
    assert plus[-1]["outcome"] == "passed" and calls_per_item(root)["plus"] == 1
