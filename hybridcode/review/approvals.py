"""Review records in the ledger (migration m003): reviews, per-item grades, approvals; and the
signed attestation an approving review leaves (:func:`record_approval`).

A ledger row is a record, not a proof: anyone who can write ``.hybrid/ledger.db`` can add one.
What the gate trusts is the signed statement :func:`record_approval` writes beside it (see
:mod:`hybridcode.review.attestation`), checked against the allowed signers.

An approval is keyed by the diff's SHA-256 *and* the checklist version: any change to the
diff, or to the questions it was judged by, leaves it behind. A review, its grades and its
approval are written in one transaction, so a crash never leaves an approval without the
review that gave it.

The latest word counts: a later review of the same diff and checklist that does not approve
(a ``--fresh`` second opinion) withdraws the approval.

Re-reviewing an identical diff is answered from the record (see :mod:`hybridcode.review.service`):
an approval, and also a model's request for changes — the same reviewer on the same bytes would
be paid to say the same again; ``--fresh`` asks anew. A *blocked* review is never reused: it
was decided by checks, which cost nothing to run again (a flaky test or a missing tool may
have been fixed since).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.ledger import new_id
from hybridcode.ledger.calls import utc_iso

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger
    from hybridcode.review.attestation import Attestation
    from hybridcode.spec import Spec
    from hybridcode.vcs.diff import Diff
    from hybridcode.review.checks import CheckResult
    from hybridcode.review.verdict import FinalDecision, Verdict

# ReviewOutcome.decision → the word the reviews table stores.
STORED_DECISION = {"approved": "approve", "changes_requested": "request_changes",
                   "blocked": "blocked"}
FINAL_DECISION = {v: k for k, v in STORED_DECISION.items()}


@dataclass(frozen=True)
class Approval:
    diff_sha256: str
    checklist_version: str
    plan_id: str | None
    review_id: str
    reviewer_model: str
    ts: str


@dataclass(frozen=True)
class StoredReview:
    id: str
    ts: str
    run_id: str | None
    plan_id: str | None
    source: str
    diff_sha256: str
    reviewer_model: str
    checklist_version: str
    decision: str  # approve / request_changes / blocked
    verdict: dict[str, Any]
    checks: list[dict[str, Any]]
    # How the verdict was reached: reviewer calls, diff parts, parts not reviewed, hunks cut,
    # and the review's notes (migration m005; ``{}`` for reviews recorded before it).
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def final_decision(self) -> FinalDecision:
        return FINAL_DECISION[self.decision]  # type: ignore[return-value]


def _review(row: Any) -> StoredReview:
    return StoredReview(
        id=row["id"], ts=row["ts"], run_id=row["run_id"], plan_id=row["plan_id"],
        source=row["source"], diff_sha256=row["diff_sha256"],
        reviewer_model=row["reviewer_model"], checklist_version=row["checklist_version"],
        decision=row["decision"], verdict=json.loads(row["verdict"] or "{}"),
        checks=json.loads(row["checks"] or "[]"), figures=_figures(row["figures"]))


def _figures(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def record_review(ledger: Ledger, *, source: str, diff_sha256: str, checklist_version: str,
                  decision: FinalDecision, reviewer_model: str = "",
                  verdict: Verdict | None = None, checks: Sequence[CheckResult] = (),
                  run_id: str | None = None, plan_id: str | None = None,
                  item_kinds: dict[str, str] | None = None,
                  figures: dict[str, Any] | None = None) -> str:
    """Store a review with its grades, and its approval when it approved. Returns its id.
    ``figures``: how the verdict was reached (see :attr:`StoredReview.figures`)."""
    ulid = new_id()
    review_id, ts = str(ulid), utc_iso(ulid.datetime)
    kinds = item_kinds or {}
    with ledger.transaction("record a review in") as conn:
        conn.execute(
            "INSERT INTO reviews (id, ts, run_id, plan_id, source, diff_sha256, reviewer_model, "
            "checklist_version, decision, verdict, checks, figures) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (review_id, ts, run_id, plan_id, source, diff_sha256, reviewer_model,
             checklist_version, STORED_DECISION[decision],
             verdict.model_dump_json() if verdict is not None else "{}",
             json.dumps([c.to_dict() for c in checks], ensure_ascii=False),
             json.dumps(figures or {}, ensure_ascii=False)))
        for grade in (verdict.grades if verdict is not None else []):
            conn.execute(
                "INSERT OR REPLACE INTO grades (review_id, plan_id, item_id, kind, grade, "
                "failure_mode, source, ts) VALUES (?, ?, ?, ?, ?, ?, 'reviewer', ?)",
                (review_id, plan_id, grade.item_id, kinds.get(grade.item_id, ""), grade.grade,
                 grade.failure_mode or None, ts))
        if decision == "approved":
            conn.execute(
                "INSERT OR REPLACE INTO approvals (diff_sha256, checklist_version, plan_id, "
                "review_id, reviewer_model, ts) VALUES (?, ?, ?, ?, ?, ?)",
                (diff_sha256, checklist_version, plan_id, review_id, reviewer_model, ts))
        else:
            conn.execute("DELETE FROM approvals WHERE diff_sha256 = ? AND checklist_version = ?",
                         (diff_sha256, checklist_version))
    return review_id


def find_approval(ledger: Ledger, diff_sha256: str, checklist_version: str) -> Approval | None:
    """The approval of exactly this diff under this checklist, or None."""
    rows = ledger.query(
        "SELECT diff_sha256, checklist_version, plan_id, review_id, reviewer_model, ts "
        "FROM approvals WHERE diff_sha256 = ? AND checklist_version = ?",
        (diff_sha256, checklist_version))
    if not rows:
        return None
    row = rows[0]
    return Approval(row["diff_sha256"], row["checklist_version"], row["plan_id"],
                    row["review_id"], row["reviewer_model"], row["ts"])


def load_review(ledger: Ledger, review_id: str) -> StoredReview | None:
    rows = ledger.query("SELECT * FROM reviews WHERE id = ?", (review_id,))
    return _review(rows[0]) if rows else None


def reusable_review(ledger: Ledger, diff_sha256: str,
                    checklist_version: str) -> StoredReview | None:
    """The record that answers a re-review of this diff: its approval's review, else the
    latest model review that requested changes (blocked reviews are never reused).

    An approval row must point at a review of the same diff: a row pointing at another diff's
    review (a hand-made ``INSERT``) answers nothing."""
    approval = find_approval(ledger, diff_sha256, checklist_version)
    if approval is not None:
        stored = load_review(ledger, approval.review_id)
        if (stored is not None and stored.diff_sha256 == diff_sha256
                and stored.decision == "approve"):
            return stored
    rows = ledger.query(
        "SELECT * FROM reviews WHERE diff_sha256 = ? AND checklist_version = ? "
        "ORDER BY id DESC LIMIT 1", (diff_sha256, checklist_version))
    if rows and rows[0]["decision"] == "request_changes":
        return _review(rows[0])
    return None


def reviews_for_plan(ledger: Ledger, plan_id: str) -> list[StoredReview]:
    rows = ledger.query("SELECT * FROM reviews WHERE plan_id = ? ORDER BY id", (plan_id,))
    return [_review(r) for r in rows]


# ---------------------------------------------------------------------- signed approvals

def declared_files(spec: Spec | None) -> tuple[str, ...]:
    """The files a plan's spec allows its diff to change: each item's file and test file."""
    if spec is None:
        return ()
    paths = {item.file for item in spec.items}
    paths |= {item.test_path for item in spec.items if item.test_path}
    return tuple(sorted(paths))


def spec_sha256(spec: Spec | None) -> str:
    """SHA-256 of the spec's canonical JSON ("" without a spec)."""
    if spec is None:
        return ""
    from hybridcode.review.attestation import digest

    return digest(json.dumps(spec.model_dump(mode="json"), sort_keys=True,
                             separators=(",", ":"), ensure_ascii=False))


