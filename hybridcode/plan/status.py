"""What ``hybrid status`` reports: plans with their state, and one plan's items."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from hybridcode.plan.store import PlanStore


def plans_overview(root: Path) -> list[dict[str, Any]]:
    from hybridcode.vcs import repo as gitrepo

    store = PlanStore(gitrepo.repo_root(root))
    rows = [asdict(store.meta(pid)) for pid in store.plan_ids()]
    return sorted(rows, key=lambda r: r["created_at"], reverse=True)


def plan_status(root: Path, ref: str) -> dict[str, Any]:
    from hybridcode.vcs import repo as gitrepo
    from hybridcode.errors import SpecError
    from hybridcode.spec import load_spec

    store = PlanStore(gitrepo.repo_root(root))
    plan_id = store.resolve(ref)
    meta = store.meta(plan_id)
    states = store.state(plan_id).get("items", {})
    items: list[dict[str, Any]] = []
    try:
        spec = load_spec(store.spec_path(plan_id))
    except SpecError:
        spec = None
    for item in spec.items if spec else []:
        state = states.get(item.id, {})
        run = state if isinstance(state, dict) else {"state": str(state)}
        # Where implement got to (state.json): the rung (0-based, as implement --json gives it)
        # and model of the latest attempt, how many attempts, whether it climbed, its error.
        items.append({"id": item.id, "kind": item.kind, "target": item.target,
                      "route": item.route, "depends_on": item.depends_on,
                      "state": run.get("state", "planned"), "rung": run.get("rung"),
                      "model": run.get("model") or None, "attempts": run.get("attempts", 0),
                      "escalated": bool(run.get("escalated")), "error": run.get("error")})
    return {**asdict(meta), "items": items, "spec_valid": spec is not None}
