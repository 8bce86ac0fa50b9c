"""``hybrid spec check``: re-validate a plan's spec after a person edited it.

A plan whose planner draft did not validate may have only ``spec.invalid.json`` (the draft was
not even shaped like a spec). That file is then the one checked; once it is valid, it is
routed and written as ``spec.json``, and the plan can be implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hybridcode.plan.store import INVALID_SPEC, PlanStore
from hybridcode.spec import Spec, SpecIssue, load_spec, spec_from_data, validate_spec


@dataclass
class CheckResult:
    plan_id: str
    spec: Spec | None
    issues: list[SpecIssue]
    checked: str = "spec.json"  # the file that was checked
    promoted: bool = False  # a valid draft was written as spec.json

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
    draft = store.dir(plan_id) / INVALID_SPEC
    if not path.exists() and draft.exists():
        path = draft
    elif not path.exists():
        raise SpecError(f"plan {plan_id} has no spec ({store.dir(plan_id)} holds no spec.json)",
                        "plan again with hybrid plan")
    try:
        spec = load_spec(path)
    except SpecError:
        # Report every structural issue rather than the first one load_spec raises.
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SpecError(f"{path.name} of plan {plan_id} is not JSON: {exc}",
                            f"fix {path} and run: hybrid spec check {plan_id}") from exc
        spec, issues = spec_from_data(data)
        if spec is None:
            return CheckResult(plan_id, None, issues, path.name)
    promoted = False
    if path == draft:
        spec = _routed(root, spec)
    issues = validate_spec(spec, root, symbol_checker(root))
    valid = not any(i.is_error for i in issues)
    if path == draft and valid:
        _promote(store, plan_id, spec)
        promoted = True
    meta = store.meta(plan_id)
    new_status = "planned" if valid else "invalid"
    if meta.status in ("planned", "invalid") and meta.status != new_status:
        meta.status = new_status
        meta.items = len(spec.items)
        meta.routes = {r: sum(1 for i in spec.items if i.route == r) for r in ("local", "claude", "plan")}
        store.save_meta(meta)
    return CheckResult(plan_id, spec, issues, path.name, promoted)


def _routed(root: Path, spec: Spec) -> Spec:
    """Route a draft as the planner would have (the same decision tree and history)."""
    from hybridcode.plan.routing import route_spec

    history, thresholds = _routing_inputs(root)
    return route_spec(spec, {}, history, thresholds)


def _routing_inputs(root: Path):
    from hybridcode.config import load_settings
    from hybridcode.ledger import Ledger
    from hybridcode.ledger.history import kind_history

    settings = load_settings(root)
    with Ledger.open(root) as ledger:
        return kind_history(ledger), settings.routing


def _promote(store: PlanStore, plan_id: str, spec: Spec) -> None:
    """Write the valid draft as ``hybrid plan`` writes a valid spec (spec.json, routing.json,
    plan.md); the caller saves the plan's meta."""
    from hybridcode.plan.planner import write_routed_plan
    from hybridcode.plan.routing import route_decisions
    from hybridcode.plan.store import ARCHITECTURE

    history, thresholds = _routing_inputs(store.root)
    try:
        architecture = store.read_text(plan_id, ARCHITECTURE)
    except FileNotFoundError:
        architecture = ""
    meta = store.meta(plan_id)
    write_routed_plan(store, meta, spec, architecture, route_decisions(spec, {}, history,
                                                                       thresholds),
                      history, thresholds)
    store.save_meta(meta)
