"""CI mode: every generated commit in a range is judged under a named trust policy.

A generated commit is one whose message claims generated code: a ``Hybrid-Plan`` trailer in
any trailer block git recognises (a cherry-pick's ``(cherry picked from commit …)`` line,
``Signed-off-by``/``Co-authored-by`` mixed in, and squash messages carrying several commits'
trailers all count; see :func:`hybridcode.vcs.commits.generated_commits`). A squash is judged
as one change: its own diff against its claims.

Trust policies (``--policy``; the default is ``signed`` when the *base* revision holds an
allowed-signers file, else ``reviewed`` — fail closed):

- ``signed``    valid only with a good SSH signature, by a key the base revision's
                allowed-signers file allows, over a statement whose diff hash is the recomputed
                one (for a squash: whose trees chain from the commit's parent to the commit);
- ``reviewed``  this CI reviews every generated commit itself and reuses only verdicts it
                stored itself, keyed by diff hash and checklist version, in a cache directory
                the job persists (never the ledger or anything else the checkout brings);
- ``hash``      today's integrity check: the recomputed hash equals the claimed one. Reported
                as what it is — "unchanged since the claim, claim not verified".

Whatever the policy, a generated commit that changes a file its plan's spec does not declare
(the declared files travel in the signed statement) is ``tampered``; no review rescues it.

Statuses: ``valid`` (signed), ``unchanged`` (hash), ``reviewed-approved`` /
``reviewed-rejected`` (a review here, or a verdict this CI stored), ``tampered``, ``unsigned``,
``untrusted`` (a signature the allowed signers do not accept), ``missing`` (no claim to check),
``unreviewed`` (``reviewed`` policy with ``--no-review`` and no stored verdict).
Exit code: 0 when every commit is ``valid``, ``unchanged`` or ``reviewed-approved``; else 1.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.errors import UsageError
from hybridcode.review.attestation import AllowedSigners, Statement, signature_armor
from hybridcode.vcs import commits
from hybridcode.vcs.commits import TRAILER_ATTESTATION, TRAILER_SIGNATURE, Claim

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.review.verdict import ReviewOutcome

POLICIES = ("signed", "reviewed", "hash")
GOOD_STATUSES = frozenset({"valid", "unchanged", "reviewed-approved"})
# Reviewed here, and the tests could not start: the CI environment needs fixing, not the code.
COULD_NOT_RUN = "could-not-run"
POLICY_MEANING = {
    "signed": "valid only with a good signature by an allowed key over the recomputed diff hash",
    "reviewed": "every generated commit reviewed by this CI itself (only verdicts it stored "
                "are reused)",
    "hash": "unchanged since the claim, claim not verified",
}


@dataclass
class CICommit:
    sha: str
    plan_id: str
    subject: str
    status: str
    detail: str
    actual_sha256: str
    policy: str = "signed"
    trailer_sha256: str | None = None
    reviewer_model: str | None = None
    signer: str | None = None  # the allowed signer's principal (signed policy)
    claims: int = 1  # generated changes claimed in the message (a squash claims several)
    files: list[str] = field(default_factory=list)
    anchor: str | None = None  # where a result about this commit as a whole points
    found: str | None = None  # the status before a review settled it
    outcome: ReviewOutcome | None = None
    cached_verdict: bool = False  # settled by a verdict this CI stored earlier
    # How the verdict was reached (reviewer calls, diff parts, parts not reviewed, hunks cut,
    # notes) — a verdict from the cache carries the figures of the review that reached it.
    figures: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in GOOD_STATUSES

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("outcome", "anchor")}
        data["ok"] = self.ok
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
    policy: str = "signed"
    policy_reason: str = ""
    trust: str | None = None  # where the allowed signers were read from
    commits: list[CICommit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.commits)

    @property
    def exit_code(self) -> int:
        """0 every commit accepted; 1 any rejected; else 3 when tests could not run."""
        from hybridcode.review.service import EXIT_COULD_NOT_RUN

        if self.ok:
            return 0
        if all(c.ok or c.status == COULD_NOT_RUN for c in self.commits):
            return EXIT_COULD_NOT_RUN
        return 1

    @property
    def policy_meaning(self) -> str:
        return POLICY_MEANING[self.policy]

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "policy": self.policy,
                "policy_meaning": self.policy_meaning, "policy_reason": self.policy_reason,
                "trust": self.trust, "ok": self.ok, "exit_code": self.exit_code,
                "commits": [c.to_dict() for c in self.commits]}


def _verify_rev(root: Path, rev: str) -> str:
    out = commits.git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                      ok_codes=(0, 1)).strip()
    if not out:
        raise UsageError(f"unknown revision {rev!r}",
                         "fetch it first (e.g. git fetch origin main); in GitHub Actions check "
                         "out with fetch-depth: 0")
    return out


# ---------------------------------------------------------------------- trust root

def base_signers(root: Path, base_sha: str, base: str, rel: str) -> AllowedSigners | None:
    """The allowed signers as the *base* revision has them: a pull request that adds its own
    key to the file does not get to sign its own changes."""
    text = commits.git(root, "show", f"{base_sha}:{rel}", ok_codes=(0, 128))
    if not text.strip():
        return None
    return AllowedSigners.from_text(text, f"{base}:{rel}")


def choose_policy(requested: str | None, signers: AllowedSigners | None, base: str,
                  rel: str) -> tuple[str, str]:
    if requested is not None:
        if requested not in POLICIES:
            raise UsageError(f"unknown trust policy {requested!r}",
                             f"use one of: {', '.join(POLICIES)}")
        if requested == "signed" and signers is None:
            raise UsageError(
                f"--policy signed needs an allowed-signers file in the base revision "
                f"({base}:{rel}), and there is none",
                f"commit {rel} on the target branch (git's allowed-signers format, see "
                "docs/ci.md), or use --policy reviewed")
        return requested, "chosen with --policy"
    if signers is not None:
        return "signed", f"default: {base}:{rel} exists"
    return "reviewed", f"default: no {rel} in {base}, so every generated commit is reviewed " \
                       "here (fail closed)"


# ---------------------------------------------------------------------- verdict cache

class VerdictCache:
    """Verdicts this CI reached itself, one JSON file per (diff hash, checklist version), in a
    directory the job persists between runs (actions/cache, GitLab ``cache:``). A directory the
    repository itself tracks is refused: its content would come from the code under review."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = Path(directory).expanduser().resolve()
        try:
            inside = self.directory.relative_to(root)
        except ValueError:
            inside = None
        if inside is not None:
            tracked = commits.git(root, "ls-files", "--", str(inside) or ".").strip()
            if tracked:
                raise UsageError(
                    f"the verdict cache {self.directory} holds files the repository tracks, so "
                    "its verdicts would come from the code under review",
                    "use a directory outside the checkout, e.g. --cache ~/.cache/hybrid-ci")

    def _path(self, diff_sha256: str, checklist_version: str) -> Path:
        return self.directory / f"{diff_sha256}-{checklist_version}.json"

    def get(self, diff_sha256: str, checklist_version: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(diff_sha256, checklist_version).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("diff_sha256") != diff_sha256 or \
                data.get("decision") not in ("approved", "changes_requested"):
            return None
        return data

    def put(self, outcome: ReviewOutcome) -> None:
        if outcome.decision == "blocked":  # decided by checks: cheap to run again, maybe flaky
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(outcome.diff.sha256, outcome.checklist_version)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "diff_sha256": outcome.diff.sha256, "checklist_version": outcome.checklist_version,
            "decision": outcome.decision, "reviewer_model": outcome.reviewer_model,
            "review_id": outcome.review_id, "figures": review_figures(outcome)},
            indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def review_figures(outcome: ReviewOutcome) -> dict[str, Any]:
    """How ``outcome``'s verdict was reached, as the ledger keeps it (see
    :data:`hybridcode.review.service.FIGURES`)."""
    from hybridcode.review.service import FIGURES

    return {**{key: getattr(outcome, key) for key in FIGURES}, "notes": list(outcome.notes)}


