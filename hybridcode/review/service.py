"""``hybrid review``: checks first, then the reviewer, then a record bound to the diff's hash.

    outcome = review_plan(root, "260101-add-rate-limit")      # a plan's worktree vs its base
    outcome = review_staged(root)                              # the index vs HEAD
    outcome = review_range(root, "origin/main", "HEAD")        # what a branch brings
    outcome_to_dict(outcome)                                   # the JSON every report builds on

Order of decisions:

1. An identical diff (same SHA-256, same checklist version) already reviewed is answered from
   the ledger — no checks, no model call (see :mod:`hybridcode.review.approvals` for which
   records are reused). ``fresh=True`` skips this.
2. The deterministic checks run. A blocking failure decides ``blocked``; the reviewer is then
   not called at all (no tokens spent on code that cannot pass), unless
   ``review_when_blocked=True`` asks for its findings too — the decision stays ``blocked``.
3. The reviewer's verdict is held to its own content: an "approve" with a failed or missing
   checklist entry, a major or critical finding, or a part of the diff it was not shown
   becomes ``changes_requested`` (with a note saying why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.errors import UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger
    from hybridcode.review.approvals import StoredReview
    from hybridcode.review.checklist import Checklist
    from hybridcode.review.verdict import FinalDecision, ReviewOutcome
    from hybridcode.spec import Spec
    from hybridcode.vcs.diff import Diff

# Where a plan's worktree lives (hybridcode.vcs.worktree creates it there); spelled out here so
# that reviewing does not import GitPython.
WORKTREES = Path(".hybrid") / "worktrees"

Stage = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


@dataclass
class PlanUnderReview:
    """A plan's worktree diff against its base, with what a reviewer reads alongside it."""

    root: Path
    plan_id: str
    worktree: Path
    spec: Spec
    architecture: str
    diff: Diff
    base_commit: str = ""


def plan_under_review(root: Path, plan_ref: str | None = None, *,
                      on_stage: Stage = _quiet) -> PlanUnderReview:
    """The diff of a plan's worktree (refused when there is none, or nothing in it)."""
    from hybridcode.vcs import repo as gitrepo
    from hybridcode.plan.store import ARCHITECTURE, PlanStore
    from hybridcode.spec import load_spec
    from hybridcode.vcs.diff import worktree_diff

    root = gitrepo.repo_root(root)
    store = PlanStore(root)
    plan_id = store.resolve(plan_ref)
    meta = store.meta(plan_id)
    spec = load_spec(store.spec_path(plan_id))
    worktree = root / WORKTREES / plan_id
    if not worktree.is_dir():
        raise UsageError(f"plan {plan_id} has no worktree at {worktree}",
                         f"implement it first: hybrid implement {plan_id}")
    try:
        architecture = store.read_text(plan_id, ARCHITECTURE)
    except FileNotFoundError:
        architecture = ""
    on_stage("computing the diff")
    diff = worktree_diff(worktree, meta.base_commit)
    if diff.empty:
        raise UsageError(f"nothing to review: the worktree of {plan_id} has no changes",
                         f"implement it first: hybrid implement {plan_id}")
    return PlanUnderReview(root, plan_id, worktree, spec, architecture, diff,
                           meta.base_commit)


def set_plan_decision(root: Path, plan_id: str, approved: bool) -> None:
    """A plan's status after a review of its diff (a committed plan stays committed)."""
    from hybridcode.plan.store import PlanStore

    store = PlanStore(root)
    meta = store.meta(plan_id)  # re-read: implement may have touched it meanwhile
    if meta.status != "committed":
        meta.status = "approved" if approved else "changes_requested"
        store.save_meta(meta)


def review_plan(root: Path, plan_ref: str | None = None, settings: Settings | None = None, *,
                fresh: bool = False, review_when_blocked: bool = False,
                on_stage: Stage = _quiet) -> ReviewOutcome:
    """Review a plan's worktree against the plan's base commit and update the plan's status."""
    plan = plan_under_review(root, plan_ref, on_stage=on_stage)
    outcome = review_changes(plan.root, plan.worktree, plan.diff, source="plan", spec=plan.spec,
                             architecture=plan.architecture, plan_id=plan.plan_id,
                             settings=settings, fresh=fresh,
                             review_when_blocked=review_when_blocked, on_stage=on_stage,
                             base_commit=plan.base_commit)
    set_plan_decision(plan.root, plan.plan_id, outcome.approved)
    return outcome


