"""`hybrid review PLAN --fix`: findings go back to the implementer ladder, the items are
implemented again in the plan's worktree, and the new diff is reviewed. Real git repositories,
real pytest runs, and the real SDKs against FakeOllama (implementer) and FakeAnthropic
(reviewer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from implement_helpers import (
    Script,
    add_item,
    arith_tests,
    code,
    fn_item,
    git,
    make_project,
    user_tree,
    write_plan,
)
from review_helpers import CHECKLIST_IDS
from signals import default_sigint
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.config import load_settings
from hybridcode.errors import UsageError
from hybridcode.implement.runner import implement_plan
from hybridcode.implement.state import RunState
from hybridcode.ledger import Ledger
from hybridcode.plan.store import PlanStore
from hybridcode.review.assign import assign_findings
from hybridcode.review.checks import CheckResult
from hybridcode.review.verdict import Verdict
from hybridcode.spec import load_spec
from hybridcode.testing import FakeOllama

runner = CliRunner()
SECRET = '"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'


@pytest.fixture
def ollama(monkeypatch):
    with FakeOllama() as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        yield fake


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "repo")
    before = user_tree(root)
    yield root
    # Fix rounds never touch the user's tree and never commit on the plan's branch.
    assert user_tree(root) == before
    if git(root, "branch", "--list", "hybrid/p1").strip():
        assert git(root, "rev-parse", "hybrid/p1") == before["head"]


def answer(decision: str = "approve", findings: list[dict[str, Any]] | None = None,
           grades: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A reviewer's verdict (the structured output the fake Claude sends back)."""
    return {
        "checklist": [{"id": i, "question": f"{i}?", "reasoning": f"looked at {i}",
                       "passed": decision == "approve"} for i in CHECKLIST_IDS],
        "findings": findings or [],
        "grades": grades if grades is not None else [
            {"item_id": "add", "grade": "good" if decision == "approve" else "acceptable",
             "failure_mode": ""}],
        "decision": decision,
        "summary": "Reviewed.",
    }


def finding(file: str = "calc/add.py", line: int = 5, severity: str = "major",
            title: str = "Sum ignores the overflow rule") -> dict[str, Any]:
    return {"file": file, "line": line, "severity": severity, "title": title,
            "explanation": "add(2**63, 1) must raise OverflowError per the spec.",
            "suggested_fix": "check the bounds before adding"}


def implemented(root: Path, local: Script, items=None) -> None:
    """The plan p1, implemented by the local model as `hybrid implement` does."""
    write_plan(root, items or [add_item()])
    result = implement_plan(root, "p1", settings=load_settings(root))
    assert result.ok, result.to_dict()


def review(root: Path, *args: str):
    return runner.invoke(app, ["review", "p1", *args, "--repo", str(root)])


def ledger_rows(root: Path, sql: str) -> list[tuple]:
    with Ledger.open(root) as ledger:
        return [tuple(row) for row in ledger.query(sql)]


def worktree(root: Path) -> Path:
    return root / ".hybrid" / "worktrees" / "p1"


# ---------------------------------------------------------------------------------- rounds

def test_findings_go_to_the_item_and_the_second_review_approves(project, ollama, claude):
    local = Script({"add": [code("add", "a + b"), code("add", "b + a")]})
    ollama.responder = local
    implemented(project, local)
    claude.enqueue_json(answer("request_changes", [finding(line=4)]))
    claude.enqueue_json(answer("approve"))

    result = review(project, "--fix")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Fix round 1" in out and "add ← calc/add.py:4" in out
    assert "reworked add: passed" in out and "APPROVED by claude-sonnet-5-5" in out
    # The local model saw the reviewer's finding and the code that was reviewed.
    assert local.count("add") == 2
    prompt = local.seen["add"][1]
    assert "## Review feedback (address every point)" in prompt
    assert "- calc/add.py:4 (major): Sum ignores the overflow rule" in prompt
    assert "Why: add(2**63, 1) must raise OverflowError per the spec." in prompt
    assert "Suggested fix: check the bounds before adding" in prompt
    assert "## Current code of calc/add.py::add (reviewed" in prompt
    assert "return a + b" in prompt
    assert "Review feedback" not in local.seen["add"][0]
    # The new code is in the worktree, uncommitted, and was reviewed afresh.
    assert "return b + a" in (worktree(project) / "calc" / "add.py").read_text()
    reviews = ledger_rows(project, "SELECT decision, diff_sha256 FROM reviews ORDER BY ts")
    assert [r[0] for r in reviews] == ["request_changes", "approve"]
    assert reviews[0][1] != reviews[1][1]
    assert PlanStore(project).meta("p1").status == "approved"
    # The round is visible in the ledger: a `fix` run whose implementer calls are step `fix`.
    assert ledger_rows(project, "SELECT command, status FROM runs WHERE command = 'fix'") == [
        ("fix", "ok")]
    assert ledger_rows(project, "SELECT step, tier, item_id FROM calls WHERE step = 'fix'") == [
        ("fix", "implementer", "add")]
    with Ledger.open(project) as ledger:
        assert RunState(ledger, PlanStore(project), "p1").items()["add"].state == "passed"


