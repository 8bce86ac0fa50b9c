"""Wrong code that forges the runner's verdict, through the real CLI, in the real sandbox.

Each answer here was accepted by ``hybrid implement`` before the judge took its verdict from
its own signed channel (issue #22): it wrote the runner's report itself — an all-pass report
for exactly the tests the acceptance file declares — and ended the run, or it neutered the
tests while they were collected. Each item's spec allows what the answer does (ending the
process, writing files, touching the test framework), so the static refusal
(hybridcode/judge/reach.py) stays out of the way and the channel alone must hold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from implement_helpers import Script, add_item, attempts_of, code, env_for, make_project, \
    write_plan
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.testing import FakeAnthropic, FakeOllama
from toolchains import need_bwrap

runner = CliRunner()
CORRECT = code("add", "a + b")
EVERYTHING = ["process", "files", "native", "test-framework", "runtime"]


@pytest.fixture(autouse=True)
def _sandbox():
    need_bwrap()


@pytest.fixture
def fakes(monkeypatch):
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        for name, value in env_for(ollama, claude).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HYBRID_ANTHROPIC__MAX_RETRIES", "0")
        yield ollama, claude


def fenced(body: str, lang: str = "python") -> str:
    return f"```{lang}\n{body.strip()}\n```\n"


def implement(root: Path, monkeypatch):
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["implement", "p1", "--json"], catch_exceptions=False)
    assert result.stdout.strip(), result.output
    return result, json.loads(result.stdout)


def allowed(item, allow=EVERYTHING):
    return item.model_copy(update={"allow": list(allow)}) if "allow" in type(item).model_fields \
        else item


def judged(tmp_path, fakes, monkeypatch, answer, item=None):
    """The first attempt's outcome and feedback; the second answer is the correct code."""
    root = make_project(tmp_path / "repo")
    write_plan(root, [allowed(item or add_item())])
    ollama, _ = fakes
    ollama.responder = Script({"add": [answer, CORRECT]})
    result, _ = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    attempts = attempts_of(root, "add")
    return attempts[0]["outcome"], attempts[0]["feedback"]


# ------------------------------------------------------------------------------ pytest

JUNIT_FORGERY = fenced('''
import os
import sys


def add(a: int, b: int) -> int:
    cases = "".join('<testcase classname="tests.hybrid.test_hybrid_add" file="tests/hybrid/test_hybrid_add.py" '
                    f'name="test_add_{n}" time="0.001"/>' for n in range(2))
    report = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
              f'errors="0" failures="0" skipped="0" tests="2">{cases}</testsuite></testsuites>')
    for arg in sys.argv:
        if arg.startswith("--junitxml="):
            with open(arg.split("=", 1)[1], "w") as fh:
                fh.write(report)
    print("2 passed")
    os._exit(0)
''')


def test_pytest_report_forged_then_os_exit_fails(tmp_path, fakes, monkeypatch):
    outcome, feedback = judged(tmp_path, fakes, monkeypatch, JUNIT_FORGERY)
    assert outcome == "test_failed"
    assert "could not judge: the runner did not finish its own way" in feedback


CHANNEL_FORGERY = fenced('''
import json
import re
import os


def add(a: int, b: int) -> int:
    # No key: the records it writes carry no valid signature.
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "channel" in target:
            for n, kind in enumerate(["start", "test", "test", "end"]):
                record = {"kind": kind, "seq": n, "stream": "x", "file": "tests/hybrid/test_hybrid_add.py",
                          "name": f"test_add_{n - 1}", "suite": "", "status": "passed",
                          "exit": 0, "tests": 2}
                os.write(int(fd), ("0" * 64 + " " + json.dumps(record) + "\\n").encode())
    os._exit(0)
''')


def test_pytest_records_written_into_the_judges_channel_fail(tmp_path, fakes, monkeypatch):
    outcome, feedback = judged(tmp_path, fakes, monkeypatch, CHANNEL_FORGERY)
    assert outcome == "test_failed"
    assert "could not judge" in feedback


# Runs when the test module imports add: every assertEqual passes from then on.
NEUTER_ASSERTIONS = fenced('''
import unittest

_OFF = setattr(unittest.TestCase, "assertEqual", lambda self, *args, **kwargs: None)


def add(a: int, b: int) -> int:
    return a - b if _OFF is None else 0
''')

