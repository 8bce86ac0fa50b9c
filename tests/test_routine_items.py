"""Test, doc and look-alike items through `hybrid implement`: the real SDK against FakeOllama, a
real git repository, the judge in the sandbox. Weak tests and code-changing docstrings go back
to the model with what was wrong; the right answers pass."""

from __future__ import annotations

import pytest
from implement_helpers import (
    Script,
    attempts_of,
    git,
    make_project,
    marker,
    settings_for,
    write_plan,
)
from toolchains import need_bwrap

from hybridcode.implement.runner import implement_plan
from hybridcode.spec import Example, Spec, SpecItem, validate_spec
from hybridcode.testing import FakeAnthropic, FakeOllama

CLAMP = '''"""Bounds."""


def clamp(value: int, low: int, high: int) -> int:
    if low > high:
        raise ValueError("low must not exceed high")
    if value < low:
        return low
    if value > high:
        return high
    return value
'''

VACUOUS_TESTS = '''from calc.clamp import clamp


def test_clamp_runs():
    clamp(5, 0, 10)
    clamp(-5, 0, 10)
'''

GOOD_TESTS = '''import pytest

from calc.clamp import clamp


def test_inside_the_range_is_kept():
    assert clamp(5, 0, 10) == 5
    assert clamp(0, 0, 10) == 0
    assert clamp(10, 0, 10) == 10


def test_below_and_above_are_clamped():
    assert clamp(-5, 0, 10) == 0
    assert clamp(15, 0, 10) == 10


def test_an_empty_range_raises():
    with pytest.raises(ValueError, match="low must not exceed high"):
        clamp(1, 2, 1)
    assert clamp(3, 3, 3) == 3
'''

DOCUMENTED = CLAMP.replace('''int) -> int:
''', '''int) -> int:
    """Limit a value to a range.

    Args:
        value: The value to limit.
        low: The smallest allowed value.
        high: The largest allowed value.

    Returns:
        ``value``, or the bound it crossed.

    Raises:
        ValueError: When ``low`` exceeds ``high``.
    """
''', 1)


@pytest.fixture
def project(tmp_path):
    need_bwrap()
    root = make_project(tmp_path / "repo")
    (root / "calc" / "clamp.py").write_text(CLAMP)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clamp")
    return root


def unit_tests_item(**kw) -> SpecItem:
    return SpecItem(
        id="clamp-tests", title="Tests for clamp", kind="test", category="test",
        file="tests/test_clamp.py", action="create",
        description=f"Unit tests for clamp. {marker('clamp-tests')}",
        requirements=["a value inside the range is returned unchanged, bounds included",
                      "values below low give low, above high give high",
                      "low > high raises ValueError('low must not exceed high')"],
        under_test="calc/clamp.py::clamp", route="local", route_reason="test", **kw)


def doc_item() -> SpecItem:
    return SpecItem(
        id="clamp-doc", title="Document clamp", kind="doc", category="docstring",
        file="calc/clamp.py", action="modify", document=["clamp"], doc_style="google",
        description=f"Docstring for clamp. {marker('clamp-doc')}", route="local",
        route_reason="test")


def like_item() -> SpecItem:
    return SpecItem(
        id="triple", title="triple(x)", kind="function", category="boilerplate",
        file="calc/ops.py", symbol="triple", action="create", like="calc/ops.py::double",
        signature="def triple(x: int) -> int",
        description=f"Like double, times three. {marker('triple')}",
        examples=[Example(input="triple(2)", expected="6"),
                  Example(input="triple(-1)", expected="-3")],
        route="local", route_reason="test")


def fenced(text: str) -> str:
    return f"```python\n{text}```\n"


def run(root, local):
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        ollama.responder = local
        settings = settings_for(root, ollama, claude)
        return implement_plan(root, "p1", settings=settings)