def review_staged(root: Path, settings: Settings | None = None, *, fresh: bool = False,
                  review_when_blocked: bool = False, on_stage: Stage = _quiet) -> ReviewOutcome:
    """Review what is staged (the diff ``git commit`` would record).

    In a linked worktree (a plan's, say) the review is recorded in the project's ledger, the
    one the pre-commit gate reads, so the gate's advice to run this works where it is given."""
    from hybridcode.review.hook import project_roots
    from hybridcode.vcs.diff import staged_diff

    top, project = project_roots(Path(root))
    on_stage("computing the diff")
    diff = staged_diff(top)
    if diff.empty:
        raise UsageError("nothing staged to review", "stage changes with git add first")
    return review_changes(project, top, diff, source="staged", settings=settings, fresh=fresh,
                          review_when_blocked=review_when_blocked, on_stage=on_stage)


def review_range(root: Path, base: str, head: str = "HEAD", settings: Settings | None = None,
                 *, fresh: bool = False, review_when_blocked: bool = False,
                 on_stage: Stage = _quiet) -> ReviewOutcome:
    """Review what ``head`` changes relative to ``base`` (checks run on the checked-out files,
    so check out ``head`` — as CI does — for the tests to test the reviewed code)."""
    from hybridcode.vcs import repo as gitrepo
    from hybridcode.vcs.diff import range_diff

    root = gitrepo.repo_root(root)
    on_stage("computing the diff")
    diff = range_diff(root, base, head)
    if diff.empty:
        return nothing_to_review(diff, f"nothing to review: {head} makes no change to {base}")
    return review_changes(root, root, diff, source="range", settings=settings, fresh=fresh,
                          review_when_blocked=review_when_blocked, on_stage=on_stage)


def review_changes(root: Path, directory: Path, diff: Diff, *, source: str,
                   spec: Spec | None = None, architecture: str = "",
                   plan_id: str | None = None, settings: Settings | None = None,
                   fresh: bool = False, review_when_blocked: bool = False,
                   on_stage: Stage = _quiet, base_commit: str = "",
                   sign: bool = True) -> ReviewOutcome:
    """The review of one diff whose files are checked out in ``directory``; recorded in the
    ledger of ``root``. An approval is signed (``sign``; CI, which holds no key, keeps its own
    verdicts instead) — see :func:`hybridcode.review.approvals.record_approval`."""
    from hybridcode.config import load_settings
    from hybridcode.ledger import Ledger
    from hybridcode.review.approvals import reusable_review
    from hybridcode.review.checklist import load_checklist

    settings = settings or load_settings(root)
    checklist = load_checklist(root, settings)
    with Ledger.open(root) as ledger:
        if not fresh:
            stored = reusable_review(ledger, diff.sha256, checklist.version)
            if stored is not None:
                return _from_record(stored, diff, plan_id)
        run_id = ledger.start_run("review", plan_id=plan_id, settings=settings)
        status = "failed"
        try:
            outcome = _review(ledger, run_id, root, directory, diff, source, spec,
                              architecture, plan_id, settings, checklist,
                              review_when_blocked, on_stage)
            status = "ok"
        finally:
            ledger.finish_run(run_id, status)
    if sign:
        sign_outcome(root, outcome, spec, base_commit, settings)
    return outcome


def sign_outcome(root: Path, outcome: ReviewOutcome, spec: Spec | None, base_commit: str,
                 settings: Settings) -> None:
    """Sign an approval; withdraw the signed approval of a diff that is no longer approved.
    Every front end that records a review calls it (the CLI's reviews, the MCP server's).
    Without a key the review stands, unsigned, and says how to sign it (the gate refuses an
    unsigned approval)."""
    from hybridcode.errors import SigningError
    from hybridcode.review.approvals import record_approval, withdraw_approval

    if not outcome.approved:
        withdraw_approval(root, outcome.diff.sha256)
        return
    try:
        signed = record_approval(root, diff=outcome.diff,
                                 checklist_version=outcome.checklist_version,
                                 reviewer_model=outcome.reviewer_model,
                                 verdict=outcome.verdict, checks=outcome.checks,
                                 plan_id=outcome.plan_id, spec=spec, base_commit=base_commit,
                                 settings=settings)
    except SigningError as exc:
        outcome.notes.append(f"the approval is not signed, so hybrid commit and the hook will "
                             f"refuse it: {exc}; then run the review again with --fresh")
        return
    from hybridcode.review.approvals import signing_readiness
    from hybridcode.review.attestation import key_fingerprint, signer_key

    outcome.notes.append("the approval is signed with key "
                         f"{key_fingerprint(signer_key(signed.signature))}")
    ready = signing_readiness(root, settings)
    if not ready.ok:
        outcome.notes.append(f"hybrid commit will refuse this approval until it is trusted: "
                             f"{ready.problem} — {ready.fix}")