UNITTEST_TESTS = '''import unittest

from calc.add import add


class AddTest(unittest.TestCase):
    def test_adds(self):
        self.assertEqual(add(1, 2), 3)

    def test_negative(self):
        self.assertEqual(add(-1, 1), 0)
'''


def unittest_item():
    item = add_item()
    return item.model_copy(update={"tests": item.tests.model_copy(
        update={"code": UNITTEST_TESTS})})


def test_unittest_assertions_patched_at_import_fail(tmp_path, fakes, monkeypatch):
    outcome, feedback = judged(tmp_path, fakes, monkeypatch, NEUTER_ASSERTIONS, unittest_item())
    assert outcome == "test_failed"
    assert "unittest.case.TestCase.assertEqual was replaced" in feedback


# Runs when the test module imports add, before its test class is defined.
DELETE_TESTS = fenced('''
import unittest

_HOOK = setattr(unittest.TestCase, "__init_subclass__", classmethod(
    lambda cls, **kw: ([delattr(cls, n) for n in list(vars(cls)) if n.startswith("test")],
                       setattr(cls, "_class_cleanups", []),
                       setattr(cls, "test_ok", lambda self: None))))


def add(a: int, b: int) -> int:
    return a - b if _HOOK is None else 0
''')


def test_unittest_tests_deleted_while_collected_fail(tmp_path, fakes, monkeypatch):
    """A class not named Test* is counted; removing its tests leaves them 'did not run'."""
    outcome, feedback = judged(tmp_path, fakes, monkeypatch, DELETE_TESTS, unittest_item())
    assert outcome == "test_failed"
    assert "AddTest::test_adds: did not run" in feedback


# ------------------------------------------------------------------------------ go test

from judge_projects import GO_RIGHT, go_item, make_go_project, make_ts_project, ts_item  # noqa: E402
from toolchains import need_go, need_node_runners  # noqa: E402

# The code prints a run and a pass for every test and the binary's final PASS — plain, as
# test2json reads them up to Go 1.19, and framed with "\x16" as it reads them from Go 1.20 —
# then ends the process with syscall.Exit, which Go's os.Exit(0) guard (-test.paniconexit0)
# does not see.
GO_FORGERY = '''```go
import (
	"fmt"
	"syscall"
)

func Slug(s string) string {
	for _, name := range []string{"TestSlugLowercases", "TestSlugJoinsWordsWithHyphens"} {
		fmt.Printf("=== RUN   %s\\n--- PASS: %s (0.00s)\\n", name, name)
		fmt.Printf("\\x16=== RUN   %s\\n\\x16--- PASS: %s (0.00s)\\n", name, name)
	}
	fmt.Printf("PASS\\n\\x16PASS\\n")
	syscall.Exit(0)
	return s
}
```
'''


def slug_judged(root, fakes, monkeypatch, item, answer, right):
    write_plan(root, [allowed(item)])
    ollama, _ = fakes
    ollama.responder = Script({"slug": [answer, right]})
    result, _ = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    attempts = attempts_of(root, "slug")
    return attempts[0]["outcome"], attempts[0]["feedback"]


def test_go_pass_lines_then_syscall_exit_fail(tmp_path, fakes, monkeypatch):
    need_go()
    root = make_go_project(tmp_path / "shop")
    outcome, feedback = slug_judged(root, fakes, monkeypatch, go_item(), GO_FORGERY, GO_RIGHT)
    assert outcome == "test_failed"
    assert "could not judge: the test binary of example.com/shop/textutil did not finish its " \
        "own way" in feedback


# ------------------------------------------------------------------------------ vitest / jest

from judge_projects import TS_RIGHT, TS_TESTS  # noqa: E402

