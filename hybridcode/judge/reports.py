"""Per-test outcomes read from each runner's machine report, never from its exit status.

- ``go test -json``: test2json events (:func:`parse_go_events`), one JSON object a line; the
  lines that are not JSON are the go command's own output (build errors).
- vitest ``--reporter=json`` and jest ``--json``: the same jest-style document
  (:func:`parse_jest_json`): ``testResults[].assertionResults[]`` with ``ancestorTitles``,
  ``title``, ``status`` and ``failureMessages``; a file that failed to load has no assertion
  results and a ``message``.
- JUnit XML from ``node --test --test-reporter=junit``: :func:`parse_node_junit` (node nests a
  ``testsuite`` per ``describe`` and names no file, unlike pytest's report that
  :mod:`hybridcode.judge.junit` reads).

Each test becomes the judge's :class:`~hybridcode.judge.outcome.TestOutcome`: ``name`` is what
the test file declares — the Go test function (``TestSlug``, subtests ``TestSlug/empty``) or the
JavaScript title — and ``suite`` the ``describe`` titles from the outer one in, joined with
``" > "``. ``file`` is left for the adapter to fill (Go reports packages, not files; jest and
vitest report absolute paths).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from hybridcode.judge.outcome import TestOutcome, TestStatus

__all__ = ["TestReport", "parse_go_events", "parse_jest_json", "parse_node_junit", "NAME_SEP"]

NAME_SEP = " > "
MESSAGE_CHARS = 1200
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class TestReport:
    """What one runner reported: per-test outcomes, plus problems no test owns (a package that
    did not build, a test file that failed to load). ``found`` is False when there was no
    report to read at all."""

    outcomes: list[TestOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    found: bool = True


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = _ANSI.sub("", text).strip()
    return text if len(text) <= limit else text[:limit] + " …"


# ---------------------------------------------------------------------------------- go

_GO_NOISE = re.compile(r"^(=== (RUN|PAUSE|CONT|NAME)\s|--- (PASS|FAIL|SKIP):|PASS$|FAIL$|FAIL\s|ok\s"
                       r"|exit status \d+$)")


def parse_go_events(stdout: str) -> TestReport:
    """Outcomes from ``go test -json`` output. A package whose result is not ``pass`` adds a
    problem (a build failure, or a test binary that exited early — ``os.Exit`` in a test)."""
    report = TestReport(found=False)
    output: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str]] = []
    results: dict[tuple[str, str], str] = {}
    package_result: dict[str, str] = {}
    package_output: dict[str, list[str]] = {}
    stray: list[str] = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            if line.strip():
                stray.append(line)
            continue
        if not isinstance(event, dict) or "Action" not in event:
            continue
        report.found = True
        package = str(event.get("Package", ""))
        test = event.get("Test")
        action = event["Action"]
        if test is None:
            if action == "output":
                package_output.setdefault(package, []).append(str(event.get("Output", "")))
            elif action in ("pass", "fail", "skip"):
                package_result[package] = action
            continue
        key = (package, str(test))
        if key not in output:
            output[key] = []
            order.append(key)
        if action == "output":
            output[key].append(str(event.get("Output", "")))
        elif action in ("pass", "fail", "skip"):
            results[key] = action
    for key in order:
        action = results.get(key)
        status: TestStatus = {"pass": "passed", "fail": "failed", "skip": "skipped"}.get(
            action or "", "error")
        lines = [ln.rstrip("\n") for ln in output[key]]
        message = "\n".join(ln for ln in lines if not _GO_NOISE.match(ln.strip()))
        if action is None:
            message = (message + "\n" if message else "") + "the test did not finish " \
                "(the test binary exited or panicked while it ran)"
        # ``file`` holds the package here; the adapter maps it to the test file.
        report.outcomes.append(TestOutcome(key[0], key[1], status, message=_clip(message)))
    for package, result in package_result.items():
        if result != "pass":
            text = "".join(package_output.get(package, []))
            text = "\n".join(ln for ln in text.splitlines() if not _GO_NOISE.match(ln.strip()))
            if result == "skip":
                report.problems.append(f"package {package}: no test files or no tests ran")
            elif not any(o.status == "failed" for o in report.outcomes if o.file == package) \
                    or text.strip():
                report.problems.append(f"package {package} failed" +
                                       (f":\n{_clip(text)}" if text.strip() else ""))
    if stray:
        report.problems.insert(0, _clip("\n".join(stray)))
    return report


# ---------------------------------------------------------------------------------- jest/vitest

_JEST_STATUS: dict[str, TestStatus] = {"passed": "passed", "failed": "failed", "pending": "skipped",
                                   "skipped": "skipped", "todo": "skipped",
                                   "disabled": "skipped", "focused": "passed"}


# vitest's JSON reporter borrows jest's shape but not its words: a test it never got a result
# for (queued or running when its worker was killed) is "pending", where jest's "pending" is a
# skipped test; vitest says "skipped" for that (its StatusMap: run/queued → pending, skip →
# skipped).
_UNFINISHED = ("did not finish (vitest never got its result: the test process was killed or "
               "crashed while it ran)")


def parse_jest_json(text: str | None, runner: str = "jest") -> TestReport:
    """jest's ``--json`` report, or vitest's ``--reporter=json`` (``runner="vitest"``)."""
    if not text:
        return TestReport(found=False)
    try:
        data = json.loads(text)
    except ValueError:
        return TestReport(problems=["the runner's JSON report is not valid JSON"], found=False)
    report = TestReport()
    if not isinstance(data, dict):
        return TestReport(problems=["the runner's JSON report has an unknown shape"],
                          found=False)
    for result in data.get("testResults") or []:
        if not isinstance(result, dict):
            continue
        file = str(result.get("name", ""))
        assertions = result.get("assertionResults") or []
        for a in assertions:
            if not isinstance(a, dict):
                continue
            titles = [str(t) for t in a.get("ancestorTitles") or []] + [str(a.get("title", ""))]
            status = _JEST_STATUS.get(str(a.get("status")), "error")
            message = "\n".join(str(m) for m in a.get("failureMessages") or [])
            if runner == "vitest" and a.get("status") == "pending":
                status, message = "error", _UNFINISHED
            report.outcomes.append(TestOutcome(file, titles[-1], status,
                                               NAME_SEP.join(titles[:-1]),
                                               _clip(_drop_runner_frames(message))))
        message = str(result.get("message") or "")
        if message.strip() and (not assertions or result.get("status") == "failed"
                                and not any(o.status == "failed" for o in report.outcomes
                                            if o.file == file)):
            report.problems.append(f"{file}: {_clip(_drop_runner_frames(message))}")
    return report


def _drop_runner_frames(message: str) -> str:
    """Stack frames inside node_modules and node's internals say nothing a model can fix."""
    keep = [ln for ln in message.splitlines()
            if not (ln.strip().startswith("at ") and
                    ("node_modules" in ln or "node:internal" in ln or "<anonymous>" in ln))]
    return "\n".join(keep)