def record_approval(root: Path, *, diff: Diff, checklist_version: str, reviewer_model: str,
                    verdict: Verdict | None, checks: Sequence[CheckResult] = (),
                    plan_id: str | None = None, spec: Spec | None = None,
                    base_commit: str = "", settings: Settings | None = None) -> Attestation:
    """Sign an approval of exactly ``diff`` and store it where the gate reads it.

    The one way a signed approval comes to exist: the review stage calls it right after an
    approving review (an MCP tool recording a review's approval calls it the same way). The
    key is ``[approvals] signing_key`` or git's ``user.signingkey``; raises
    :class:`~hybridcode.errors.NoSigningKeyError` (with what to configure) when there is none.
    """
    from hybridcode.review.attestation import (
        Attestation,
        Statement,
        digest,
        sign,
        signing_key,
        store_attestation,
    )

    configured = settings.approvals.signing_key if settings is not None else None
    key = signing_key(root, configured)
    statement = Statement(
        diff_sha256=diff.sha256, old_tree=diff.old_tree, new_tree=diff.new_tree,
        plan_id=plan_id or "", spec_sha256=spec_sha256(spec),
        declared_files=declared_files(spec), base_commit=base_commit,
        reviewer_model=reviewer_model, checklist_version=checklist_version,
        decision="approved",
        verdict_sha256=digest(verdict.model_dump_json()) if verdict is not None else "",
        checks_passed=tuple(c.name for c in checks if c.ok and not c.skipped),
        ts=utc_iso(new_id().datetime))
    attestation = Attestation(statement, sign(statement, key))
    store_attestation(root, attestation)
    return attestation


