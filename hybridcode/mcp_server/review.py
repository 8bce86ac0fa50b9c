"""Review by the calling agent: hybrid prepares, the agent judges, hybrid decides and records.

    packet = prepare_review(root, "260101-add")        # checks, diff, checklist, spec items
    outcome = submit_review(root, "260101-add", packet.diff.sha256, verdict_json,
                            reviewer="agent:claude-code", checks=packet.checks)

The agent's verdict is held to the built-in reviewer's rules: the same :class:`Verdict` schema,
the same consistency rule (an "approve" with a failed or missing checklist entry or a major
finding becomes a request for changes), deterministic failures block whatever it says, a diff
the agent was not shown in full cannot be approved, and the record — and the approval — are
bound to the exact diff's SHA-256 and the checklist version, like any other review.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.errors import UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.review.checklist import Checklist
    from hybridcode.review.checks import CheckResult
    from hybridcode.review.service import PlanUnderReview
    from hybridcode.review.verdict import ReviewOutcome
    from hybridcode.vcs.diff import Diff

# What the agent is shown of a diff; beyond it the text is cut, and an approval is refused.
DIFF_CHARS = 120_000


@dataclass
class DiffView:
    """A diff as it may leave for a model: withheld when its added lines hold a secret."""

    sha256: str
    files: list[str]
    text: str
    truncated: bool
    withheld: str | None


def diff_view(diff: Diff, secrets: CheckResult | None = None) -> DiffView:
    """The diff's text for the calling model, vetted by the review gate's secret scan (the one
    pattern set) and cut at :data:`DIFF_CHARS`."""
    from hybridcode.review.checks import scan_added_lines

    scan = secrets if secrets is not None else scan_added_lines(diff)
    files = [f.path for f in diff.files]
    if not scan.ok:
        return DiffView(diff.sha256, files, "", False,
                        f"not shown: {scan.summary}; remove the secret from the code first")
    text = diff.text
    truncated = len(text) > DIFF_CHARS
    if truncated:
        text = text[:DIFF_CHARS] + "\n[… diff cut here: read the rest in the worktree …]\n"
    return DiffView(diff.sha256, files, text, truncated, None)


@dataclass
class Packet:
    plan: PlanUnderReview
    checklist: Checklist
    checks: list[CheckResult]
    view: DiffView

    @property
    def blocked(self) -> bool:
        return any(c.blocks for c in self.checks)


def prepare_review(root: Path, plan_ref: str | None,
                   settings: Settings | None = None) -> Packet:
    """The deterministic checks of a plan's diff, the diff and the checklist."""
    from hybridcode.config import load_settings
    from hybridcode.review.checklist import load_checklist
    from hybridcode.review.checks import run_checks
    from hybridcode.review.service import plan_under_review

    plan = plan_under_review(root, plan_ref)
    settings = settings or load_settings(plan.root)
    checklist = load_checklist(plan.root, settings)
    checks = run_checks(plan.worktree, plan.diff, plan.spec, settings)
    secrets = next((c for c in checks if c.name == "secrets"), None)
    return Packet(plan, checklist, checks, diff_view(plan.diff, secrets))


def parse_verdict(data: Any, spec_ids: set[str]):
    """The agent's verdict, validated against the reviewer's schema; one line naming the field
    when it does not match."""
    from pydantic import ValidationError

    from hybridcode.review.verdict import Verdict

    try:
        verdict = Verdict.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(verdict)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UsageError(f"the verdict does not match the reviewer's schema: {where}: "
                         f"{err['msg']}{more}",
                         "fix it to match verdict_schema from prepare_review and submit "
                         "again") from exc
    unknown = sorted({g.item_id for g in verdict.grades} - spec_ids)
    if unknown:
        raise UsageError(f"the verdict grades {unknown[0]!r}, which is not an item of the plan",
                         f"grade only the plan's items: {', '.join(sorted(spec_ids))}")
    return verdict