def test_still_rejected_after_the_rounds_exits_1_with_every_round_in_json(
        project, ollama, claude):
    local = Script({"add": [code("add", "a + b"), code("add", "b + a"),
                            code("add", "a - (-b)")]})
    ollama.responder = local
    implemented(project, local)
    for title in ("first", "second", "third"):
        claude.enqueue_json(answer("request_changes", [finding(title=f"{title} problem")]))

    result = review(project, "--fix", "--json")

    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "changes_requested" and not data["approved"]
    assert data["verdict"]["findings"][0]["title"] == "third problem"
    assert data["fix"] == {"max_rounds": 2, "rounds": 2, "stopped": "rounds",
                           "message": "still changes requested after 2 fix rounds",
                           "unassigned": []}
    rounds = data["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert [r["sent"][0]["findings"][0]["title"] for r in rounds] == [
        "first problem", "second problem"]
    first = rounds[0]
    assert first["decision"] == "changes_requested" and first["reworked"] == ["add"]
    assert first["sent"][0] == {
        "item_id": "add", "grade": None, "failure_mode": "",
        "findings": [{"file": "calc/add.py", "line": 5, "severity": "major",
                      "title": "first problem",
                      "explanation": "add(2**63, 1) must raise OverflowError per the spec.",
                      "suggested_fix": "check the bounds before adding",
                      "source": "reviewer"}]}
    assert first["implement"]["status"] == "implemented"
    assert first["implement"]["items"][0]["state"] == "passed"
    assert first["after"]["decision"] == "changes_requested"
    assert first["after"]["review_id"] == rounds[1]["review_id"]
    assert rounds[1]["after"]["review_id"] == data["review_id"]
    assert len({r["diff_sha256"] for r in rounds} | {data["diff_sha256"]}) == 3
    assert local.count("add") == 3
    assert "second problem" in local.seen["add"][2] and "first problem" not in local.seen["add"][2]


def test_other_formats_report_the_final_review(project, ollama, claude):
    ollama.responder = Script({"add": [code("add", "a + b"), code("add", "b + a")]})
    implemented(project, ollama.responder)
    claude.enqueue_json(answer("request_changes", [finding()]))
    claude.enqueue_json(answer("request_changes", [finding(title="still wrong")]))

    result = review(project, "--fix", "--rounds", "1", "--format", "sarif")

    assert result.exit_code == 1, result.output
    sarif = json.loads(result.stdout)
    messages = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    assert any("still wrong" in m for m in messages)
    assert not any("Sum ignores" in m for m in messages)


def test_findings_that_no_item_owns_stop_with_a_clear_message(project, ollama, claude):
    local = Script({"add": [code("add", "a + b")]})
    ollama.responder = local
    implemented(project, local)
    claude.enqueue_json(answer("request_changes", [
        finding(file="README.md", line=1, title="Document add()"),
        finding(file="tests/hybrid/test_hybrid_add.py", line=3, title="Tests miss negatives"),
        finding(severity="info", title="Nice and short")]))

    result = review(project, "--fix")

    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert "no finding belongs to a spec item" in out
    assert "README.md:1 major Document add() — no spec item targets README.md" in out
    assert "tests/hybrid/test_hybrid_add.py:3 major Tests miss negatives — " \
           "tests/hybrid/test_hybrid_add.py holds acceptance tests from the spec" in out
    assert "Nice and short — " not in out  # info asks for nothing; it is not "unsent"
    assert "next: fix these by hand" in out
    assert local.count("add") == 1  # the implementer was not asked again
    assert ledger_rows(project, "SELECT COUNT(*) FROM runs WHERE command = 'fix'") == [(0,)]