@dataclass(frozen=True)
class SigningReadiness:
    """Whether an approval recorded here now would let ``hybrid commit`` through: a key to sign
    it with, and an allowed-signers file that trusts that key. ``problem`` and ``fix`` (the
    commands to run) when not."""

    ok: bool
    detail: str
    problem: str = ""
    fix: str = ""


def signing_readiness(root: Path, settings: Settings) -> SigningReadiness:
    """Asked before a review is paid for (and by ``hybrid doctor``): an approval that cannot
    be signed, or that the gate would not trust, has to be reviewed again after the fix."""
    from hybridcode.errors import HybridError
    from hybridcode.review.attestation import (
        AllowedSigners,
        allowed_signers_line,
        public_key,
        signing_key,
    )

    root = Path(root)
    rel = settings.approvals.allowed_signers
    try:
        key = signing_key(root, settings.approvals.signing_key)
    except HybridError as exc:
        return SigningReadiness(False, exc.message, exc.message,
                                f"{exc.hint}; then add it to {rel} (hybrid doctor prints the "
                                "line)")
    try:
        email = subprocess.run(["git", "config", "--get", "user.email"], cwd=root,
                               capture_output=True, text=True, check=False).stdout.strip()
        add = (f"echo '{allowed_signers_line(email, key)}' >> {rel} && git add -f {rel} && "
               "git commit -m 'Allow my key to sign hybrid approvals'")
        path = root / rel
        if not path.is_file():
            return SigningReadiness(False, f"no {rel}", f"no {rel}: the gate trusts no "
                                    "signature yet", add)
        with AllowedSigners.from_file(path) as trust:
            principals = trust.principals_for(public_key(key))
    except HybridError as exc:
        return SigningReadiness(False, exc.message, exc.message, exc.hint or "")
    if not principals:
        return SigningReadiness(False, f"{key.path} is not in {rel}",
                                f"{key.path} is not in {rel}", add)
    return SigningReadiness(True, f"{key.path} (from {key.source}) signs as "
                            f"{', '.join(principals)}")


def withdraw_approval(root: Path, diff_sha256: str) -> None:
    """A later review of the same diff that does not approve removes its signed approval."""
    from hybridcode.review.attestation import withdraw_attestation

    withdraw_attestation(root, diff_sha256)