def test_a_vacuous_test_file_goes_back_with_the_surviving_mutants(project):
    write_plan(project, [unit_tests_item()])
    local = Script({"clamp-tests": [fenced(VACUOUS_TESTS), fenced(GOOD_TESTS)]})
    result = run(project, local)
    assert result.ok, [i.error for i in result.items]
    first, second = local.seen["clamp-tests"]
    assert "Code under test" in first and "raise ValueError(\"low must not exceed high\")" \
        in first  # the model reads the code it tests
    assert "Behaviours to cover" in first and "Return the complete test file" in first
    attempts = attempts_of(project, "clamp-tests")
    assert [a["outcome"] for a in attempts] == ["test_failed", "passed"]
    feedback = attempts[0]["feedback"]
    assert "mutants of the code under test survived" in feedback
    assert "`clamp`, line 5: `>` made `>=` and no test failed" in feedback
    assert "`clamp`, line 5: `>` made `>=`" in second  # the model sees the same lines
    assert (result.worktree / "tests/test_clamp.py").read_text() == GOOD_TESTS


def test_a_test_file_that_fails_against_the_code_is_a_test_failure(project):
    write_plan(project, [unit_tests_item()])
    wrong = GOOD_TESTS.replace("clamp(15, 0, 10) == 10", "clamp(15, 0, 10) == 15")
    local = Script({"clamp-tests": [fenced(wrong), fenced(GOOD_TESTS)]})
    result = run(project, local)
    assert result.ok
    attempts = attempts_of(project, "clamp-tests")
    assert attempts[0]["outcome"] == "test_failed"
    assert "test_below_and_above_are_clamped" in attempts[0]["feedback"]


def test_a_docstring_change_that_edits_code_is_refused_naming_the_line(project):
    write_plan(project, [doc_item()])
    edited = DOCUMENTED.replace("if value < low:", "if value <= low:")
    local = Script({"clamp-doc": [fenced(edited), fenced(DOCUMENTED)]})
    result = run(project, local)
    assert result.ok, [i.error for i in result.items]
    first = local.seen["clamp-doc"][0]
    assert "Add docstrings to `clamp`" in first and "google convention" in first
    attempts = attempts_of(project, "clamp-doc")
    assert [a["outcome"] for a in attempts] == ["test_failed", "passed"]
    assert "line 20 changed: `if value <= low:` (was line 7: `if value < low:`)" \
        in attempts[0]["feedback"]
    assert (result.worktree / "calc/clamp.py").read_text() == DOCUMENTED


def test_a_look_alike_item_shows_its_pattern(project):
    write_plan(project, [like_item()])
    answer = "```python\ndef triple(x: int) -> int:\n    return 3 * x\n```\n"
    local = Script({"triple": [answer]})
    result = run(project, local)
    assert result.ok
    prompt = local.seen["triple"][0]
    assert "The pattern to follow" in prompt and "return 2 * x" in prompt
    assert "return 3 * x" in (result.worktree / "calc/ops.py").read_text()


def test_the_spec_checks_the_new_fields(project):
    spec = Spec(title="t", items=[unit_tests_item(), doc_item(), like_item()])
    assert [i for i in validate_spec(spec, project) if i.is_error] == []
    broken = Spec(title="t", items=[
        unit_tests_item().model_copy(update={"under_test": None}),
        doc_item().model_copy(update={"document": []}),
        like_item().model_copy(update={"like": "calc/nope.py::x", "mutation_score": 0.5}),
    ])
    found = {(i.item_id, i.field): i.message for i in validate_spec(broken, project)}
    assert "judged only by passing" in found[("clamp-tests", "under_test")]
    assert "required for a Python doc item" in found[("clamp-doc", "document")]
    assert found[("triple", "like")] == "calc/nope.py does not exist"
    assert found[("triple", "mutation_score")] == "only a test item has a mutation score"


def test_the_three_kinds_route_local_until_their_history_fails():
    from hybridcode.ledger.history import KindStats
    from hybridcode.plan.routing import route_item

    for item in (unit_tests_item(), doc_item(), like_item()):
        fresh = item.model_copy(update={"route": None, "route_reason": ""})
        assert route_item(fresh).route == "local"
        failing = KindStats(local_uses=10, escalated=8)
        decision = route_item(fresh, failing)
        assert decision.route == "claude" and decision.rule == "history-demote"
    assert route_item(like_item().model_copy(update={"category": "other"})).rule == "look-alike"


def test_a_test_item_is_sized_by_what_it_says():
    item = unit_tests_item()
    plain = item.model_copy(update={"under_test": None})
    # The kind fields count only where used, and a test item's spec is its behaviours.
    assert 0 < item.spec_size() - plain.spec_size() < 20
    assert item.spec_size() < 300