def _stored_figures(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    from hybridcode.review.service import FIGURES

    figures: dict[str, Any] = {key: data[key] for key in FIGURES
                               if isinstance(data.get(key), int)}
    figures["notes"] = [n for n in data.get("notes") or [] if isinstance(n, str)]
    return figures


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hybridcode" / "ci-verdicts"


# ---------------------------------------------------------------------- judging one commit

def _statements(claims: list[Claim]) -> list[Statement | None]:
    out: list[Statement | None] = []
    for claim in claims:
        try:
            out.append(Statement.decode(claim.trailers[TRAILER_ATTESTATION])
                       if claim.trailers.get(TRAILER_ATTESTATION) else None)
        except ValueError:
            out.append(None)
    return out


def _chains(statements: list[Statement], old_tree: str, new_tree: str) -> bool:
    """The statements' tree transitions lead, one after another, from ``old_tree`` to
    ``new_tree``: the commit is exactly those approved changes applied in sequence."""
    by_old = {s.old_tree: s for s in statements}
    current, steps = old_tree, 0
    while current != new_tree and current in by_old and steps < len(statements):
        current, steps = by_old[current].new_tree, steps + 1
    return current == new_tree and steps == len(statements) and len(by_old) == len(statements)


def _matches(diff, claims: list[Claim], statements: list[Statement | None]) -> tuple[bool, str]:
    """Is the commit's own diff what its claims approved? (matched, why not)."""
    if len(claims) == 1:
        claimed = statements[0].diff_sha256 if statements[0] is not None else \
            (claims[0].review[0] if claims[0].review else None)
        if claimed is None:
            return False, "no claimed diff hash"
        if claimed == diff.sha256:
            return True, ""
        return False, (f"diff sha256 {diff.sha256[:12]}… differs from the approved "
                       f"{claimed[:12]}…: the commit changed after approval")
    known = [s for s in statements if s is not None]
    if len(known) == len(claims) and _chains(known, diff.old_tree, diff.new_tree):
        return True, ""
    return False, (f"a squash of {len(claims)} generated changes that is not their approved "
                   "diffs applied in sequence (or lacks their statements)")


def judge(root: Path, gen: commits.GeneratedCommit, policy: str,
          signers: AllowedSigners | None) -> CICommit:
    """The status of one generated commit under ``policy``, before any review here."""
    from hybridcode.vcs.diff import anchor_file, commit_diff

    diff = commit_diff(root, gen.sha)
    claims = gen.claims
    statements = _statements(claims)
    review = claims[0].review if len(claims) == 1 else None
    record = CICommit(
        sha=gen.sha, plan_id=", ".join(dict.fromkeys(c.plan_id for c in claims)),
        subject=gen.subject, status="missing", detail="", actual_sha256=diff.sha256,
        policy=policy, trailer_sha256=review[0] if review else None,
        reviewer_model=(review[1] if review else None) or (
            statements[0].reviewer_model if statements[0] is not None else None),
        claims=len(claims), files=[f.path for f in diff.files], anchor=anchor_file(diff.files))
    if all(s is not None for s in statements):
        declared = {p for s in statements for p in s.declared_files}  # type: ignore[union-attr]
        planned = all(s.plan_id for s in statements)  # type: ignore[union-attr]
        outside = sorted(set(record.files) - declared) if planned else []
        if outside:
            record.status = "tampered-undeclared"
            record.detail = (f"changes {', '.join(outside[:5])}, which its plan's spec does not "
                             "declare: tampered, whatever its trailers say")
            return record
        for claim, statement in zip(claims, statements):
            if statement is not None and statement.plan_id and statement.plan_id != claim.plan_id:
                record.status = "tampered"
                record.detail = (f"its Hybrid-Plan {claim.plan_id} is not the plan "
                                 f"{statement.plan_id} its statement approves")
                return record
    if policy == "reviewed":
        record.status = "unreviewed"
        record.detail = "not reviewed by this CI yet"
        return record
    if policy == "signed":
        if any(s is None for s in statements) or \
                any(not c.trailers.get(TRAILER_SIGNATURE) for c in claims):
            record.status = "unsigned"
            record.detail = ("no signed approval in its message (Hybrid-Attestation and "
                             "Hybrid-Signature trailers); a hash anyone can compute proves "
                             "nothing. If hybrid commit made it, a tool dropped the message "
                             "body: check with git log -1 --format=%B "
                             f"{gen.sha[:12]} (GitHub: squash with \"pull request title and "
                             "commit details\")")
            return record
        principals = []
        assert signers is not None
        for claim, statement in zip(claims, statements):
            check = signers.verify(statement,  # type: ignore[arg-type]
                                   signature_armor(claim.trailers[TRAILER_SIGNATURE]))
            if not check.ok:
                record.status = "untrusted"
                record.detail = check.reason
                return record
            if statement.decision != "approved":  # type: ignore[union-attr]
                record.status = "untrusted"
                record.detail = "its signed statement is not an approval"
                return record
            principals.append(check.principal)
        record.signer = ", ".join(dict.fromkeys(principals))
    matched, why = _matches(diff, claims, statements)
    if not matched:
        record.status = "missing" if why == "no claimed diff hash" else "tampered"
        record.detail = why if record.status == "tampered" else (
            "no valid Hybrid-Review trailer (expected `approved <sha256> by <model>`)")
        return record
    squash = f"squash of {len(claims)} approved changes; " if len(claims) > 1 else ""
    if policy == "signed":
        record.status = "valid"
        record.detail = (f"{squash}signed by {record.signer}; approved "
                         f"{diff.sha256[:12]}… by {record.reviewer_model or 'checks'}")
    else:
        record.status = "unchanged"
        record.detail = f"{squash}{POLICY_MEANING['hash']}"
    return record


def review_commit(root: Path, sha: str, settings: Settings | None = None) -> ReviewOutcome:
    """Review one commit's own diff, with the checks run on that commit's files.

    The commit is checked out in a temporary detached worktree: CI checks out only the head
    of the range, and a commit in the middle must be tested as it was, not as HEAD is. Files
    the build generates and git ignores are carried over from the job's checkout
    (:mod:`hybridcode.vcs.generated`). The
    ledger the checkout brings is never asked (``fresh``): it came with the code under review.
    """
    import tempfile

    from hybridcode.review.service import review_changes
    from hybridcode.vcs.diff import commit_diff
    from hybridcode.vcs.generated import provide_generated_files

    diff = commit_diff(root, sha)
    with tempfile.TemporaryDirectory(prefix="hybrid-ci-") as tmp:
        checkout = Path(tmp) / sha[:12]
        commits.git(root, "worktree", "add", "--detach", "--quiet", str(checkout), sha)
        try:
            # What the build generates and git ignores (a hatch-vcs _version.py), as the
            # job's own install made it: the checkout's tests import it.
            provide_generated_files(root, checkout)
            return review_changes(root, checkout, diff, source="range", settings=settings,
                                  fresh=True, sign=False)
        finally:
            commits.git(root, "worktree", "remove", "--force", str(checkout), ok_codes=(0, 128))
            commits.git(root, "worktree", "prune")


def _settle(root: Path, record: CICommit, cache: VerdictCache, version: str,
            settings: Settings, review_missing: bool) -> None:
    """A commit the policy did not accept: a verdict this CI stored, else a review here."""
    found = record.status
    stored = cache.get(record.actual_sha256, version)
    if stored is not None:
        record.found, record.cached_verdict = found, True
        record.status = ("reviewed-approved" if stored["decision"] == "approved"
                         else "reviewed-rejected")
        record.reviewer_model = stored.get("reviewer_model") or record.reviewer_model
        record.figures = _stored_figures(stored.get("figures"))
        notes = (record.figures or {}).get("notes") or []
        record.detail = (f"{found}; reviewed by this CI earlier: "
                         f"{stored['decision'].replace('_', ' ')} (verdict cache)"
                         + "".join(f"; {note}" for note in notes))
        return
    if not review_missing:
        if found == "unreviewed":
            record.detail = (f"not reviewed by this CI and no stored verdict for diff "
                             f"{record.actual_sha256[:12]}… (--no-review)")
        return
    if settings.replay.path is not None:
        raise UsageError("CI reviews cannot be answered from recorded responses (replay.path "
                         "is set, perhaps by the checked-out configuration)",
                         "remove [replay] from the configuration CI reads")
    outcome = review_commit(root, record.sha, settings)
    cache.put(outcome)
    record.found, record.outcome = found, outcome
    record.figures = review_figures(outcome)
    record.reviewer_model = outcome.reviewer_model or record.reviewer_model
    stuck = outcome.could_not_run
    if stuck is not None:
        record.status = COULD_NOT_RUN
        record.detail = f"{found}; {stuck.summary}"
        return
    record.status = "reviewed-approved" if outcome.approved else "reviewed-rejected"
    record.detail = f"{found}; reviewed here: {outcome.decision.replace('_', ' ')}"


def run_ci(root: Path, base: str, head: str = "HEAD", settings: Settings | None = None,
           review_missing: bool = True, policy: str | None = None,
           cache_dir: Path | None = None) -> CIResult:
    """Judge every generated commit in ``base..head`` under the trust policy (``policy``, or
    the default the base revision implies); review what the policy does not accept when
    ``review_missing`` (with ``reviewed``, every commit without a stored verdict)."""
    from hybridcode.config import load_settings
    from hybridcode.review.checklist import checklist_version

    root = Path(root).resolve()
    base_sha = _verify_rev(root, base)
    head_sha = _verify_rev(root, head)
    settings = settings or load_settings(root)
    rel = settings.approvals.allowed_signers
    signers = base_signers(root, base_sha, base, rel)
    try:
        chosen, reason = choose_policy(policy, signers, base, rel)
        result = CIResult(base=base, head=head, policy=chosen, policy_reason=reason,
                          trust=signers.origin if signers is not None and chosen == "signed"
                          else None)
        found = commits.generated_commits(root, base_sha, head_sha)
        cache = VerdictCache(cache_dir or default_cache_dir(), root)
        version = checklist_version(root, settings) if found else ""
        for gen in found:
            record = judge(root, gen, chosen, signers)
            if record.status == "tampered-undeclared":
                record.status = "tampered"
            elif not record.ok:
                _settle(root, record, cache, version, settings, review_missing)
            result.commits.append(record)
    finally:
        if signers is not None:
            signers.close()
    return result
