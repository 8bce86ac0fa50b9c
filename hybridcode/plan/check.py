"""``hybrid spec check``: re-validate a plan's spec after a person edited it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hybridcode.plan.store import PlanStore
from hybridcode.spec import Spec, SpecIssue, load_spec, spec_from_data, validate_spec


@dataclass
class CheckResult:
    plan_id: str
    spec: Spec | None
    issues: list[SpecIssue]

    @property
    def ok(self) -> bool:
        return self.spec is not None and not any(i.is_error for i in self.issues)


def check_plan(root: Path, ref: str | None) -> CheckResult:
    import json

    from hybridcode.vcs import repo as gitrepo
    from hybridcode.errors import SpecError
    from hybridcode.plan.planner import symbol_checker

    root = gitrepo.repo_root(root)
    store = PlanStore(root)
    plan_id = store.resolve(ref)
    path = store.spec_path(plan_id)
    try:
        spec = load_spec(path)
    except SpecError:
        # Report every structural issue rather than the first one load_spec raises.
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise
        spec, issues = spec_from_data(data)
        if spec is None:
            return CheckResult(plan_id, None, issues)
    issues = validate_spec(spec, root, symbol_checker(root))
    meta = store.meta(plan_id)
    new_status = "planned" if not any(i.is_error for i in issues) else "invalid"
    if meta.status in ("planned", "invalid") and meta.status != new_status:
        meta.status = new_status
        meta.items = len(spec.items)
        store.save_meta(meta)
    return CheckResult(plan_id, spec, issues)
