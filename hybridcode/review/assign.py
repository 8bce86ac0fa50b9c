"""Which spec item each finding of a review belongs to, for a fix round (``hybrid review --fix``).

    assignment = assign_findings(spec, worktree, outcome.verdict, outcome.checks)
    assignment.feedback()        # {item_id: text for the implementer}, items in spec order
    assignment.unassigned        # findings no item owns, each with the reason

What is sent back:

- the reviewer's findings of severity minor and above (``info`` asks for nothing);
- the findings of blocking checks that failed (a failing test, a syntax error, a secret): a
  blocked review has no verdict, and these are what the implementer can act on;
- items the reviewer graded ``poor``, with the failure mode and the review's summary, even when
  no finding points into them.

A finding belongs to the items whose ``file`` it names; a failed check's finding in an item's
acceptance-test file belongs to that item (its code must make the test pass), while a
reviewer's remark on such a file is the spec's to fix and is reported instead. When several
items share the file and the finding has a line, the item whose symbol encloses the line takes
it (the innermost: a method's item before its class's); an item for the whole file takes what
no symbol encloses. A finding about the whole file (line 0) goes to every
item of the file. Findings that no item owns are reported with the reason, never dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridcode.review.checks import CheckResult
    from hybridcode.review.verdict import Verdict
    from hybridcode.spec import Spec, SpecItem

# A secret in the diff is as serious as it gets; any other blocking check failure is major.
_CHECK_SEVERITY = {"secrets": "critical"}


@dataclass(frozen=True)
class FixFinding:
    """A finding to act on; ``source`` is ``reviewer`` or the name of the failed check."""

    file: str
    line: int
    severity: str
    title: str
    explanation: str
    suggested_fix: str
    source: str = "reviewer"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Unassigned:
    finding: FixFinding
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.finding.to_dict(), "reason": self.reason}


@dataclass
class ItemWork:
    """What one item is sent: its findings, and its grade when the reviewer graded it poor."""

    item_id: str
    findings: list[FixFinding] = field(default_factory=list)
    poor: bool = False
    failure_mode: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "findings": [f.to_dict() for f in self.findings],
                "grade": "poor" if self.poor else None, "failure_mode": self.failure_mode}


@dataclass
class Assignment:
    items: list[ItemWork]  # in spec order; only items with something to fix
    unassigned: list[Unassigned]
    summary: str = ""  # the review's summary, the context of a "poor" grade

    @property
    def item_ids(self) -> list[str]:
        return [work.item_id for work in self.items]

    def feedback(self) -> dict[str, str]:
        """Per item, its findings rendered for the implementer (prompts/review_finding.md)."""
        return {work.item_id: render_findings(work, self.summary) for work in self.items}


def render_findings(work: ItemWork, summary: str = "") -> str:
    from hybridcode.prompts import render_prompt

    entries = list(work.findings)
    if work.poor:
        mode = f" ({work.failure_mode})" if work.failure_mode else ""
        entries.append(FixFinding(file="", line=0, severity="major",
                                  title=f"graded poor by the reviewer{mode}",
                                  explanation=summary or "see the points above",
                                  suggested_fix=""))
    return "\n".join(render_prompt(
        "review_finding.md", where=f.where or f"item {work.item_id}", severity=f.severity,
        title=_one_line(f.title), explanation=f.explanation.strip() or "none given",
        suggested_fix=f.suggested_fix.strip() or "none given").strip() for f in entries)


def actionable_findings(verdict: Verdict | None,
                        checks: list[CheckResult]) -> list[FixFinding]:
    """The reviewer's findings minor and above, then the blocking checks' failures."""
    found: list[FixFinding] = []
    if verdict is not None:
        found += [FixFinding(f.file, f.line, f.severity, f.title, f.explanation,
                             f.suggested_fix) for f in verdict.findings
                  if f.severity != "info"]
    for check in (c for c in checks if c.blocks):
        severity = _CHECK_SEVERITY.get(check.name, "major")
        if not check.findings:
            found.append(FixFinding("", 0, severity, f"{check.name} check failed",
                                    check.summary, "", source=check.name))
        for entry in check.findings:
            found.append(FixFinding(str(entry.get("file") or ""), int(entry.get("line") or 0),
                                    severity, f"{check.name}: {_one_line(entry['message'])}",
                                    check.summary, "", source=check.name))
    return found


def assign_findings(spec: Spec, worktree: Path, verdict: Verdict | None,
                    checks: list[CheckResult]) -> Assignment:
    """Each actionable finding of a review (its verdict, None when the checks decided, and its
    checks) mapped to the spec items that own it; ``worktree`` holds the reviewed files."""
    items = {item.id: ItemWork(item.id) for item in spec.items}
    unassigned: list[Unassigned] = []
    lines = _SymbolLines(Path(worktree))
    for finding in actionable_findings(verdict, checks):
        owners, reason = _owners(finding, spec, lines)
        if not owners:
            unassigned.append(Unassigned(finding, reason))
        for item_id in owners:
            items[item_id].findings.append(finding)
    for grade in verdict.grades if verdict is not None else []:
        if grade.grade == "poor" and grade.item_id in items:
            items[grade.item_id].poor = True
            items[grade.item_id].failure_mode = grade.failure_mode
    summary = verdict.summary if verdict is not None else ""
    return Assignment([w for w in items.values() if w.findings or w.poor], unassigned, summary)


def _owners(finding: FixFinding, spec: Spec, lines: _SymbolLines) -> tuple[list[str], str]:
    if not finding.file:
        return [], "it names no file"
    from hybridcode.vcs.diff import path_readings

    # The reviewer may spell the file as the diff's headers do ("b/app/x.py", git's quoting).
    by_file: list = []
    by_tests: list = []
    for reading in path_readings(finding.file):
        by_file = [item for item in spec.items if item.file == reading]
        by_tests = [item for item in spec.items if item.test_path == reading]
        if by_file or by_tests:
            break
    candidates = by_file or by_tests
    if not candidates:
        return [], f"no spec item targets {finding.file}"
    if not by_file and finding.source == "reviewer":
        # A failing test is the code's to fix; a remark on the tests themselves is the spec's.
        return [], (f"{finding.file} holds acceptance tests from the spec, which the "
                    "implementer may not change (edit spec.json)")
    if len(candidates) == 1 or not finding.line or not by_file:
        return [item.id for item in candidates], ""
    enclosing = [(span, item) for item in candidates
                 if (span := lines.span(item)) is not None and span[0] <= finding.line <= span[1]]
    if enclosing:
        innermost = min(enclosing, key=lambda pair: pair[0][1] - pair[0][0])
        return [innermost[1].id], ""
    whole = [item.id for item in candidates if not item.symbol]
    if whole:
        return whole, ""
    return [], (f"line {finding.line} of {finding.file} is outside every item's symbol "
                f"({', '.join(item.symbol or item.id for item in candidates)})")


class _SymbolLines:
    """Line spans of items' symbols in the worktree (each file parsed once)."""

    def __init__(self, worktree: Path) -> None:
        self.worktree = worktree
        self._symbols: dict[str, list[Any] | None] = {}

    def span(self, item: SpecItem) -> tuple[int, int] | None:
        from hybridcode.context.symbols import find_symbols
        from hybridcode.errors import ContextError

        if not item.symbol:
            return None
        symbols = self._of(item.file)
        if not symbols:
            return None
        try:
            group = find_symbols(symbols, item.symbol)
        except ContextError:
            return None  # not (or no longer) in the file
        return group[0].start_line, group[-1].end_line

    def _of(self, file: str) -> list[Any] | None:
        from hybridcode.context.languages import language_for_path
        from hybridcode.context.symbols import list_symbols

        if file not in self._symbols:
            language = language_for_path(file)
            path = self.worktree / file
            symbols = None
            if language is not None and path.is_file():
                symbols = list_symbols(path.read_bytes(), language)
            self._symbols[file] = symbols
        return self._symbols[file]



def _one_line(text: str) -> str:
    return " ".join(str(text).split())
