"""Report formats: SARIF against the official schema, GitHub escaping, JUnit, Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from gate_helpers import sarif_schema

from hybridcode.errors import UsageError
from hybridcode.review.checks import CheckResult
from hybridcode.review.reports import annotation, escape_data, escape_property, render
from hybridcode.review.verdict import (
    ChecklistResult,
    Finding,
    ItemGrade,
    ReviewOutcome,
    Verdict,
)
from hybridcode.vcs.diff import Diff, FileChange

SHA = "3f" * 32


def _outcome(decision: str = "changes_requested", verdict: bool = True) -> ReviewOutcome:
    diff = Diff(raw=b"diff --git ...", sha256=SHA, source="staged", files=[
        FileChange(path="src/my file.py", old_path=None, status="added", binary=False,
                   old_mode=None, new_mode="100644"),
        FileChange(path="tests/test_it.py", old_path=None, status="added", binary=False,
                   old_mode=None, new_mode="100644")])
    checks = [
        CheckResult(name="tests", ok=False, blocking=True, summary="1 failed",
                    findings=[{"file": "tests/test_it.py", "line": 4,
                               "message": "assert 1 == 2"}],
                    details="E   assert 1 == 2\x1b[0m\x00"),
        CheckResult(name="lint", ok=True, blocking=False, summary="clean"),
    ]
    v = Verdict(
        checklist=[
            ChecklistResult(id="matches-spec", question="Does it match the spec?",
                            reasoning="Every requirement is implemented.", passed=True),
            ChecklistResult(id="security", question="Any security problems?",
                            reasoning="SQL is built with an f-string at src/my file.py:3,\n"
                                      "so input reaches the query.", passed=False),
        ],
        findings=[Finding(file="src/my file.py", line=3, severity="critical",
                          title="SQL injection: input, unescaped",
                          explanation="100% exploitable\nwith ' OR 1=1 --",
                          suggested_fix="use query parameters"),
                  Finding(file="src/my file.py", line=0, severity="info", title="Naming",
                          explanation="fine | mostly", suggested_fix="")],
        grades=[ItemGrade(item_id="item-1", grade="poor",
                          failure_mode="unsafe-input-handling")],
        decision="request_changes", summary="Unsafe query | fix before merging.")
    return ReviewOutcome(diff=diff, checks=checks, verdict=v if verdict else None,
                         decision=decision, reviewer_model="claude-opus-5-5",
                         checklist_version="abc123def456", cost=0.0123, review_id="r1")


def _validate(data: dict) -> None:
    validator = jsonschema.Draft7Validator(sarif_schema(),
                                           format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("verdict", [True, False])
def test_sarif_validates_against_the_official_schema(verdict):
    data = json.loads(render(_outcome(verdict=verdict), "sarif"))
    _validate(data)
    assert data["version"] == "2.1.0"
    run = data["runs"][0]
    assert run["tool"]["driver"]["name"] == "hybridcode"
    rules = {r["id"]: i for i, r in enumerate(run["tool"]["driver"]["rules"])}
    assert "check/tests" in rules and "check/lint" in rules
    assert ("checklist/security" in rules) is verdict
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["region"]["startLine"] >= 1


def test_sarif_results_levels_and_locations():
    results = json.loads(render(_outcome(), "sarif"))["runs"][0]["results"]
    by_rule = {}
    for r in results:
        by_rule.setdefault(r["ruleId"], []).append(r)
    [test_failure] = by_rule["check/tests"]
    assert test_failure["level"] == "error"
    assert test_failure["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "tests/test_it.py"
    critical, info = by_rule["review/finding"]
    assert critical["level"] == "error" and info["level"] == "note"
    assert critical["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "src/my%20file.py"
    assert "Suggested fix: use query parameters" in critical["message"]["text"]
    # a checklist failure concerns the whole change: it points at the first changed file
    [security] = by_rule["checklist/security"]
    assert security["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    # fingerprints ignore the line, so moved code keeps its alert
    assert critical["partialFingerprints"] != info["partialFingerprints"]


def test_github_escaping_rules():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    line = annotation("error", "line1\nline2: 100%", file="src/a,b.py", line=7,
                      title="SQL: bad, very")
    assert line == ("::error file=src/a%2Cb.py,line=7,title=SQL%3A bad%2C very::"
                    "line1%0Aline2: 100%25")
    assert annotation("notice", "hi") == "::notice::hi"


def test_github_annotations_for_an_outcome():
    lines = render(_outcome(), "github").splitlines()
    assert all(line.startswith("::") and "\n" not in line for line in lines)
    finding = next(line for line in lines if "SQL injection" in line)
    assert finding.startswith("::error file=src/my file.py,line=3,title=SQL injection%3A "
                              "input%2C unescaped::100%25 exploitable%0Awith")
    assert any(line.startswith("::notice file=src/my file.py,line=1,title=Naming::")
               for line in lines)
    assert lines[-1].startswith("::error title=hybridcode::review changes requested")
    approved = render(_outcome("approved"), "github").splitlines()[-1]
    assert approved.startswith("::notice title=hybridcode::review approved")


def test_junit_parses_with_a_case_per_check_and_checklist_entry():
    root = ET.fromstring(render(_outcome(), "junit").encode("utf-8"))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert names == [("hybridcode.checks", "tests"), ("hybridcode.checks", "lint"),
                     ("hybridcode.checklist", "matches-spec: Does it match the spec?"),
                     ("hybridcode.checklist", "security: Any security problems?")]
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"tests", "security: Any security problems?"}
    assert "f-string" in failed["security: Any security problems?"].text
    assert "\x1b" not in failed["tests"].text and "\x00" not in failed["tests"].text
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    assert root.get("failures") == "2"
    assert "SQL injection" in suite.find("system-out").text


def test_markdown_for_a_pr_comment():
    text = render(_outcome(), "markdown")
    assert text.startswith("## hybridcode review: ❌ changes requested")
    assert "> Unsafe query | fix before merging." in text  # a quote, not a table
    assert "| tests | ❌ fail (blocking) | 1 failed |" in text
    assert "| ❌ | Any security problems? | SQL is built with an f-string at src/my file.py:3,"\
           "<br>so input reaches the query. |" in text
    assert "- **critical** `src/my file.py:3`" in text
    assert "| item-1 | poor | unsafe-input-handling |" in text
    assert "`3f3f3f3f3f3f`" in text and "claude-opus-5-5" in text


def test_json_is_the_services_dict():
    data = json.loads(render(_outcome(), "json"))
    assert data["decision"] == "changes_requested" and data["diff_sha256"] == SHA


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError):
        render(_outcome(), "html")


# ------------------------------------------------------- where results point (issue 15)

def _change(path: str, status: str = "modified", binary: bool = False) -> FileChange:
    return FileChange(path=path, old_path=None, status=status, binary=binary,
                      old_mode=None if status == "added" else "100644",
                      new_mode=None if status == "deleted" else "100644")


def _hostile_outcome() -> ReviewOutcome:
    diff = Diff(raw=b"diff --git ...", sha256=SHA, source="range", files=[
        _change("old/gone.py", "deleted"), _change("assets/logo.png", binary=True),
        _change("src/app.py")])
    findings = [Finding(file=path, line=4, severity="major", title=f"about {path}",
                        explanation="x", suggested_fix="")
                for path in ("/etc/passwd", "../../x", "src/app.py", "./src/app.py",
                             "old/gone.py", "")]
    v = Verdict(checklist=[ChecklistResult(id="security", question="Secure?", reasoning="no",
                                           passed=False)],
                findings=findings, grades=[], decision="request_changes", summary="s")
    return ReviewOutcome(diff=diff, checks=[], verdict=v, decision="changes_requested")


def test_results_point_only_at_files_of_the_diff():
    outcome = _hostile_outcome()
    data = json.loads(render(outcome, "sarif"))
    _validate(data)
    where = {}
    for r in data["runs"][0]["results"]:
        loc = r["locations"][0]["physicalLocation"]
        where[r["message"]["text"].split(":")[0] if r["ruleId"] != "review/finding"
              else r["message"]["text"].split(": ")[0]] = (
            loc["artifactLocation"]["uri"], loc["region"]["startLine"], r["message"]["text"])
    uris = {uri for uri, _, _ in where.values()}
    assert uris <= {"src/app.py", "old/gone.py"}
    # the model's paths outside the diff become whole-change results that name what was given
    assert where["about /etc/passwd"][:2] == ("src/app.py", 1)
    assert "reported at /etc/passwd, which this diff does not change" in \
        where["about /etc/passwd"][2]
    assert where["about ../../x"][:2] == ("src/app.py", 1)
    assert where["about ./src/app.py"][:2] == ("src/app.py", 4)  # the same file, spelled so
    assert where["about old/gone.py"][:2] == ("old/gone.py", 1)  # no lines left to point at
    # whole-change results: the first file that still exists and is text, not files[0]
    assert where["Secure?"][:2] == ("src/app.py", 1)
    lines = render(outcome, "github").splitlines()
    files = {part.split(",")[0] for line in lines for part in line.split("file=")[1:]}
    assert files <= {"src/app.py", "old/gone.py"}
    passwd = next(line for line in lines if "title=about /etc/passwd" in line)
    assert passwd.startswith("::error file=src/app.py,line=1,")


def test_a_diff_of_deleted_and_binary_files_anchors_on_a_present_file():
    diff = Diff(raw=b"x", sha256=SHA, source="range", files=[
        _change("gone.py", "deleted"), _change("logo.png", binary=True)])
    v = Verdict(checklist=[ChecklistResult(id="c", question="Q?", reasoning="r", passed=False)],
                findings=[], grades=[], decision="request_changes", summary="s")
    result = json.loads(render(ReviewOutcome(diff=diff, checks=[], verdict=v,
                                             decision="changes_requested"), "sarif"))
    [res] = result["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "logo.png"


# ---------------------------------------------------------------- Markdown (issue 16)

def test_markdown_escapes_html_and_keeps_code():
    diff = Diff(raw=b"x", sha256=SHA, source="range", files=[_change("src/api.ts")])
    v = Verdict(
        checklist=[ChecklistResult(
            id="types", question="Types <right>?", passed=False,
            reasoning="fetch returns Promise<Response>; e.g.\n```ts\nconst r: Promise<A> = f()"
                      "\nreturn r\n```\nthen `a | b`")],
        findings=[
            Finding(file="src/api.ts", line=-3, severity="major",
                    title="Returns Promise<Response> & <script>",
                    explanation="Callers get Promise<Response>:\n```ts\nconst x = await f();\n"
                                "x.json()\n```", suggested_fix="return `Promise<User>`"),
            Finding(file="", line=0, severity="minor", title="No file", explanation="e",
                    suggested_fix="")],
        grades=[], decision="request_changes", summary="Uses Promise<Response> <b>bold</b>")
    text = render(ReviewOutcome(diff=diff, checks=[], verdict=v, decision="changes_requested"),
                  "markdown")
    assert "Promise&lt;Response&gt;" in text and "Promise<Response>" not in text.replace(
        "`Promise<Response>`", "")
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text and "Types &lt;right&gt;?" in text
    assert "``" not in text.replace("```", "")  # no empty code span
    assert ":-3" not in text and "`src/api.ts`" in text  # no negative line
    assert "- **minor** whole change — **No file**" in text
    # a fenced block in a list item stays a fenced block, on its own lines
    assert "\n  ```\n  const x = await f();\n  x.json()\n  ```" in text
    assert "_Fix:_ return `Promise<User>`" in text  # code spans are shown literally
    # in a table cell, a block is one code span per line with the <br> between them
    assert "`const r: Promise<A> = f()`<br>`return r`" in text
    assert "`a \\| b`" in text
    for block in text.split("```")[1::2]:
        assert "<br>" not in block


def test_markdown_of_a_cached_review_says_which_record():
    asked = _outcome("changes_requested")
    asked.cached = True
    assert "approval record" not in render(asked, "markdown")
    assert "answered from the record of an earlier review of this diff" in render(asked,
                                                                                  "markdown")
    approved = _outcome("approved")
    approved.cached = True
    assert "answered from the approval record" in render(approved, "markdown")