def test_a_blocked_review_sends_the_failed_check_back(project, ollama, claude):
    leaky = ("```python\ndef add(a: int, b: int) -> int:\n"
             f"    aws_secret_access_key = {SECRET}\n    return a + b\n```\n")
    local = Script({"add": [leaky, code("add", "a + b")]})
    ollama.responder = local
    implemented(project, local)
    claude.enqueue_json(answer("approve"))

    result = review(project, "--fix", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sent = data["rounds"][0]["sent"][0]
    assert data["rounds"][0]["decision"] == "blocked"
    assert sent["item_id"] == "add" and sent["findings"][0]["source"] == "secrets"
    assert sent["findings"][0]["severity"] == "critical"
    assert "secrets: secret:" in local.seen["add"][1]
    # The rework prompt shows the reviewed code with the secret's line withheld.
    assert SECRET.strip('"') not in local.seen["add"][1]
    assert "withheld: it held a secret" in local.seen["add"][1]
    assert len(claude.requests) == 1  # the blocked review cost no reviewer call


def test_a_rework_that_never_passes_keeps_the_reviewed_code(project, ollama, claude):
    # One local rung, one attempt: a wrong answer ends the item's ladder.
    (project / ".hybrid").mkdir()
    (project / ".hybrid" / "config.toml").write_text(
        'attempts = 1\n\n[[tiers.implementer]]\nbackend = "ollama"\n'
        'model = "qwen2.5-coder:32b"\n')
    local = Script({"add": [code("add", "a + b"), code("add", "a * b")]})
    ollama.responder = local
    implemented(project, local)
    before = (worktree(project) / "calc" / "add.py").read_bytes()
    claude.enqueue_json(answer("request_changes", [finding()]))

    result = review(project, "--fix")

    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert "reworked add: failed" in out and "not reviewed again" in out
    assert "no reworked item passed its tests again" in out
    assert (worktree(project) / "calc" / "add.py").read_bytes() == before
    assert len(claude.requests) == 1
    with Ledger.open(project) as ledger:
        row = RunState(ledger, PlanStore(project), "p1").items()["add"]
    assert row.state == "passed" and "the reviewed code is kept" in row.error


def test_a_dependent_item_must_still_pass_after_the_rework(project, ollama, claude):
    """`twice` uses `add`; a rework of `add` that breaks `twice` is refused by its tests."""
    items = [add_item(),
             fn_item("twice", "twice", arith_tests("calc.twice", "twice", [(2, 3, 10)]),
                     depends_on=["add"])]
    twice = ("```python\nfrom calc.add import add\n\n\ndef twice(a: int, b: int) -> int:\n"
             "    return 2 * add(a, b)\n```\n")
    # The rework's first answer passes add's own tests (1+2, -1+1) but breaks twice(2, 3).
    local = Script({"add": [code("add", "a + b"), code("add", "a + b if a < 2 else 0"),
                            code("add", "b + a")],
                    "twice": [twice]})
    ollama.responder = local
    implemented(project, local, items)
    claude.enqueue_json(answer("request_changes", [finding()], grades=[
        {"item_id": "add", "grade": "poor", "failure_mode": "ignores-spec"},
        {"item_id": "twice", "grade": "good", "failure_mode": ""}]))
    claude.enqueue_json(answer("approve", grades=[]))

    result = review(project, "--fix", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rounds"][0]["sent"][0]["grade"] == "poor"
    assert [w["item_id"] for w in data["rounds"][0]["sent"]] == ["add"]
    assert local.count("twice") == 1  # not reworked, but its tests judged the new add
    assert local.count("add") == 3
    assert "Tests of items accepted earlier failed" in local.seen["add"][2]
    assert "graded poor by the reviewer (ignores-spec)" in local.seen["add"][2]
    assert data["rounds"][0]["implement"]["items"] == [
        {"item_id": "add", "state": "passed", "model": "ollama:qwen2.5-coder:32b", "attempts": 2,
         "error": None}]


# ---------------------------------------------------------------------------------- failures

def test_a_reviewer_failure_mid_round_says_where_things_stand(project, ollama, claude):
    ollama.responder = Script({"add": [code("add", "a + b"), code("add", "b + a")]})
    implemented(project, ollama.responder)
    claude.enqueue_json(answer("request_changes", [finding()]))
    claude.enqueue_error(500, "api_error", "Internal server error")

    result = review(project, "--fix")

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: fix round 1 of plan p1 stopped: ")
    assert "the worktree keeps the code that passed its tests and nothing was committed; " \
           "run `hybrid review p1 --fix` to go on" in lines[0]
    assert "Traceback" not in result.output
    # The rework that passed its tests stays in the worktree, recorded as passed.
    assert "return b + a" in (worktree(project) / "calc" / "add.py").read_text()
    with Ledger.open(project) as ledger:
        assert RunState(ledger, PlanStore(project), "p1").items()["add"].state == "passed"


def test_ctrl_c_mid_rework_keeps_the_reviewed_code(project, ollama, claude):
    release = threading.Event()
    asked = threading.Event()

    def hold(item_id: str) -> float:  # the rework's call hangs until the test lets it go
        if local.count(item_id) >= 2:
            asked.set()
            release.wait(30.0)
        return 0.0

    local = Script({"add": [code("add", "a + b"), code("add", "b + a")]}, delay=hold)
    ollama.responder = local
    implemented(project, local)
    before = (worktree(project) / "calc" / "add.py").read_bytes()
    claude.enqueue_json(answer("request_changes", [finding()]))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "hybridcode", "review", "p1", "--fix",
                             "--json", "--repo", str(project)], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_sigint)
    try:
        assert asked.wait(60.0), "the rework never reached the local model"
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
    finally:
        release.set()
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert err.decode().strip().splitlines() == [
        "Interrupted — nothing half-applied; re-run the command to continue."]
    assert (worktree(project) / "calc" / "add.py").read_bytes() == before
    with Ledger.open(project) as ledger:
        row = RunState(ledger, PlanStore(project), "p1").items()["add"]
    assert row.state == "passed" and "not finished: interrupted" in row.error
    assert ledger_rows(project, "SELECT status FROM runs WHERE command = 'fix'") == [
        ("interrupted",)]


