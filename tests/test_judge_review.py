"""Review's test check runs the Go and TypeScript tests of the diff's packages with their own
runners (through the judge): a change that breaks a package's tests blocks the review, naming
the test, before any reviewer tokens are spent."""

from __future__ import annotations

from implement_helpers import git
from judge_projects import GO_TRIM_TESTS, TS_TRIM_TESTS, make_go_project, make_ts_project
from toolchains import need_go, need_node_runners

from hybridcode.review.checks import select_tests
from hybridcode.review.service import review_staged
from hybridcode.vcs.diff import staged_diff


def _tests_check(outcome):
    return next(c for c in outcome.checks if c.name == "tests")


def test_a_go_change_runs_its_packages_tests_and_a_failure_blocks(tmp_path, claude):
    need_go()
    root = make_go_project(tmp_path / "shop")
    (root / "textutil" / "text_test.go").write_text(GO_TRIM_TESTS)
    (root / "other").mkdir()
    (root / "other" / "other_test.go").write_text(
        'package other\n\nimport "testing"\n\nfunc TestOther(t *testing.T) { t.Fatal("x") }\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tests")
    text = root / "textutil" / "text.go"
    text.write_text(text.read_text().replace("strings.TrimSpace(s)", 'strings.TrimLeft(s, " ")'))
    git(root, "add", "-A")
    # The changed package's tests, not another package's.
    assert select_tests(root, staged_diff(root), None) == ["textutil/text_test.go"]
    outcome = review_staged(root)
    tests = _tests_check(outcome)
    assert outcome.decision == "blocked" and not tests.ok and not tests.could_not_run
    assert tests.findings[0]["file"] == "textutil/text_test.go"
    assert "TestTrimSpaces: failed" in tests.findings[0]["message"]
    assert claude.requests == []


def test_a_typescript_change_runs_the_modules_tests_with_vitest(tmp_path, claude):
    root = make_ts_project(tmp_path / "shop", need_node_runners())
    (root / "src" / "text.test.ts").write_text(TS_TRIM_TESTS)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tests")
    text = root / "src" / "text.ts"
    text.write_text(text.read_text().replace("s.trim()", "s"))
    git(root, "add", "-A")
    assert select_tests(root, staged_diff(root), None) == ["src/text.test.ts"]
    outcome = review_staged(root)
    tests = _tests_check(outcome)
    assert outcome.decision == "blocked" and not tests.ok
    assert tests.findings[0]["file"] == "src/text.test.ts"
    assert "trim removes surrounding spaces: failed" in tests.findings[0]["message"]
    assert claude.requests == []