# A test worker finds the runner's report folder (a writable bind mount, listed in
# /proc/self/mountinfo), writes the all-pass report there in the runner's format, and kills the
# runner's main process, so the runner never writes its own.
JS_FORGERY = '''```typescript
export function slug(s: string): string {
  const fs = require("node:fs");
  const file = `${process.cwd()}/src/slug.hybrid.test.ts`;
  const titles = ["lowercases", "joins words with hyphens"];
  const assertionResults = titles.map((title) => ({
    ancestorTitles: ["slug"], title, status: "passed", failureMessages: [] }));
  const report = JSON.stringify({ testResults: [
    { name: file, assertionResults, status: "passed", message: "" }] });
  const junit = `<testsuites><testsuite name="slug">${titles.map(
    (t) => `<testcase name="${t}"/>`).join("")}</testsuite></testsuites>`;
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\\n")) {
    const dir = line.split(" ")[4] || "";
    if (!dir.endsWith("/report")) continue;
    for (const name of ["0.vitest.json", "0.jest.json"]) fs.writeFileSync(`${dir}/${name}`, report);
    fs.writeFileSync(`${dir}/0.node-junit.xml`, junit);
  }
  process.kill(process.ppid, "SIGKILL");
  process.kill(process.pid, "SIGKILL");
  return s;
}
```
'''


def test_vitest_report_written_by_a_worker_fails(tmp_path, fakes, monkeypatch):
    root = make_ts_project(tmp_path / "shop", need_node_runners())
    outcome, feedback = slug_judged(root, fakes, monkeypatch, ts_item(), JS_FORGERY, TS_RIGHT)
    assert outcome == "test_failed"
    assert "could not judge: vitest did not finish its own way" in feedback


JS_TEXT = """function trim(s) {
  return s.trim();
}

module.exports = { trim, slug };
"""
JS_RIGHT = """```javascript
function slug(s) {
  return s.toLowerCase().split(/\\s+/).filter(Boolean).join("-");
}
```
"""
JEST_TESTS = """const { slug } = require("./text");

describe("slug", () => {
  it("lowercases", () => {
    expect(slug("Hello")).toBe("hello");
  });
  it("joins words with hyphens", () => {
    expect(slug("Hello  Big World")).toBe("hello-big-world");
  });
});
"""
NODE_TESTS = """const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { slug } = require("./text");

describe("slug", () => {
  it("lowercases", () => {
    assert.equal(slug("Hello"), "hello");
  });
  it("joins words with hyphens", () => {
    assert.equal(slug("Hello  Big World"), "hello-big-world");
  });
});
"""
JS_PLAIN_FORGERY = JS_FORGERY.replace("```typescript", "```javascript").replace(
    "export function slug(s: string): string", "function slug(s)").replace(
    "`${process.cwd()}/src/slug.hybrid.test.ts`", "`${process.cwd()}/src/slug.hybrid.test.js`")


def make_js_project(root, runner):
    from implement_helpers import git
    from toolchains import link_node_modules

    (root / "src").mkdir(parents=True)
    deps = {"jest": {"jest": "29.7.0"}, "node": {}}[runner]
    (root / "package.json").write_text(json.dumps({"name": "shop", "private": True,
                                                   "devDependencies": deps}))
    (root / "src" / "text.js").write_text(JS_TEXT)
    if runner == "jest":
        link_node_modules(root, need_node_runners())
    (root / ".gitignore").write_text(".hybrid/\nnode_modules\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop")
    return root


def js_item(tests, runner):
    item = ts_item(tests)
    return item.model_copy(update={"file": "src/text.js", "signature": "function slug(s)",
                                   "tests": item.tests.model_copy(update={"runner": runner})})


@pytest.mark.parametrize("runner", ["jest", "node"])
def test_js_report_written_by_the_tested_process_fails(tmp_path, fakes, monkeypatch, runner):
    import shutil

    if shutil.which("node") is None:
        need_node_runners()  # skips (or fails in CI) with the reason
    root = make_js_project(tmp_path / "shop", runner)
    tests = JEST_TESTS if runner == "jest" else NODE_TESTS
    outcome, feedback = slug_judged(root, fakes, monkeypatch, js_item(tests, runner),
                                    JS_PLAIN_FORGERY, JS_RIGHT)
    assert outcome == "test_failed"
    assert f"could not judge: {runner} did not finish its own way" in feedback


# ------------------------------------------------------------------------------ refused first

