"""CI mode: every generated commit in a range must still be the exact diff its review approved.

``hybrid commit`` writes ``Hybrid-Review: approved <sha256> by <model>`` into each generated
commit. Here, for each commit in ``base..head`` carrying a ``Hybrid-Plan`` trailer, the diff is
recomputed from git and hashed again:

- ``valid``     the recomputed hash equals the trailer's (and, where a ledger is present and
                holds approvals for the plan, one of them is of this hash);
- ``tampered``  the hashes differ — the commit was amended, rebased over changed context or
                edited after approval;
- ``missing``   a ``Hybrid-Plan`` commit without a readable ``Hybrid-Review`` trailer;
- ``reviewed-approved`` / ``reviewed-rejected``  a tampered or missing commit that was then
                reviewed here (``review_missing``), with the review's decision.

The trailer proves the commit has not changed since the claim was written; a CI without the
ledger cannot prove who wrote the claim, which is why commits without a valid claim are reviewed.
Exit code: 0 when every commit is valid or reviewed-approved, 1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.errors import UsageError
from hybridcode.vcs import commits
from hybridcode.vcs.commits import TRAILER_PLAN, TRAILER_REVIEW

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.review.verdict import ReviewOutcome

GOOD_STATUSES = frozenset({"valid", "reviewed-approved"})


@dataclass
class CICommit:
    sha: str
    plan_id: str
    subject: str
    status: str  # valid / tampered / missing / reviewed-approved / reviewed-rejected
    detail: str
    actual_sha256: str
    trailer_sha256: str | None = None
    reviewer_model: str | None = None
    ledger_approval: bool | None = None  # None: no ledger records for this plan to compare
    files: list[str] = field(default_factory=list)
    found: str | None = None  # tampered / missing before a review settled it
    outcome: ReviewOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "outcome"}
        if self.outcome is not None:
            from hybridcode.review.service import outcome_to_dict

            data["review"] = outcome_to_dict(self.outcome)
        else:
            data["review"] = None
        return data


@dataclass
class CIResult:
    base: str
    head: str
    commits: list[CICommit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status in GOOD_STATUSES for c in self.commits)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "ok": self.ok,
                "exit_code": self.exit_code, "commits": [c.to_dict() for c in self.commits]}


def _verify_rev(root: Path, rev: str) -> str:
    out = commits.git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                      ok_codes=(0, 1)).strip()
    if not out:
        raise UsageError(f"unknown revision {rev!r}",
                         "fetch it first (e.g. git fetch origin main); in GitHub Actions check "
                         "out with fetch-depth: 0")
    return out


def _ledger_hashes(root: Path) -> dict[str, set[str]] | None:
    """Approved hashes per plan from the repository's ledger, or None when there is none (the
    usual case in CI, where ``.hybrid/`` is not checked in)."""
    from hybridcode.ledger import ledger_path

    if not ledger_path(root).is_file():
        return None
    from hybridcode.ledger import Ledger

    with Ledger.open(root) as ledger:
        rows = ledger.query("SELECT plan_id, diff_sha256 FROM approvals")
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["plan_id"] or "", set()).add(row["diff_sha256"])
    return found


def check_commit(root: Path, sha: str, trailers: dict[str, str],
                 ledger: dict[str, set[str]] | None) -> CICommit:
    """Compare one commit's recomputed diff hash with its trailer (and the ledger)."""
    from hybridcode.vcs.diff import commit_diff

    diff = commit_diff(root, sha)
    plan_id = trailers.get(TRAILER_PLAN, "")
    subject = commits.git(root, "log", "-1", "--format=%s", sha).strip()
    record = CICommit(sha=sha, plan_id=plan_id, subject=subject, status="valid", detail="",
                      actual_sha256=diff.sha256, files=[f.path for f in diff.files])
    claim = commits.parse_review_trailer(trailers.get(TRAILER_REVIEW))
    if claim is None:
        record.status = "missing"
        record.detail = ("no valid Hybrid-Review trailer (expected `approved <sha256> by "
                         "<model>`)")
        return record
    record.trailer_sha256, record.reviewer_model = claim
    if claim[0] != diff.sha256:
        record.status = "tampered"
        record.detail = (f"diff sha256 {diff.sha256[:12]}… differs from the approved "
                         f"{claim[0][:12]}… in its trailer: the commit changed after approval")
        return record
    approved = ledger.get(plan_id) if ledger is not None else None
    if approved:
        record.ledger_approval = diff.sha256 in approved
        if not record.ledger_approval:
            record.status = "tampered"
            record.detail = (f"the trailer's hash {diff.sha256[:12]}… matches the diff, but the "
                             f"ledger holds no approval of it for plan {plan_id}")
            return record
    record.detail = f"approved {diff.sha256[:12]}… by {record.reviewer_model or 'checks'}"
    return record


def review_commit(root: Path, sha: str, settings: Settings | None = None) -> ReviewOutcome:
    """Review one commit's own diff, with the checks run on that commit's files.

    The commit is checked out in a temporary detached worktree: CI checks out only the head
    of the range, and a commit in the middle must be tested as it was, not as HEAD is.
    """
    import tempfile

    from hybridcode.review.service import review_changes
    from hybridcode.vcs.diff import commit_diff

    diff = commit_diff(root, sha)
    with tempfile.TemporaryDirectory(prefix="hybrid-ci-") as tmp:
        checkout = Path(tmp) / sha[:12]
        commits.git(root, "worktree", "add", "--detach", "--quiet", str(checkout), sha)
        try:
            return review_changes(root, checkout, diff, source="range", settings=settings)
        finally:
            commits.git(root, "worktree", "remove", "--force", str(checkout), ok_codes=(0, 128))
            commits.git(root, "worktree", "prune")


def run_ci(root: Path, base: str, head: str = "HEAD", settings: Settings | None = None,
           review_missing: bool = True) -> CIResult:
    """Check every generated commit in ``base..head``; review the ones without a valid
    approval when ``review_missing``."""
    root = Path(root).resolve()
    base_sha = _verify_rev(root, base)
    head_sha = _verify_rev(root, head)
    result = CIResult(base=base, head=head)
    ledger = _ledger_hashes(root)
    for sha, trailers in commits.trailer_commits(root, base_sha, head_sha):
        record = check_commit(root, sha, trailers, ledger)
        if record.status != "valid" and review_missing:
            outcome = review_commit(root, sha, settings)
            record.found = record.status
            record.outcome = outcome
            approved = outcome.decision == "approved"
            record.status = "reviewed-approved" if approved else "reviewed-rejected"
            record.detail = f"{record.found}; reviewed here: {outcome.decision.replace('_', ' ')}"
        result.commits.append(record)
    return result
