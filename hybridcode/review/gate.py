"""The commit gate: a plan's code is committed only as the exact diff a review approved.

``commit_plan`` recomputes the worktree's diff, finds the signed approval of its SHA-256 under
the current checklist, verifies its signature against the allowed signers (a ledger row alone
proves nothing), and commits on ``hybrid/<plan-id>`` with trailers that let anyone — the CI
mode included — check later that the commit is still the approved diff, and who signed that::

    Hybrid-Plan: 251123-rate-limit-login
    Hybrid-Implementer: qwen2.5-coder:32b, claude-sonnet-5-5
    Hybrid-Review: approved 3f1c…e9 by claude-opus-5-5
    Hybrid-Attestation: eyJiYXNlX2NvbW1pdCI6…   (the signed statement, base64url)
    Hybrid-Signature: U1NIU0lHAAAAAQAAADMAAAAL…   (its SSH signature)

The commit runs the repository's hooks like any other (our own pre-commit gate passes it: the
staged diff is the approved one). ``clean`` removes worktrees and the branches already merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import (
    GitError,
    HybridError,
    SigningError,
    UntrustedApprovalError,
    UsageError,
)
from hybridcode.review.attestation import signature_trailer
from hybridcode.vcs import commits
from hybridcode.vcs.commits import (
    TRAILER_ATTESTATION,
    TRAILER_IMPLEMENTER,
    TRAILER_PLAN,
    TRAILER_REVIEW,
    TRAILER_SIGNATURE,
)
from hybridcode.vcs.worktree import branch_name, worktree_path

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger
    from hybridcode.review.attestation import Attestation
    from hybridcode.vcs.diff import Diff


class NoApprovalError(HybridError):
    """The diff about to be committed has no approving review (exit 1)."""


@dataclass
class CommitResult:
    plan_id: str
    branch: str
    commit: str
    diff_sha256: str
    reviewer_model: str
    implementers: list[str]
    trailers: dict[str, str]
    merged_into: str | None = None  # the user's branch, with --merge
    merge_commit: str | None = None
    already_committed: bool = False
    signer: str = ""  # the allowed signer whose signature the approval carries

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _checklist_version(root: Path, settings: Settings) -> str:
    from hybridcode.review.checklist import checklist_version

    return checklist_version(root, settings)


def implementer_models(ledger: Ledger, plan_id: str) -> list[str]:
    """Models whose code the plan's items kept (passing attempts), in order of first use;
    the plan's implementer calls when no attempt is recorded."""
    rows = ledger.query(
        "SELECT model, MIN(ts) AS first FROM attempts WHERE plan_id = ? AND outcome = 'passed' "
        "GROUP BY model ORDER BY first", (plan_id,))
    if not rows:
        rows = ledger.query(
            "SELECT model, MIN(ts) AS first FROM calls WHERE plan_id = ? AND "
            "(step = 'implement' OR tier = 'implementer') GROUP BY model ORDER BY first",
            (plan_id,))
    return [row["model"] for row in rows if row["model"]]


def _plan(root: Path, plan_ref: str | None):
    from hybridcode.plan.store import PlanStore

    store = PlanStore(root)
    plan_id = store.resolve(plan_ref)
    return store, plan_id, store.meta(plan_id)


def _worktree(root: Path, plan_id: str) -> Path:
    path = worktree_path(root, plan_id)
    if not (path / ".git").exists():
        raise UsageError(f"plan {plan_id} has no worktree at {path.relative_to(root)}",
                         f"run hybrid implement {plan_id} first")
    branch = commits.current_branch(path)
    if branch != branch_name(plan_id):
        raise GitError(f"the worktree of plan {plan_id} is on {branch or 'a detached HEAD'}, "
                       f"not {branch_name(plan_id)}",
                       f"check out {branch_name(plan_id)} there (git -C {path} switch "
                       f"{branch_name(plan_id)})")
    return path