def submit_review(root: Path, plan_ref: str | None, diff_sha256: str, verdict_data: Any, *,
                  reviewer: str, prepared: tuple[str, list[CheckResult]] | None = None,
                  settings: Settings | None = None) -> ReviewOutcome:
    """Decide on the agent's verdict of the diff ``diff_sha256`` and record it.

    ``prepared`` is (checklist version, checks) from preparing the review of that same diff
    (held by the server, which the agent cannot edit); without it, or when the checklist
    changed since, the checks run again."""
    from hybridcode.config import load_settings
    from hybridcode.plan.routing import task_kind
    from hybridcode.review.checklist import load_checklist
    from hybridcode.review.checks import blocking_failures, run_checks
    from hybridcode.review.service import plan_under_review, set_plan_decision, sign_outcome
    from hybridcode.review.verdict import ReviewOutcome, consistent_decision

    plan = plan_under_review(root, plan_ref)
    diff = plan.diff
    if diff.sha256 != diff_sha256.strip().lower():
        raise UsageError(f"the diff of plan {plan.plan_id} changed since the review was "
                         f"prepared (now {diff.sha256[:12]}…, reviewed "
                         f"{diff_sha256.strip()[:12]}…)",
                         "prepare the review again and review the diff as it is now")
    verdict = parse_verdict(verdict_data, {item.id for item in plan.spec.items})
    settings = settings or load_settings(plan.root)
    checklist = load_checklist(plan.root, settings)
    if prepared is not None and prepared[0] == checklist.version:
        checks = prepared[1]
    else:
        checks = run_checks(plan.worktree, diff, plan.spec, settings)
    blocked = blocking_failures(checks)
    wanted, why = consistent_decision(verdict, checklist.ids)
    notes = [f"the reviewer approved, but {why}"] if why else []
    view = diff_view(diff, next((c for c in checks if c.name == "secrets"), None))
    if wanted == "approve" and (view.truncated or view.withheld):
        wanted = "request_changes"
        notes.append("the diff was not shown in full; split the change so every line can be "
                     "reviewed")
    if blocked:
        decision = "blocked"
        notes.insert(0, "blocked by failing checks: " + ", ".join(c.name for c in blocked))
    else:
        decision = "approved" if wanted == "approve" else "changes_requested"
    kinds = {item.id: task_kind(item) for item in plan.spec.items}
    review_id = _record(plan.root, plan.plan_id, diff.sha256, checklist.version, decision,
                        reviewer, verdict, checks, kinds, settings, notes)
    set_plan_decision(plan.root, plan.plan_id, decision == "approved")
    outcome = ReviewOutcome(diff=diff, checks=checks, verdict=verdict, decision=decision,
                            review_id=review_id, reviewer_model=reviewer,
                            checklist_version=checklist.version, plan_id=plan.plan_id,
                            notes=notes)
    # An approval is signed with the developer's key, as the CLI's reviews are; hybrid commit
    # trusts nothing else.
    sign_outcome(plan.root, outcome, plan.spec, plan.base_commit, settings)
    return outcome


def _record(root: Path, plan_id: str, diff_sha256: str, checklist_version: str, decision: str,
            reviewer: str, verdict: Any, checks: list[CheckResult], kinds: dict[str, str],
            settings: Settings, notes: list[str]) -> str:
    """The one place an agent's review is recorded: the review gate's own record (its
    approval is then signed by :func:`hybridcode.review.service.sign_outcome`)."""
    from hybridcode.ledger import Ledger
    from hybridcode.review.approvals import record_review

    with Ledger.open(root) as ledger:
        run_id = ledger.start_run("review", plan_id=plan_id, settings=settings)
        status = "failed"
        try:
            review_id = record_review(
                ledger, source="plan", diff_sha256=diff_sha256,
                checklist_version=checklist_version, decision=decision,  # type: ignore[arg-type]
                reviewer_model=reviewer, verdict=verdict, checks=checks, run_id=run_id,
                plan_id=plan_id, item_kinds=kinds, figures={"notes": list(notes)})
            status = "ok"
        finally:
            ledger.finish_run(run_id, status)
    return review_id