def _review(ledger: Ledger, run_id: str, root: Path, directory: Path, diff: Diff, source: str,
            spec: Spec | None, architecture: str, plan_id: str | None, settings: Settings,
            checklist: Checklist, review_when_blocked: bool,
            on_stage: Stage) -> ReviewOutcome:
    from hybridcode.models.caller import Caller
    from hybridcode.plan.routing import task_kind
    from hybridcode.review.approvals import record_review
    from hybridcode.review.checks import blocking_failures, run_checks
    from hybridcode.review.reviewer import review_diff
    from hybridcode.review.verdict import ReviewOutcome, consistent_decision
    from hybridcode.vcs.diff import display_path

    on_stage("running checks (syntax, tests, lint, secrets)")
    checks = run_checks(directory, diff, spec, settings, root=root)
    blocked = blocking_failures(checks)
    verdict, model, notes = None, "", []
    share: dict[str, int] = {}
    if settings.sandbox.mode == "off":
        notes.append('the checks ran the code without a sandbox ([sandbox] mode = "off")')
    wanted = "request_changes"
    kinds = {item.id: task_kind(item) for item in spec.items} if spec is not None else {}
    if not blocked or review_when_blocked:
        import random

        from hybridcode.review.sampling import choose_reviewer

        # Seeded by the diff so the same diff always gets the same reviewer.
        choice = choose_reviewer(ledger, settings, sorted(set(kinds.values())),
                                 rng=random.Random(diff.sha256))
        if not choice.full:
            notes.append(f"reviewed by the cheaper reviewer: {choice.reason}")
        on_stage(f"reviewing with {choice.spec.model}")
        caller = Caller(settings, ledger, run_id=run_id, plan_id=plan_id, root=root)
        prefix = ()
        if plan_id is not None and choice.spec.backend == "anthropic":
            from hybridcode.plan.prefix import plan_prefix
            from hybridcode.plan.store import PlanStore

            prefix = plan_prefix(PlanStore(root).dir(plan_id), architecture)
        answer = review_diff(caller, settings, diff, checklist, spec, architecture, checks,
                             reviewer=choice.spec, prefix=prefix)
        verdict, model = answer.verdict, answer.model
        share = {"calls": answer.calls, "parts": len(answer.parts),
                 "parts_skipped": len(answer.skipped), "cut_hunks": answer.cut_hunks}
        wanted, why = consistent_decision(verdict, checklist.ids)
        if why:
            notes.append(f"the reviewer approved, but {why}")
        if answer.truncated:
            cut = answer.cut_hunks
            notes.append(f"{cut} hunk{'s' * (cut != 1)} too large to show the reviewer in full "
                         "(cut at the review budget); split the change so every line can be "
                         "reviewed")
        if answer.skipped:
            files = sorted({display_path(f) for p in answer.skipped for f in p.files})
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5
                                            else "")
            notes.append(f"{len(answer.skipped)} of {len(answer.parts)} parts of the diff were "
                         f"not reviewed ({answer.skip_reason}): {shown}; split the change, or "
                         "raise the limit in .hybrid/config.toml")
        if (answer.truncated or answer.skipped) and wanted == "approve":
            wanted = "request_changes"
    decision: FinalDecision
    if blocked:
        decision = "blocked"
        if all(c.could_not_run for c in blocked):
            notes.insert(0, f"{blocked[0].summary} (the code was not judged; no reviewer "
                         "was asked)")
        else:
            notes.insert(0, "blocked by failing checks: " + ", ".join(c.name for c in blocked))
    else:
        decision = "approved" if wanted == "approve" else "changes_requested"
    review_id = record_review(
        ledger, source=source, diff_sha256=diff.sha256, checklist_version=checklist.version,
        decision=decision, reviewer_model=model, verdict=verdict, checks=checks,
        run_id=run_id, plan_id=plan_id, item_kinds=kinds,
        figures={**share, "notes": list(notes)})
    cost = ledger.spend(run_id) + ledger.spend(run_id, local=True)
    return ReviewOutcome(diff=diff, checks=checks, verdict=verdict, decision=decision,
                         cached=False, review_id=review_id, reviewer_model=model,
                         checklist_version=checklist.version, cost=cost, plan_id=plan_id,
                         notes=notes, **share)