def commit_plan(root: Path, plan_ref: str | None, message: str | None = None,
                merge: bool = False, settings: Settings | None = None) -> CommitResult:
    """Commit the plan's approved worktree diff on its branch; optionally merge it."""
    from hybridcode.config import load_settings
    from hybridcode.ledger import Ledger
    from hybridcode.vcs.diff import worktree_diff

    root = Path(root).resolve()
    settings = settings or load_settings(root)
    store, plan_id, meta = _plan(root, plan_ref)
    branch = branch_name(plan_id)
    if meta.status == "committed":
        return _already_committed(root, plan_id, branch, merge)
    wt = _worktree(root, plan_id)
    head = commits.git(wt, "rev-parse", "HEAD", env=commits.isolated_env()).strip()
    base = commits.git(root, "rev-parse", "--verify", f"{meta.base_commit}^{{commit}}").strip()
    if head != base:
        # The approved diff is against the base; committed on anything else, the commit's
        # own diff (what CI re-hashes) would differ from it.
        raise GitError(f"{branch} has moved past the plan's base {base[:12]} (now at "
                       f"{head[:12]})", f"reset it (git -C {wt} reset --soft {base[:12]}), "
                       f"review again, then commit")
    diff = worktree_diff(wt, base)
    if diff.empty:
        raise UsageError(f"nothing to commit: the worktree of plan {plan_id} has no changes "
                         f"against its base {meta.base_commit[:12]}",
                         f"run hybrid implement {plan_id} first")
    version = _checklist_version(root, settings)
    with Ledger.open(root) as ledger:
        attestation, signer = trusted_approval(root, ledger, plan_id, diff, version, settings)
        implementers = implementer_models(ledger, plan_id)
    statement = attestation.statement
    reviewer = statement.reviewer_model or "deterministic checks"
    trailers = [
        (TRAILER_PLAN, plan_id),
        (TRAILER_IMPLEMENTER, ", ".join(implementers) or "unknown"),
        (TRAILER_REVIEW, f"approved {diff.sha256} by {reviewer}"),
        (TRAILER_ATTESTATION, statement.encode()),
        (TRAILER_SIGNATURE, signature_trailer(attestation.signature)),
    ]
    subject = message or meta.title or f"hybridcode plan {plan_id}"
    if not message:
        subject += f"\n\nGenerated by hybridcode plan {plan_id} and approved by review."

    # The index becomes exactly the approved tree (diff.new_tree), so what is committed is
    # what was hashed, whatever is written to the worktree meanwhile; the hook, if installed,
    # checks the same hash again.
    sha = commits.commit_tree(wt, diff.new_tree, subject, trailers)

    meta.status = "committed"
    store.save_meta(meta)
    result = CommitResult(plan_id, branch, sha, diff.sha256, reviewer, implementers,
                          dict(trailers), signer=signer)
    if merge:
        result.merged_into = commits.current_branch(root)
        result.merge_commit = commits.merge_into_current(root, branch)
    return result


def trusted_approval(root: Path, ledger: Ledger, plan_id: str, diff: Diff, version: str,
                     settings: Settings) -> tuple[Attestation, str]:
    """The signed approval of exactly this diff, verified against the allowed signers, and
    the signer's principal. A ledger row alone proves nothing: only a signature an allowed key
    made over this diff's statement lets the commit through."""
    from hybridcode.plan.store import PlanStore
    from hybridcode.review.approvals import declared_files, spec_sha256
    from hybridcode.review.attestation import AllowedSigners, load_attestation, statement_problem
    from hybridcode.spec import load_spec

    attestation = load_attestation(root, diff.sha256)
    if attestation is None:
        raise NoApprovalError(
            f"no signed approval of the current diff of plan {plan_id} (sha256 "
            f"{diff.sha256[:12]}…)" + _why_not(ledger, plan_id, diff.sha256),
            _review_hint(root, plan_id, settings, ledger, diff.sha256))
    files = [f.path for f in diff.files]
    problem = statement_problem(attestation.statement, diff_sha256=diff.sha256,
                                checklist_version=version, plan_id=plan_id, files=files)
    spec = load_spec(PlanStore(root).spec_path(plan_id))
    if problem is None and attestation.statement.spec_sha256 != spec_sha256(spec):
        problem = "the plan's spec changed after the review"
    outside = sorted(set(files) - set(declared_files(spec)))
    if problem is None and outside:
        problem = (f"the diff changes {', '.join(outside[:5])}, which the plan's spec does not "
                   "declare")
    if problem is not None:
        raise NoApprovalError(f"the signed approval of plan {plan_id} does not cover its current "
                              f"diff: {problem}", f"run hybrid review {plan_id}")
    with AllowedSigners.from_file(root / settings.approvals.allowed_signers) as trust:
        check = trust.verify(attestation.statement, attestation.signature)
    if not check.ok:
        raise UntrustedApprovalError(
            f"the approval of plan {plan_id} (diff {diff.sha256[:12]}…) is not trusted: "
            f"{check.reason}", f"then run hybrid review {plan_id} --fresh")
    return attestation, check.principal


def _review_hint(root: Path, plan_id: str, settings: Settings, ledger: Ledger, sha: str) -> str:
    """What to do: review; first configure a key when approvals cannot be signed here."""
    from hybridcode.review.attestation import signing_key

    try:
        signing_key(root, settings.approvals.signing_key)
    except SigningError as exc:
        return f"{exc.hint or exc.message}; then run hybrid review {plan_id} --fresh"
    recorded = ledger.query("SELECT 1 FROM approvals WHERE diff_sha256 = ? LIMIT 1", (sha,))
    return f"run hybrid review {plan_id}" + (" --fresh" if recorded else "")