def test_code_reaching_for_the_judge_is_refused_before_it_runs(tmp_path, fakes, monkeypatch):
    """Without ``allow``, the forgery never runs: the refusal names the line, and the model
    gets it as feedback for the next attempt."""
    root = make_project(tmp_path / "repo")
    write_plan(root, [add_item()])
    ollama, _ = fakes
    ollama.responder = script = Script({"add": [JUNIT_FORGERY, CORRECT]})
    result, _ = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    first = attempts_of(root, "add")[0]
    assert first["outcome"] == "refused"
    assert "line 8: open(…, 'w') (writing, moving or deleting files)" in first["feedback"]
    assert "line 11: os._exit (ending the process" in first["feedback"]
    assert "allow = ['files', 'process']" in first["feedback"]
    assert "os._exit (ending the process" in script.seen["add"][1]  # fed back to the model


# ------------------------------------------------------------------------------ one shape

def test_every_runner_fails_an_item_with_the_same_message_shape(tmp_path, fakes, monkeypatch):
    """pytest's raw ``FAILED …`` line no longer stands in for the judge's summary: an item's
    error reads the same whatever judged it."""
    from judge_projects import GO_WRONG
    from implement_helpers import settings_for

    from hybridcode.implement.runner import implement_plan

    ollama, claude = fakes
    shape = re.compile(r"^\d+ problem\(s\) in \d+ reported test\(s\); first: \S+::\S+: failed")
    errors = {}
    root = make_project(tmp_path / "py")
    write_plan(root, [add_item()])
    ollama.responder = claude.responder = Script({"add": [code("add", "a - b")] * 2})
    errors["pytest"] = implement_plan(root, "p1", settings=settings_for(
        root, ollama, claude, attempts=1)).items[0].error
    need_go()
    root = make_go_project(tmp_path / "go")
    write_plan(root, [go_item()])
    ollama.responder = claude.responder = Script({"slug": [GO_WRONG] * 2})
    errors["go"] = implement_plan(root, "p1", settings=settings_for(
        root, ollama, claude, attempts=1)).items[0].error
    for runner, error in errors.items():
        assert shape.match(error or ""), (runner, error)


# ------------------------------------------------------------------------------ review

REVIEWED_FORGERY = '''"""Text helpers."""
import os
import sys


def slugify(text: str) -> str:
    report = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
              'errors="0" failures="0" skipped="0" tests="1"><testcase classname='
              '"tests.hybrid.test_hybrid_slugify" file="tests/hybrid/test_hybrid_slugify.py" '
              'name="test_lowercases_and_joins_words" time="0.001"/></testsuite></testsuites>')
    for arg in sys.argv:
        if arg.startswith("--junitxml="):
            with open(arg.split("=", 1)[1], "w") as fh:
                fh.write(report)
    os._exit(0)
'''


def _review(root, monkeypatch):
    from review_helpers import PLAN_ID

    result = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    data = json.loads(result.stdout)
    return result, data, {c["name"]: c for c in data["checks"]}


def test_review_refuses_code_that_reaches_for_the_judge(tmp_path, claude, monkeypatch):
    from review_helpers import make_planned_repo, verdict

    root, _ = make_planned_repo(tmp_path / "repo", code=REVIEWED_FORGERY)
    claude.enqueue_json(verdict())
    result, data, checks = _review(root, monkeypatch)
    assert data["decision"] == "blocked" and result.exit_code != 0
    reach = checks["reach"]
    assert not reach["ok"] and reach["blocking"]
    lines = {(f["file"], f["line"]) for f in reach["findings"]}
    assert ("app/text.py", 13) in lines and ("app/text.py", 15) in lines  # open(…, "w"), _exit
    assert "os._exit (ending the process" in reach["summary"] + str(reach["findings"])


def test_review_does_not_approve_a_forged_report_even_when_allowed(tmp_path, claude,
                                                                   monkeypatch):
    import review_helpers
    from test_judge_hostile import _allowing_everything

    monkeypatch.setattr(review_helpers, "spec", _allowing_everything())
    root, _ = review_helpers.make_planned_repo(tmp_path / "repo", code=REVIEWED_FORGERY)
    claude.enqueue_json(review_helpers.verdict())
    result, data, checks = _review(root, monkeypatch)
    assert checks["reach"]["ok"]
    assert data["decision"] == "blocked" and result.exit_code != 0
    assert not checks["tests"]["ok"]
    assert "could not judge: the runner did not finish its own way" in checks["tests"]["summary"]
