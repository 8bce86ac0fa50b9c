"""``hybrid review PLAN --fix``: review, send the findings back to the implementer, review again.

    result = fix_plan(root, "260101-slugify", rounds=2, on_stage=show)
    result.outcome            # the final review; its exit code is the command's
    result.rounds             # per round: what was sent, what was reworked, the new decision
    fix_to_dict(result)       # outcome_to_dict(final review) plus "rounds" and "fix"

A round: the review's actionable findings are mapped to spec items
(:mod:`hybridcode.review.assign`); those items, and only those, are implemented again through
the implementer ladder with the findings in their prompt (``implement_plan(rework=...)``), where
each item's acceptance tests and the tests of the items already passed must pass; then the new
diff is reviewed — a new diff, so a new review, never the approval of the old one.

The loop stops when the review approves, after ``rounds`` rounds, when no finding belongs to
any item (nothing the implementer could do), when the rework changed nothing (no reworked item
passed its tests again: each keeps its reviewed code), or when the implement run stopped at its
budget. Nothing is ever committed: that stays ``hybrid commit``, after an approval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.errors import HybridError, UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.implement.result import ImplementResult, ItemEvent
    from hybridcode.review.assign import Assignment, Unassigned
    from hybridcode.review.verdict import ReviewOutcome

DEFAULT_ROUNDS = 2

Stage = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


@dataclass
class FixRound:
    number: int
    review: ReviewOutcome  # the review whose findings started the round
    assignment: Assignment
    implement: ImplementResult
    after: ReviewOutcome | None = None  # None when the rework left the code as reviewed

    @property
    def reworked(self) -> list[str]:
        """Items whose new code passed its tests and is now in the worktree."""
        sent = set(self.assignment.item_ids)
        return [i.item_id for i in self.implement.items
                if i.item_id in sent and i.state == "passed"]


@dataclass
class FixResult:
    plan_id: str
    outcome: ReviewOutcome  # the final review
    rounds: list[FixRound]
    max_rounds: int
    stopped: str  # approved | rounds | nothing-to-fix | unchanged | budget
    message: str = ""
    unassigned: list[Unassigned] = field(default_factory=list)  # when nothing was left to fix

    @property
    def approved(self) -> bool:
        return self.outcome.approved


def fix_plan(root: Path, plan_ref: str | None = None, settings: Settings | None = None, *,
             rounds: int = DEFAULT_ROUNDS, fresh: bool = False, on_stage: Stage = _quiet,
             ) -> FixResult:
    """Review the plan and run up to ``rounds`` fix rounds; see the module docstring."""
    from hybridcode.config import load_settings
    from hybridcode.plan.store import PlanStore
    from hybridcode.review.assign import assign_findings
    from hybridcode.review.service import WORKTREES, review_plan
    from hybridcode.spec import load_spec
    from hybridcode.vcs import repo as gitrepo

    if rounds < 1:
        raise UsageError(f"--rounds {rounds}: a fix needs at least one round",
                         f"use --rounds 1 or more (default {DEFAULT_ROUNDS})")
    root = gitrepo.repo_root(root)
    store = PlanStore(root)
    plan_id = store.resolve(plan_ref)
    settings = settings or load_settings(root)
    outcome = review_plan(root, plan_id, settings, fresh=fresh, on_stage=on_stage)
    spec = load_spec(store.spec_path(plan_id))
    worktree = root / WORKTREES / plan_id
    done: list[FixRound] = []

    def result(final: ReviewOutcome, stopped: str, message: str = "",
               unassigned: list[Unassigned] | None = None) -> FixResult:
        return FixResult(plan_id, final, done, rounds, stopped, message, unassigned or [])

    while not outcome.approved:
        if len(done) == rounds:
            return result(outcome, "rounds", f"still {_decision(outcome)} after {rounds} fix "
                          f"round{'s' * (rounds != 1)}")
        assignment = assign_findings(spec, worktree, outcome.verdict, outcome.checks)
        if not assignment.items:
            return result(outcome, "nothing-to-fix", "no finding belongs to a spec item, so "
                          "there is nothing to send back to the implementer",
                          assignment.unassigned)
        number = len(done) + 1
        try:
            implemented = _rework(root, plan_id, settings, number, assignment, on_stage)
            current = FixRound(number, outcome, assignment, implemented)
            done.append(current)
            if not current.reworked:
                return result(outcome, "unchanged", "no reworked item passed its tests again; each "
                              "keeps the code that was reviewed")
            on_stage(f"round {number}: reviewing the new diff")
            after = review_plan(root, plan_id, settings, on_stage=on_stage)
        except UsageError:
            raise
        except HybridError as exc:
            raise _stopped(exc, number, plan_id) from exc
        current.after = outcome = after
        if outcome.approved:
            break
        if after.diff.sha256 == current.review.diff.sha256:
            return result(outcome, "unchanged", "the reworked code is identical to the code "
                          "that was reviewed")
        if implemented.status == "budget":
            return result(outcome, "budget", "the implement run stopped before a call that would "
                          "cross its budget")
    return result(outcome, "approved")


def _rework(root: Path, plan_id: str, settings: Settings, number: int,
            assignment: Assignment, on_stage: Stage) -> ImplementResult:
    from hybridcode.implement.runner import implement_plan

    sent = set(assignment.item_ids)
    on_stage(f"round {number}: reworking {', '.join(assignment.item_ids)}")

    def on_event(event: ItemEvent) -> None:
        if event.item_id in sent:
            model = f" · {event.model}" if event.model else ""
            on_stage(f"round {number}: {event.item_id} {event.state}{model}")

    return implement_plan(root, plan_id, rework=assignment.feedback(), settings=settings,
                          on_event=on_event)


def _stopped(exc: HybridError, number: int, plan_id: str) -> HybridError:
    """The round's error, saying where things stand: the worktree holds code that passed its
    tests (an unfinished rework is rolled back), and nothing was committed."""
    hint = f"{exc.hint}; " if exc.hint else ""
    return HybridError(f"fix round {number} of plan {plan_id} stopped: {exc.message}",
                       f"{hint}the worktree keeps the code that passed its tests and nothing "
                       f"was committed; run `hybrid review {plan_id} --fix` to go on")


def _decision(outcome: ReviewOutcome) -> str:
    return outcome.decision.replace("_", " ")


# ---------------------------------------------------------------------------- output

def round_to_dict(fix_round: FixRound) -> dict[str, Any]:
    review, after = fix_round.review, fix_round.after
    sent = set(fix_round.assignment.item_ids)
    return {
        "round": fix_round.number,
        "review_id": review.review_id,
        "decision": review.decision,
        "diff_sha256": review.diff.sha256,
        "sent": [work.to_dict() for work in fix_round.assignment.items],
        "unassigned": [u.to_dict() for u in fix_round.assignment.unassigned],
        "implement": {
            "run_id": fix_round.implement.run_id,
            "status": fix_round.implement.status,
            "items": [{"item_id": i.item_id, "state": i.state, "model": i.model,
                       "attempts": i.attempts, "error": i.error}
                      for i in fix_round.implement.items if i.item_id in sent],
        },
        "reworked": fix_round.reworked,
        "after": None if after is None else {
            "review_id": after.review_id, "decision": after.decision,
            "diff_sha256": after.diff.sha256, "cached": after.cached},
    }


def fix_to_dict(result: FixResult) -> dict[str, Any]:
    """The final review as ``hybrid review --json`` prints it, plus the rounds that led to it."""
    from hybridcode.review.service import outcome_to_dict

    data = outcome_to_dict(result.outcome)
    data["fix"] = {"max_rounds": result.max_rounds, "rounds": len(result.rounds),
                   "stopped": result.stopped, "message": result.message,
                   "unassigned": [u.to_dict() for u in result.unassigned]}
    data["rounds"] = [round_to_dict(r) for r in result.rounds]
    return data
