"""What a review produces: the reviewer's structured :class:`Verdict`, and :class:`ReviewOutcome`.

The pydantic models are the reviewer's structured-output schema, so they keep within what
JSON-schema output accepts (see :mod:`hybridcode.plan`): every field required, no ``null``
unions, no length or numeric constraints — "none" is an empty string, "no line" is 0. Field
order is the order the model writes in: a checklist entry's reasoning comes *before* its
pass/fail, and the checklist and findings come before the decision, so the decision follows
from the reasoning instead of being rationalised after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from hybridcode.review.checks import CheckResult
    from hybridcode.vcs.diff import Diff

Severity = Literal["info", "minor", "major", "critical"]
Grade = Literal["poor", "acceptable", "good"]
Decision = Literal["approve", "request_changes"]
FinalDecision = Literal["approved", "changes_requested", "blocked"]
# A range whose head changes nothing is reported too (a valid, empty report), not reviewed.
OutcomeDecision = Literal["approved", "changes_requested", "blocked", "nothing_to_review"]

# Findings this severe contradict an "approve" (see ``consistent_decision``).
BLOCKING_SEVERITIES = frozenset({"major", "critical"})
GRADE_ORDER = {"poor": 0, "acceptable": 1, "good": 2}


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChecklistResult(_Schema):
    id: str = Field(description="The checklist entry's id, exactly as given (e.g. `edge-cases`).")
    question: str = Field(description="The checklist entry's question, copied.")
    reasoning: str = Field(
        description="Your reasoning about this entry for this diff, written before deciding: "
        "what you checked, where (file:line), and what you found.")
    passed: bool = Field(description="True only when the diff fully satisfies the entry.")


class Finding(_Schema):
    file: str = Field(description="Repository-relative path of the file the finding is about.")
    line: int = Field(description="Line number in the new version of the file; 0 when the "
                      "finding concerns the whole file or a file that was deleted.")
    severity: Severity = Field(
        description="`critical`: security hole, data loss or crash on ordinary input; `major`: "
        "wrong behaviour, spec not met, missing error handling; `minor`: style, naming, small "
        "robustness gaps; `info`: a remark, nothing to change.")
    title: str = Field(description="One line naming the problem.")
    explanation: str = Field(description="Why it is a problem, with the concrete input or case "
                             "that goes wrong.")
    suggested_fix: str = Field(description="What to change, concretely (code if short); empty "
                               "for `info`.")


class ItemGrade(_Schema):
    item_id: str = Field(description="A spec item id from the request.")
    grade: Grade = Field(description="`good`: correct and idiomatic; `acceptable`: correct with "
                         "minor issues; `poor`: wrong, incomplete or unsafe.")
    failure_mode: str = Field(
        description="For `poor`, a short lowercase label of what went wrong, reused across "
        "reviews (e.g. `missing-edge-case`, `wrong-error-type`, `ignores-spec`, "
        "`unsafe-input-handling`, `broken-tests`); empty otherwise.")


class Verdict(_Schema):
    """The reviewer's answer: checklist first, then findings and grades, then the decision."""

    checklist: list[ChecklistResult] = Field(
        description="One entry per checklist question, in the given order.")
    findings: list[Finding] = Field(description="Every problem found; empty when none.")
    grades: list[ItemGrade] = Field(
        description="One grade per spec item the diff implements; empty when no spec was given.")
    decision: Decision = Field(
        description="`approve` only when every checklist entry passed and no finding is major "
        "or critical; otherwise `request_changes`.")
    summary: str = Field(description="Two or three sentences for the author.")


def consistent_decision(verdict: Verdict, expected_ids: list[str]) -> tuple[Decision, str]:
    """The decision the verdict's own content supports, and why it differs when it does.

    An "approve" stands only when every expected checklist entry was answered and passed and
    no finding is major or critical — the reasoning decides, not the last word.
    """
    if verdict.decision != "approve":
        return "request_changes", ""
    answered = {c.id: c for c in verdict.checklist}
    missing = [i for i in expected_ids if i not in answered]
    if missing:
        return "request_changes", f"the reviewer did not answer checklist entry {missing[0]!r}"
    failed = [c.id for c in verdict.checklist if not c.passed]
    if failed:
        return "request_changes", f"checklist entry {failed[0]!r} failed"
    severe = [f for f in verdict.findings if f.severity in BLOCKING_SEVERITIES]
    if severe:
        return "request_changes", f"{severe[0].severity} finding: {severe[0].title}"
    return "approve", ""


@dataclass
class ReviewOutcome:
    """Everything one ``hybrid review`` established. ``verdict`` is None when the review was
    decided without the model (blocked by a check). ``cached`` means it was answered from the
    ledger's record of an identical diff, without checks or a model call."""

    diff: Diff
    checks: list[CheckResult]
    verdict: Verdict | None
    decision: OutcomeDecision
    cached: bool = False
    review_id: str = ""
    reviewer_model: str = ""
    checklist_version: str = ""
    cost: float = 0.0
    plan_id: str | None = None
    notes: list[str] = field(default_factory=list)  # why the decision differs from the model's
    # The reviewer's share: calls made, parts the diff was split into (0 when no reviewer was
    # asked: blocked), parts not sent (over review.max_parts or review.max_cost_usd) and hunks
    # shown only in part. Answered from the record: the figures of the verdict repeated.
    calls: int = 0
    parts: int = 0
    parts_skipped: int = 0
    cut_hunks: int = 0

    @property
    def approved(self) -> bool:
        return self.decision == "approved"

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocking and not c.ok]

    @property
    def could_not_run(self) -> CheckResult | None:
        """The check that could not run (the tests never started: an environment problem),
        when that is all that stands against the change — the review's result is then "could
        not run", not a rejection of the code. None otherwise."""
        failures = self.blocking_failures
        if self.decision == "blocked" and failures and all(c.could_not_run for c in failures):
            return failures[0]
        return None
