"""``hybrid export``: JSONL of the documented shape, filters, scrubbing, and empty results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.feedback import record_feedback
from hybridcode.ledger import Ledger
from ledger_rows import attempt, call, item, local_item, review

runner = CliRunner()
GATEWAY_KEY = "gateway-key-7f3a9c"  # a configured key with no recognisable shape
TRIPLE_KEYS = {"input", "output", "judgment", "grade", "failure_mode", "kind", "model",
               "plan_id", "item_id"}
META_KEYS = TRIPLE_KEYS - {"input", "output"}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plan p1: v1 good, v2 acceptable (crud/function), v3 poor (parsing/function), all local;
    r1 rescued by Claude and graded good; u1 local but never reviewed."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", GATEWAY_KEY)
    plan_dir = tmp_path / ".hybrid" / "plans" / "p1"
    plan_dir.mkdir(parents=True)
    (plan_dir / "spec.json").write_text(json.dumps({"items": [
        {"id": "v1", "file": "app/v1.py"}, {"id": "v3", "file": "app/v3.py"}]}))
    with Ledger.open(tmp_path) as ledger:
        secret_output = ("def v1(x):\n    token = 'sk-ant-api03-abcdefghijklmnop'\n"
                         f"    gateway = '{GATEWAY_KEY}'\n    return x\n")
        local_item(ledger, "p1", "v1", "crud/function", output=secret_output)
        local_item(ledger, "p1", "v2", "crud/function", output="def v2(): return 2\n")
        # v3 failed once locally, then passed: the passing attempt is the one reviewed
        first = call(ledger, is_local=True, plan_id="p1", item_id="v3", rung=0, cost_usd=0.0)
        second = call(ledger, is_local=True, plan_id="p1", item_id="v3", rung=0, cost_usd=0.0)
        item(ledger, "p1", "v3", "parsing/function", attempts=2)
        attempt(ledger, "p1", "v3", call_id=first, outcome="test_failed", output="broken")
        attempt(ledger, "p1", "v3", call_id=second, attempt=2, output="def v3(s): return s\n",
                prompt=json.dumps({"system": "You write Python.", "user": "implement v3"}))
        local_item(ledger, "p1", "r1", "crud/function", escalate=True)
        local_item(ledger, "p1", "u1", "crud/function")
        findings = [{"file": "app/v3.py", "line": 1, "severity": "major",
                     "title": "Empty input", "explanation": "v3('') returns ''",
                     "suggested_fix": "raise ValueError"},
                    {"file": "app/other.py", "line": 9, "severity": "minor", "title": "Other",
                     "explanation": "unrelated", "suggested_fix": ""}]
        review(ledger, "p1", {"v1": ("crud/function", "good", None),
                              "v2": ("crud/function", "acceptable", None),
                              "v3": ("parsing/function", "poor", "ignores empty input"),
                              "r1": ("crud/function", "good", None)},
               verdict={"findings": findings, "grades": [], "summary": "ok"})
    return tmp_path


def export(root: Path, *args: str) -> tuple[Any, list[dict[str, Any]]]:
    out = root / "out.jsonl"
    result = runner.invoke(app, ["export", "--repo", str(root), "--out", str(out), *args])
    lines = out.read_text().splitlines() if out.exists() and result.exit_code == 0 else []
    return result, [json.loads(line) for line in lines]


def test_chat_format_round_trips(root):
    result, records = export(root)
    assert result.exit_code == 0, result.output
    assert "wrote 3 records" in result.stdout
    assert [r["metadata"]["item_id"] for r in records] == ["v1", "v2", "v3"]
    for record in records:
        assert set(record) == {"messages", "metadata"}
        assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
        assert all(isinstance(m["content"], str) for m in record["messages"])
        assert set(record["metadata"]) == META_KEYS
    v3 = records[2]
    assert v3["messages"][0]["content"] == "You write Python."
    assert v3["messages"][1]["content"] == "implement v3"
    assert v3["messages"][2]["content"] == "def v3(s): return s\n"
    assert v3["metadata"] == {
        "judgment": "grade: poor\nfailure mode: ignores empty input\nfinding [major] "
                    "app/v3.py:1: Empty input — v3('') returns '' (fix: raise ValueError)",
        "grade": "poor", "failure_mode": "ignores empty input", "kind": "parsing/function",
        "model": "qwen2.5-coder:32b", "plan_id": "p1", "item_id": "v3"}
    assert records[1]["messages"][1]["content"] == "implement v2"


def test_triples_format(root):
    result, records = export(root, "--format", "triples")
    assert result.exit_code == 0, result.output
    assert all(set(r) == TRIPLE_KEYS for r in records)
    assert [(r["item_id"], r["grade"], r["input"]) for r in records] == [
        ("v1", "good", "implement v1"), ("v2", "acceptable", "implement v2"),
        ("v3", "poor", "implement v3")]


def test_secrets_are_scrubbed(root):
    _result, records = export(root, "--format", "triples")
    text = json.dumps(records)
    assert "sk-ant-api03" not in text and GATEWAY_KEY not in text
    assert records[0]["output"].startswith("def v1(x):\n")
    assert "[REDACTED]" in records[0]["output"] and "return x" in records[0]["output"]


@pytest.mark.parametrize("args,expected", [
    (["--kind", "crud/function"], ["v1", "v2"]),
    (["--min-grade", "acceptable"], ["v1", "v2"]),
    (["--min-grade", "good"], ["v1"]),
    (["--kind", "parsing/function", "--min-grade", "poor"], ["v3"]),
    (["--plan", "p1"], ["v1", "v2", "v3"]),
])
def test_filters(root, args, expected):
    result, records = export(root, "--format", "triples", *args)
    assert result.exit_code == 0, result.output
    assert [r["item_id"] for r in records] == expected


def test_feedback_regrades_and_quotes_the_review(root):
    with Ledger.open(root) as ledger:
        record_feedback(ledger, "v2", "poor", "swallows errors")
    _result, records = export(root, "--format", "triples", "--kind", "crud/function")
    v2 = records[1]
    assert (v2["grade"], v2["failure_mode"]) == ("poor", "swallows errors")
    assert v2["judgment"].startswith("grade: poor\nfailure mode: swallows errors\n"
                                     "reviewer's note from the user: swallows errors")


def test_filter_too_strict_says_why(root):
    result, _ = export(root, "--kind", "crud/function", "--min-grade", "good",
                       "--plan", "p1")
    assert result.exit_code == 0
    before = (root / "out.jsonl").read_text()
    result, _ = export(root, "--kind", "sql/function")
    assert result.exit_code == 1
    assert "the filter is too strict (--kind sql/function --min-grade poor): 3 records " \
           "before it, by grade poor 1, acceptable 1, good 1" in result.output
    assert "kinds with records: crud/function, parsing/function" in result.output
    assert (root / "out.jsonl").read_text() == before  # an empty result writes nothing


def test_no_reviews_yet(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function")
    result, _ = export(tmp_path)
    assert result.exit_code == 1
    assert "nothing to export: no reviews yet (0 graded items)" in result.output
    assert "hybrid review" in result.output


def test_no_local_attempts(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        claude = call(ledger, plan_id="p1", item_id="a", rung=1, cost_usd=0.01)
        item(ledger, "p1", "a", "crud/function", route="claude", rung=1)
        attempt(ledger, "p1", "a", rung=1, model="claude-sonnet-5-5", call_id=claude)
        review(ledger, "p1", {"a": ("crud/function", "good", None)})
    result, _ = export(tmp_path)
    assert result.exit_code == 1
    assert ("none of the 1 graded items was written by a local model (0 local attempts "
            "recorded)") in result.output


def test_no_ledger_and_bad_options(tmp_path):
    result, _ = export(tmp_path)
    assert result.exit_code == 1 and "no reviews yet" in result.output
    with Ledger.open(tmp_path):
        pass
    result, _ = export(tmp_path, "--format", "alpaca")
    assert result.exit_code == 2 and "--format chat" in result.output
    result, _ = export(tmp_path, "--min-grade", "great")
    assert result.exit_code == 2 and "--min-grade acceptable" in result.output