# ---------------------------------------------------------------------------------- junit

def parse_node_junit(text: str | None, file: str = "") -> TestReport:
    """node's JUnit XML: nested ``testsuite`` names become the test's ``suite``."""
    if not text:
        return TestReport(found=False)
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return TestReport(problems=["the runner's JUnit report is not valid XML"], found=False)
    report = TestReport()

    def walk(node: ET.Element, titles: list[str]) -> None:
        for child in node:
            if child.tag == "testsuite":
                walk(child, titles + [child.get("name", "")])
            elif child.tag == "testcase":
                report.outcomes.append(_junit_case(child, titles, file))

    walk(root, [])
    return report


def _junit_case(case: ET.Element, titles: list[str], file: str) -> TestOutcome:
    status: TestStatus = "passed"
    message = ""
    for child in case:
        if child.tag in ("failure", "error"):
            status = "failed" if child.tag == "failure" else "error"
            message = _junit_failure(child.get("message") or "", child.text or "")
            break
        if child.tag == "skipped":
            status = "skipped"
            text = child.get("message") or ""
            message = "" if text in ("", "true") else text
    return TestOutcome(case.get("file") or file, case.get("name", ""), status,
                       NAME_SEP.join(titles), _clip(message))


_LOCATION = re.compile(r"^\s*at (?:.*? \()?((?:/|file:)[^()\s]*:\d+:\d+)\)?\s*$")


def _junit_failure(message: str, text: str) -> str:
    """The failure's message and the frames in the project's own files. node's JUnit text
    repeats the message inside an inspected error object that says nothing more."""
    frames = [m.group(1) for m in map(_LOCATION.match, text.splitlines())
              if m and "node_modules" not in m.group(1) and "node:" not in m.group(1)]
    if not message:
        return _drop_runner_frames(text)
    return "\n".join([message, *(f"    at {f}" for f in dict.fromkeys(frames))])
