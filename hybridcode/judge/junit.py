"""JUnit XML reports → :class:`TestOutcome` lists.

pytest writes it natively (``--junitxml``, ``junit_family=xunit1`` for the ``file`` attribute),
and so do vitest, jest (jest-junit), ``go-junit-report`` and most other runners, so a language
adapter that can make its runner write JUnit XML gets parsing for free.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hybridcode.judge.outcome import TestOutcome

__all__ = ["COLLECTION_FAILURE", "read_junit"]

COLLECTION_FAILURE = "collection failure"  # pytest's message for a file that did not import


def _module_of(file: str) -> str:
    return file[:-3].replace("/", ".") if file.endswith(".py") else file.replace("/", ".")


def read_junit(report: Path) -> list[TestOutcome] | None:
    """Every testcase in ``report``; ``None`` when it is missing or not a JUnit report."""
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return None
    if root.tag not in ("testsuites", "testsuite"):
        return None
    outcomes = []
    for case in root.iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        file = case.get("file", "")
        suite = classname
        if file:
            module = _module_of(file)
            suite = classname[len(module) + 1:] if classname.startswith(module) else ""
        status, message = "passed", ""
        for child in case:
            tag = child.tag
            text = child.get("message") or (child.text or "").strip()
            if tag == "failure":
                status, message = "failed", text
            elif tag == "error":
                status, message = "error", child.get("message") or ""
                detail = _last_error_line(child.text or "")
                if detail:
                    message = f"{message}: {detail}" if message else detail
            elif tag == "skipped":
                kind = child.get("type", "")
                status = "xfailed" if kind.endswith("xfail") else "skipped"
                message = child.get("message") or ""
            if status != "passed":
                break
        outcomes.append(TestOutcome(file=file, name=name, status=status, suite=suite,
                                    message=message))
    return outcomes


def _last_error_line(text: str) -> str:
    lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    return lines[-1] if lines else ""