# ---------------------------------------------------------------------------------- usage

@pytest.mark.parametrize("args, message", [
    (["p1", "--fix", "--rounds", "0"], "--rounds 0: a fix needs at least one round"),
    (["p1", "--fix", "--rounds", "-3"], "use --rounds 1 or more"),
    (["--fix", "--staged"], "--fix reworks a plan's items"),
    (["--fix", "--base", "HEAD"], "--fix reworks a plan's items"),
    (["--fix", "--ci", "--base", "HEAD"], "--fix reworks a plan's items"),
    (["p1", "--rounds", "3"], "--rounds counts fix rounds and needs --fix"),
])
def test_usage_errors_exit_2_before_any_model_call(project, claude, args, message):
    write_plan(project, [add_item()])
    result = runner.invoke(app, ["review", *args, "--repo", str(project)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert " — " in result.output  # with a hint
    assert claude.requests == []


def test_rework_takes_known_items_of_a_plan_with_a_worktree(project, ollama):
    write_plan(project, [add_item()])
    settings = load_settings(project)
    with pytest.raises(UsageError, match="plan p1 has no worktree to rework"):
        implement_plan(project, "p1", rework={"add": "- fix it"}, settings=settings)
    ollama.responder = Script({"add": [code("add", "a + b")]})
    assert implement_plan(project, "p1", settings=settings).ok
    with pytest.raises(UsageError, match="plan p1 has no item 'mul' to rework") as unknown:
        implement_plan(project, "p1", rework={"mul": "- fix it"}, settings=settings)
    assert unknown.value.hint == "its items are: add"
    with pytest.raises(UsageError, match="no items of plan p1 to rework"):
        implement_plan(project, "p1", rework={}, settings=settings)
    assert ledger_rows(project, "SELECT command FROM runs") == [("implement",)]


# ---------------------------------------------------------------------------------- mapping

OPS = '''"""Two functions in one file."""


def add(a: int, b: int) -> int:
    total = a + b
    return total


def sub(a: int, b: int) -> int:
    return a - b
'''


def _verdict(findings: list[dict[str, Any]], grades: list[dict[str, str]]) -> Verdict:
    return Verdict.model_validate(answer("request_changes", findings, grades))


def test_findings_map_to_the_item_whose_symbol_encloses_the_line(project, tmp_path):
    items = [fn_item("add", "add", arith_tests("calc.ops2", "add", [(1, 2, 3)]),
                     file="calc/ops2.py"),
             fn_item("sub", "sub", arith_tests("calc.ops2", "sub", [(3, 2, 1)]),
                     file="calc/ops2.py"),
             fn_item("mul", "mul", arith_tests("calc.mul", "mul", [(2, 3, 6)]))]
    write_plan(project, items)
    tree = tmp_path / "worktree"
    (tree / "calc").mkdir(parents=True)
    (tree / "calc" / "ops2.py").write_text(OPS)
    spec = load_spec(PlanStore(project).spec_path("p1"))
    verdict = _verdict([finding("calc/ops2.py", 5, title="in add"),
                        finding("calc/ops2.py", 10, "minor", "in sub"),
                        finding("calc/ops2.py", 0, title="whole file"),
                        finding("calc/ops2.py", 1, title="module docstring"),
                        finding("calc/ops2.py", 6, "info", "just a remark")],
                       [{"item_id": "mul", "grade": "poor", "failure_mode": "wrong-op"}])
    tests = CheckResult("tests", False, True, "1 test(s) failed", [
        {"file": "tests/hybrid/test_hybrid_sub.py", "line": 0,
         "message": "test_sub_0: AssertionError"}])

    got = assign_findings(spec, tree, verdict, [tests])

    titles = {w.item_id: [f.title for f in w.findings] for w in got.items}
    assert titles == {"add": ["in add", "whole file"],
                      "sub": ["in sub", "whole file", "tests: test_sub_0: AssertionError"],
                      "mul": []}
    assert [w.item_id for w in got.items] == ["add", "sub", "mul"]  # spec order
    assert got.items[2].poor and got.items[2].failure_mode == "wrong-op"
    assert [(u.finding.title, u.reason) for u in got.unassigned] == [
        ("module docstring", "line 1 of calc/ops2.py is outside every item's symbol (add, sub)")]
    feedback = got.feedback()
    assert feedback["sub"].splitlines()[0] == "- calc/ops2.py:10 (minor): in sub"
    assert "- tests/hybrid/test_hybrid_sub.py (major): tests: test_sub_0: AssertionError" in \
        feedback["sub"]
    assert "- item mul (major): graded poor by the reviewer (wrong-op)" in feedback["mul"]
    assert "Why: Reviewed." in feedback["mul"]


def test_a_finding_spelled_as_the_diff_headers_spell_it_finds_its_item(project, tmp_path):
    items = [fn_item("add", "add", arith_tests("calc.ops2", "add", [(1, 2, 3)]),
                     file="calc/ops2.py")]
    write_plan(project, items)
    tree = tmp_path / "worktree"
    (tree / "calc").mkdir(parents=True)
    (tree / "calc" / "ops2.py").write_text(OPS)
    spec = load_spec(PlanStore(project).spec_path("p1"))
    verdict = _verdict([finding("b/calc/ops2.py", 0, title="prefixed"),
                        finding('"b/calc/ops2.py"', 0, title="quoted"),
                        finding("./calc/ops2.py", 0, title="dotted")], [])
    got = assign_findings(spec, tree, verdict, [])
    assert {w.item_id: [f.title for f in w.findings] for w in got.items} == {
        "add": ["prefixed", "quoted", "dotted"]}
    assert not got.unassigned
