"""``hybrid feedback ITEM GRADE "why"``: a grades row with source 'feedback'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.errors import UsageError
from hybridcode.feedback import record_feedback
from hybridcode.ledger import Ledger
from hybridcode.ledger.history import kind_history
from ledger_rows import local_item, review

runner = CliRunner()


def feedback(root: Path, *args: str):
    return runner.invoke(app, ["feedback", "--repo", str(root), *args])


def test_records_a_feedback_grade_answering_the_latest_review(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function", grade="good")
        latest = review(ledger, "p1", {"a": ("crud/function", "acceptable", None)})
    result = feedback(tmp_path, "a", "poor", "ignores empty input")
    assert result.exit_code == 0, result.output
    assert f"a (crud/function) graded poor, answering review {latest}" in result.stdout
    with Ledger.open(tmp_path) as ledger:
        rows = ledger.query("SELECT * FROM grades WHERE source = 'feedback'")
        assert len(rows) == 1
        grade = dict(rows[0])
        assert (grade["plan_id"], grade["item_id"], grade["kind"], grade["grade"],
                grade["failure_mode"]) == ("p1", "a", "crud/function", "poor",
                                           "ignores empty input")
        assert grade["review_id"].startswith("feedback-")
        rev = ledger.query("SELECT * FROM reviews WHERE id = ?", (grade["review_id"],))[0]
        assert (rev["source"], rev["decision"], rev["diff_sha256"]) == ("feedback", "feedback",
                                                                         "")
        assert json.loads(rev["verdict"])["feedback"]["answers_review"] == latest
        # the newest grade is the one routing history counts
        assert kind_history(ledger)["crud/function"].acceptable_or_good == 0
        assert ledger.query("PRAGMA foreign_key_check") == []


def test_an_item_never_reviewed_gets_a_synthetic_review(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function")
        record = record_feedback(ledger, "a", "good")
        assert record.answers_review is None and record.failure_mode is None
        assert ledger.query("SELECT COUNT(*) FROM reviews WHERE id = ?",
                            (record.review_id,))[0][0] == 1
        assert kind_history(ledger)["crud/function"].acceptable_or_good == 1


def test_feedback_twice_keeps_both_rows(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function", grade="good")
        record_feedback(ledger, "a", "poor", "slow")
        record_feedback(ledger, "a", "acceptable", "fine after all")
        assert ledger.query("SELECT COUNT(*) FROM grades WHERE item_id = 'a'")[0][0] == 3
        assert kind_history(ledger)["crud/function"].acceptable_or_good == 1


def test_unknown_item_is_a_clear_error(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function")
    result = feedback(tmp_path, "zz", "good")
    assert result.exit_code == 2
    assert 'no item "zz" in the ledger — known items: a' in result.output


def test_no_ledger_yet(tmp_path):
    result = feedback(tmp_path, "a", "good")
    assert result.exit_code == 2 and "no ledger yet" in result.output


def test_an_item_in_several_plans_needs_plan(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function")
        local_item(ledger, "p2", "a", "parsing/function")
    result = feedback(tmp_path, "a", "good")
    assert result.exit_code == 2 and "in several plans: p1, p2" in result.output
    assert "--plan p2" in result.output
    result = feedback(tmp_path, "a", "good", "--plan", "p2")
    assert result.exit_code == 0, result.output
    assert "(parsing/function)" in result.stdout


@pytest.mark.parametrize("grade,why,message", [
    ("great", "x", 'grade "great" is not one of poor, acceptable, good'),
    ("poor", "  ", "a poor grade needs the reason"),
])
def test_bad_grades(tmp_path, grade, why, message):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function")
        with pytest.raises(UsageError, match=message):
            record_feedback(ledger, "a", grade, why)


def test_why_is_one_line_without_secrets(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        local_item(ledger, "p1", "a", "crud/function")
        record = record_feedback(ledger, "a", "poor",
                                 "leaks\nsk-ant-api03-abcdefghijklmn in logs")
    assert record.failure_mode == "leaks [REDACTED] in logs"
