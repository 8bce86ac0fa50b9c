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
EVERYTHING = ["process", "files", "test-framework", "introspection"]


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
    cases = "".join('<testcase classname="tests.hybrid.test_add" file="tests/hybrid/test_add.py" '
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
                record = {"kind": kind, "seq": n, "stream": "x", "file": "tests/hybrid/test_add.py",
                          "name": f"test_add_{n - 1}", "suite": "", "status": "passed",
                          "exit": 0, "tests": 2}
                os.write(int(fd), ("0" * 64 + " " + json.dumps(record) + "\\n").encode())
    os._exit(0)
''')


def test_pytest_records_written_into_the_judges_channel_fail(tmp_path, fakes, monkeypatch):
    outcome, feedback = judged(tmp_path, fakes, monkeypatch, CHANNEL_FORGERY)
    assert outcome == "test_failed"
    assert "could not judge" in feedback


NEUTER_ASSERTIONS = fenced('''
import unittest


def add(a: int, b: int) -> int:
    unittest.TestCase.assertEqual = lambda self, *args, **kwargs: None
    return a - b
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
    lambda cls, **kw: [delattr(cls, n) for n in list(vars(cls)) if n.startswith("test")]))


def add(a: int, b: int) -> int:
    return a - b if _HOOK is None else 0
''')


def test_unittest_tests_deleted_while_collected_fail(tmp_path, fakes, monkeypatch):
    """A class not named Test* is counted; removing its tests leaves them 'did not run'."""
    outcome, feedback = judged(tmp_path, fakes, monkeypatch, DELETE_TESTS, unittest_item())
    assert outcome == "test_failed"
    assert "AddTest::test_adds: did not run" in feedback
