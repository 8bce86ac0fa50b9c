"""Go and TypeScript items judged end to end: the real SDK against FakeOllama, a real git
repository, the real ``go`` and vitest/tsc toolchains. Each item passes with correct code,
fails with wrong code with the failing test named in the feedback, and a test that is skipped
or never runs fails the item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from implement_helpers import Script, attempts_of, env_for, settings_for
from judge_projects import (
    GO_RIGHT,
    GO_TESTS,
    GO_WRONG,
    TS_RIGHT,
    TS_TESTS,
    TS_UNTYPED,
    TS_WRONG,
    go_item,
    make_go_project,
    make_ts_project,
    plan_with,
    ts_item,
)
from toolchains import need_go, need_node_runners
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.implement.runner import implement_plan
from hybridcode.testing import FakeAnthropic, FakeOllama


@pytest.fixture
def fakes():
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        yield ollama, claude


@pytest.fixture
def go_project(tmp_path):
    need_go()
    return make_go_project(tmp_path / "shop")


@pytest.fixture
def ts_project(tmp_path):
    return make_ts_project(tmp_path / "shop", need_node_runners())


def run(root, fakes, answers, **settings_kw):
    ollama, claude = fakes
    script = Script({"slug": answers})
    ollama.responder = script
    claude.responder = script
    # One local rung, one attempt each: the test decides exactly which answers are judged.
    settings = settings_for(root, ollama, claude, **settings_kw)
    return implement_plan(root, "p1", settings=settings), script


def outcome(result):
    return result.items[0].state


def implement_through_the_cli(root, fakes, answers, monkeypatch):
    """``hybrid implement p1 --json`` in ``root``, the model answering ``answers`` in turn."""
    ollama, claude = fakes
    script = Script({"slug": answers})
    ollama.responder = script
    claude.responder = script
    for name, value in env_for(ollama, claude).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HYBRID_ATTEMPTS", "1")
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["implement", "p1", "--json"], catch_exceptions=False)
    return result, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


# ---------------------------------------------------------------------------------- Go

def test_go_item_passes_with_correct_code(go_project, fakes):
    plan_with(go_project, go_item())
    result, script = run(go_project, fakes, [GO_RIGHT])
    assert outcome(result) == "passed", result.items[0].error
    assert script.count("slug") == 1
    code = (result.worktree / "textutil/text.go").read_text()
    assert "func Slug(s string) string" in code and "func Trim" in code
    # The acceptance tests were written beside the target, where go test reads them.
    assert (result.worktree / "textutil/hybrid_slug_test.go").read_text() == GO_TESTS
    # The implementer saw the Go tests it is judged by.
    assert "func TestSlugJoinsWordsWithHyphens" in script.seen["slug"][0]


def test_go_wrong_code_fails_with_the_failing_test_named(go_project, fakes):
    plan_with(go_project, go_item())
    result, script = run(go_project, fakes, [GO_WRONG, GO_RIGHT])
    assert outcome(result) == "passed"
    first = attempts_of(go_project, "slug")[0]
    assert first["outcome"] == "test_failed"
    feedback = first["feedback"]
    failing = "textutil/hybrid_slug_test.go::TestSlugJoinsWordsWithHyphens: failed"
    assert failing in feedback
    # (the judge folds whitespace in one-line problems)
    assert 'Slug("Hello Big World") = "hello big world", want "hello-big-world"' in feedback
    assert "TestSlugLowercases" not in feedback  # it passed: no noise about it
    assert "=== RUN" not in feedback and '"Action"' not in feedback
    assert failing in script.seen["slug"][1]


def test_go_compile_error_is_reported_by_the_type_stage(go_project, fakes):
    plan_with(go_project, go_item())
    broken = GO_RIGHT.replace('"-")', '"-") + 1')
    result, _ = run(go_project, fakes, [broken, GO_RIGHT])
    assert outcome(result) == "passed"
    first = attempts_of(go_project, "slug")[0]
    assert "textutil/text.go::go vet ./textutil (type check)" in first["feedback"]
    assert "textutil/text.go:" in first["feedback"] and "mismatched types" in first["feedback"]


def test_go_skipped_test_fails_the_item(go_project, fakes):
    tests = GO_TESTS.replace('func TestSlugLowercases(t *testing.T) {\n',
                             'func TestSlugLowercases(t *testing.T) {\n\tt.Skip("later")\n')
    plan_with(go_project, go_item(tests))
    result, _ = run(go_project, fakes, [GO_RIGHT], attempts=1)
    assert outcome(result) == "failed"
    feedback = attempts_of(go_project, "slug")[0]["feedback"]
    assert "hybrid_slug_test.go::TestSlugLowercases: was skipped" in feedback
    assert "later" in feedback


def test_go_test_that_never_runs_fails_the_item(go_project, fakes):
    # The model's code ends the test binary with exit status 0 in the first test it meets.
    exits = GO_RIGHT.replace('import "strings"', 'import (\n\t"os"\n\t"strings"\n)').replace(
        "\treturn strings", "\tos.Exit(0)\n\treturn strings")
    plan_with(go_project, go_item())
    result, _ = run(go_project, fakes, [exits], attempts=1)
    assert outcome(result) == "failed"
    feedback = attempts_of(go_project, "slug")[0]["feedback"]
    assert "hybrid_slug_test.go::TestSlugJoinsWordsWithHyphens: did not run" in feedback
    assert "hybrid_slug_test.go::TestSlugLowercases: failed" in feedback


# A whole-file answer whose function needs the package's constant, variable and helper: all are
# kept (they used to be cut, and the code failed with "undefined: breaks").
GO_WITH_CONSTANT = '''```go
package textutil

import "strings"

// breaks separate words.
const breaks = " \\t\\n"

var joiner = "-"

func isBreak(r rune) bool { return strings.ContainsRune(breaks, r) }

func Slug(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), isBreak), joiner)
}

func main() {}
```
'''


def test_go_answer_using_a_module_level_constant_passes_through_hybrid_implement(
        go_project, fakes, monkeypatch):
    plan_with(go_project, go_item())
    result, data = implement_through_the_cli(go_project, fakes, [GO_WITH_CONSTANT], monkeypatch)
    assert result.exit_code == 0, result.output
    assert data["status"] == "implemented" and data["passed"] == 1, data
    code = (Path(data["worktree"]) / "textutil/text.go").read_text()
    # Kept whole, after the file's own function, with the file's one blank line between
    # declarations; the answer's unrelated main() was cut.
    assert code.endswith('''\treturn strings.TrimSpace(s)
}

// breaks separate words.
const breaks = " \\t\\n"

var joiner = "-"

func isBreak(r rune) bool { return strings.ContainsRune(breaks, r) }

func Slug(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), isBreak), joiner)
}
'''), code
    assert "func main" not in code and code.count('import "strings"') == 1


# ---------------------------------------------------------------------------------- TypeScript

TS_WITH_CONSTANT = '''```typescript
const BREAKS = /\\s+/;
export const SEP = "-";
let calls = 0;

function words(s: string): string[] {
  calls += 1;
  return s.toLowerCase().split(BREAKS).filter(Boolean);
}

export function slug(s: string): string {
  return words(s).join(SEP);
}

console.log(slug("Hello World"), calls);
```
'''


def test_ts_answer_using_a_module_level_constant_passes_through_hybrid_implement(
        ts_project, fakes, monkeypatch):
    plan_with(ts_project, ts_item())
    result, data = implement_through_the_cli(ts_project, fakes, [TS_WITH_CONSTANT], monkeypatch)
    assert result.exit_code == 0, result.output
    assert data["status"] == "implemented" and data["passed"] == 1, data
    code = (Path(data["worktree"]) / "src/text.ts").read_text()
    assert code == '''export function trim(s: string): string {
  return s.trim();
}

const BREAKS = /\\s+/;
export const SEP = "-";
let calls = 0;

function words(s: string): string[] {
  calls += 1;
  return s.toLowerCase().split(BREAKS).filter(Boolean);
}

export function slug(s: string): string {
  return words(s).join(SEP);
}
''', code

def test_ts_item_passes_with_correct_code(ts_project, fakes):
    plan_with(ts_project, ts_item())
    result, script = run(ts_project, fakes, [TS_RIGHT])
    assert outcome(result) == "passed", result.items[0].error
    assert (result.worktree / "src/slug.hybrid.test.ts").read_text() == TS_TESTS
    assert 'expect(slug("Hello")).toBe("hello")' in script.seen["slug"][0]


def test_ts_wrong_code_fails_with_the_failing_test_named(ts_project, fakes):
    plan_with(ts_project, ts_item())
    result, script = run(ts_project, fakes, [TS_WRONG, TS_RIGHT])
    assert outcome(result) == "passed"
    first = attempts_of(ts_project, "slug")[0]
    assert first["outcome"] == "test_failed"
    feedback = first["feedback"]
    failing = "src/slug.hybrid.test.ts::slug::joins words with hyphens: failed"
    assert failing in feedback
    assert "expected 'hello big world' to be 'hello-big-world'" in feedback
    assert "at src/slug.hybrid.test.ts:9" in feedback  # where, relative to the repository
    assert "node_modules" not in feedback and "lowercases" not in feedback
    assert failing in script.seen["slug"][1]


def test_ts_type_error_fails_in_the_type_stage(ts_project, fakes):
    plan_with(ts_project, ts_item())
    result, _ = run(ts_project, fakes, [TS_UNTYPED, TS_RIGHT])
    assert outcome(result) == "passed"
    feedback = attempts_of(ts_project, "slug")[0]["feedback"]
    assert "src/text.ts::tsc --noEmit (type check)" in feedback
    assert "src/text.ts(" in feedback and "TS2322" in feedback


def test_ts_title_with_brackets_is_matched_to_its_report(ts_project, fakes):
    # pytest's "name[params]" must not swallow a title that holds "[" itself.
    tests = TS_TESTS.replace('it("lowercases"', 'it("lowercases [ASCII]"')
    plan_with(ts_project, ts_item(tests))
    result, _ = run(ts_project, fakes, [TS_RIGHT], attempts=1)
    assert outcome(result) == "passed", result.items[0].error


def test_ts_skipped_test_fails_the_item(ts_project, fakes):
    tests = TS_TESTS.replace('it("lowercases"', 'it.skip("lowercases"')
    plan_with(ts_project, ts_item(tests))
    result, _ = run(ts_project, fakes, [TS_RIGHT], attempts=1)
    assert outcome(result) == "failed"
    feedback = attempts_of(ts_project, "slug")[0]["feedback"]
    assert "src/slug.hybrid.test.ts::slug::lowercases: was skipped" in feedback


def test_ts_test_that_never_runs_fails_the_item(ts_project, fakes):
    # The model's code kills the test worker in the first test that calls it.
    exits = TS_RIGHT.replace("  return s.", "  const p = (globalThis as any).process;\n"
                             '  p.kill(p.pid, "SIGKILL");\n  return s.')
    plan_with(ts_project, ts_item())
    result, _ = run(ts_project, fakes, [exits], attempts=1)
    assert outcome(result) == "failed"
    feedback = attempts_of(ts_project, "slug")[0]["feedback"]
    # Which of two things vitest does is a race: it writes no report (the tests did not run),
    # or a report with the tests it never got a result for as "pending" (they did not finish).
    # Either way no test passed, and neither is called a skip.
    for test in ("slug::lowercases", "slug::joins words with hyphens"):
        assert (f"{test}: did not run" in feedback
                or f"{test}: errored: did not finish (vitest never got its result" in feedback)
    assert "skipped" not in feedback


def test_vitests_pending_is_a_test_that_did_not_finish_and_jests_a_skip():
    """vitest's JSON says "pending" for a test whose worker was killed before its result (the
    report the killed-worker test above gets about one run in three); jest says it for it.skip."""
    from hybridcode.judge.reports import parse_jest_json

    report = json.dumps({"testResults": [{"name": "/w/src/t.test.ts", "status": "passed",
                                          "message": "", "assertionResults": [
        {"ancestorTitles": ["slug"], "title": "lowercases", "status": "pending",
         "failureMessages": []}]}]})
    vitest = parse_jest_json(report, "vitest").outcomes[0]
    jest = parse_jest_json(report, "jest").outcomes[0]
    assert vitest.status == "error" and "did not finish" in vitest.message
    assert jest.status == "skipped"