def _why_not(ledger: Ledger, plan_id: str, sha: str) -> str:
    """A hint at what happened: an unsigned record of this diff, an approval of an older
    diff, or of this diff under an older checklist."""
    same = ledger.query("SELECT 1 FROM approvals WHERE diff_sha256 = ? LIMIT 1", (sha,))
    if same:
        return ("; the ledger records an approval of it, but a ledger row alone proves "
                "nothing and no signature was made")
    older = ledger.query("SELECT diff_sha256 FROM approvals WHERE plan_id = ? ORDER BY ts DESC "
                         "LIMIT 1", (plan_id,))
    if older:
        return (f"; the approved diff was {older[0]['diff_sha256'][:12]}…, so the code changed "
                "after the review")
    return ""


def _already_committed(root: Path, plan_id: str, branch: str, merge: bool) -> CommitResult:
    try:
        sha = commits.git(root, "rev-parse", "--verify", f"refs/heads/{branch}").strip()
    except GitError as exc:
        raise UsageError(f"plan {plan_id} is marked committed but branch {branch} is gone",
                         "its commit was merged or deleted; nothing to do") from exc
    body = commits.git(root, "log", "-1", "--format=%B", sha)
    trailers = commits.parse_trailers(body)
    if trailers.get(TRAILER_PLAN) != plan_id:
        raise UsageError(f"plan {plan_id} is marked committed but the tip of {branch} is not "
                         "its commit", f"inspect it with git log {branch}")
    if not merge:
        raise UsageError(f"plan {plan_id} is already committed as {sha[:12]} on {branch}",
                         f"merge it with hybrid commit {plan_id} --merge, or git merge {branch}")
    review = commits.parse_review_trailer(trailers.get(TRAILER_REVIEW))
    implementers = [m.strip() for m in trailers.get(TRAILER_IMPLEMENTER, "").split(",")
                    if m.strip()]
    result = CommitResult(plan_id, branch, sha, review[0] if review else "",
                          review[1] if review else "", implementers, trailers,
                          already_committed=True)
    result.merged_into = commits.current_branch(root)
    result.merge_commit = commits.merge_into_current(root, branch)
    return result


# ---------------------------------------------------------------------- clean

@dataclass
class CleanResult:
    removed_worktrees: list[str] = field(default_factory=list)
    deleted_branches: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    def to_dict(self) -> dict:
        return {"removed_worktrees": self.removed_worktrees,
                "deleted_branches": self.deleted_branches,
                "kept": [{"what": what, "why": why} for what, why in self.kept]}


def _plan_ids_on_disk(root: Path) -> list[str]:
    ids = set()
    wt_dir = worktree_path(root, "x").parent
    if wt_dir.is_dir():
        ids |= {p.name for p in wt_dir.iterdir() if p.is_dir()}
    out = commits.git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads/hybrid/")
    ids |= {line.removeprefix("hybrid/") for line in out.splitlines() if line.strip()}
    return sorted(ids)


def clean(root: Path, plan_ref: str | None = None, force: bool = False) -> CleanResult:
    """Remove plan worktrees and the plan branches already merged into the current branch.

    Work is never lost silently: a worktree with uncommitted generated code and a branch not
    yet merged are kept (and reported) unless ``force``.
    """
    from hybridcode.vcs.worktree import remove_worktree

    root = Path(root).resolve()
    if plan_ref is not None:
        from hybridcode.plan.store import PlanStore

        ids = [PlanStore(root).resolve(plan_ref)]
    else:
        ids = _plan_ids_on_disk(root)
    result = CleanResult()
    for plan_id in ids:
        path = worktree_path(root, plan_id)
        branch = branch_name(plan_id)
        keep_worktree = False
        if path.exists():
            dirty = (path / ".git").exists() and commits.git(
                path, "status", "--porcelain", "--untracked-files=all",
                env=commits.isolated_env()).strip()
            if dirty and not force:
                keep_worktree = True
                why = (f"uncommitted generated code; review and commit it (hybrid commit "
                       f"{plan_id}) or pass --force to discard it")
                result.kept.append((str(path.relative_to(root)), why))
        has_branch = bool(commits.git(root, "branch", "--list", branch).strip())
        delete_branch = False
        if has_branch:
            if commits.is_merged(root, branch) or force:
                delete_branch = not keep_worktree
            else:
                why = (f"not merged into the current branch; merge it (hybrid commit {plan_id} "
                       "--merge) or pass --force")
                result.kept.append((branch, why))
        if path.exists() and not keep_worktree:
            remove_worktree(root, plan_id, delete_branch=delete_branch)
            result.removed_worktrees.append(str(path.relative_to(root)))
            if delete_branch:
                result.deleted_branches.append(branch)
        elif delete_branch:
            commits.git(root, "branch", "-D", branch)
            result.deleted_branches.append(branch)
    return result