def _from_record(stored: StoredReview, diff: Diff, plan_id: str | None) -> ReviewOutcome:
    from hybridcode.review.checks import CheckResult
    from hybridcode.review.verdict import ReviewOutcome, Verdict

    verdict = Verdict.model_validate(stored.verdict) if stored.verdict else None
    # The figures and caveats of the verdict repeated: "3 parts, 1 hunk cut" stays true of it
    # (no call is made now; the cost says so).
    figures = stored.figures
    share = {key: int(figures.get(key) or 0) for key in FIGURES}
    notes = [str(n) for n in figures.get("notes") or [] if isinstance(n, str)]
    return ReviewOutcome(
        diff=diff, checks=[CheckResult.from_dict(c) for c in stored.checks], verdict=verdict,
        decision=stored.final_decision, cached=True, review_id=stored.id,
        reviewer_model=stored.reviewer_model, checklist_version=stored.checklist_version,
        cost=0.0, plan_id=plan_id or stored.plan_id,
        notes=[f"answered from the review of {stored.ts} (identical diff); "
               "--fresh reviews it again", *notes], **share)


# The reviewer's share of a review, as ReviewOutcome and the ledger's figures name them.
FIGURES = ("calls", "parts", "parts_skipped", "cut_hunks")


def nothing_to_review(diff: Diff, why: str) -> ReviewOutcome:
    """The outcome of a range without changes: every report format renders it as a valid,
    empty report (a SARIF log without results, a JUnit file without tests), and it exits 0 —
    a pull request that changes nothing has nothing to hold against it. Not recorded."""
    from hybridcode.review.verdict import ReviewOutcome

    return ReviewOutcome(diff=diff, checks=[], verdict=None, decision="nothing_to_review",
                         notes=[why])


# ---------------------------------------------------------------------------- output

# The tests could not run here (docs/ci.md): the environment needs fixing, not the code.
EXIT_COULD_NOT_RUN = 3


def exit_code(outcome: ReviewOutcome) -> int:
    """What a CI job gates on: 0 approved (or nothing to review), 1 changes requested or
    blocked, 3 could not run (only the environment stands against it)."""
    if outcome.approved or outcome.decision == "nothing_to_review":
        return 0
    return EXIT_COULD_NOT_RUN if outcome.could_not_run is not None else 1


def outcome_to_dict(outcome: ReviewOutcome) -> dict[str, Any]:
    """The outcome as plain JSON data: ``hybrid review --json`` prints it, reports render it.
    Paths are spelled by :func:`~hybridcode.vcs.diff.display_path` (valid UTF-8 always)."""
    from hybridcode.vcs.diff import display_path

    diff = outcome.diff
    checks = [c.to_dict() for c in outcome.checks]
    for check in checks:
        for finding in check.get("findings") or []:
            if isinstance(finding, dict) and isinstance(finding.get("file"), str):
                finding["file"] = display_path(finding["file"])
    return {
        "decision": outcome.decision,
        "approved": outcome.approved,
        "could_not_run": _could_not_run(outcome),
        "cached": outcome.cached,
        "review_id": outcome.review_id,
        "plan_id": outcome.plan_id,
        "source": diff.source,
        "diff_sha256": diff.sha256,
        "checklist_version": outcome.checklist_version,
        "reviewer_model": outcome.reviewer_model,
        "reviewer_calls": outcome.calls,
        "diff_parts": outcome.parts,
        "diff_parts_not_reviewed": outcome.parts_skipped,
        "cut_hunks": outcome.cut_hunks,
        "cost_usd": round(outcome.cost, 6),
        "notes": list(outcome.notes),
        "files": [
            {"path": display_path(f.path),
             "old_path": display_path(f.old_path) if f.old_path else None, "status": f.status,
             "binary": f.binary, "encoding": f.encoding, "old_mode": f.old_mode,
             "new_mode": f.new_mode, "added_lines": len(f.added),
             "removed_lines": f.removed_count}
            for f in diff.files
        ],
        "checks": checks,
        "verdict": outcome.verdict.model_dump(mode="json") if outcome.verdict else None,
    }


def _could_not_run(outcome: ReviewOutcome) -> dict[str, str] | None:
    check = outcome.could_not_run
    if check is None:
        return None
    return {"check": check.name, "cause": check.summary, "fix": check.fix}
