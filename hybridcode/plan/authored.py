"""Plans whose spec someone else wrote: a coding agent's own Claude, over MCP.

    result = plan_from_spec(root, spec_data, architecture="## Design ...",
                            request="Add per-IP rate limiting", author="agent:claude-code")

The spec is held to exactly what ``hybrid plan`` holds the planner's to — structure first
(:func:`hybridcode.spec.spec_from_data`), then routing with the project's history, then the
checks against the repository (:func:`hybridcode.spec.validate_spec`) — and the plan folder is
written by the same function (:func:`hybridcode.plan.planner.write_routed_plan`). What differs:
no model is called (the author's tokens are invisible to hybrid, so the plan's cost is unknown,
not zero), and an invalid spec writes nothing — the author still holds it, fixes it and sends it
again, so there is no paid draft to keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridcode.config import Settings, load_settings
from hybridcode.errors import SpecError
from hybridcode.plan.planner import (PlanResult, delegation_line, estimate_items,
                                     symbol_checker, write_routed_plan)
from hybridcode.plan.routing import route_decisions, route_spec
from hybridcode.plan.store import ARCHITECTURE, REQUEST, PlanMeta, PlanStore, now_iso
from hybridcode.spec import SpecIssue, spec_from_data, validate_spec


def spec_issues(root: Path, spec_data: Any,
                settings: Settings | None = None) -> list[SpecIssue]:
    """Every problem of a spec that is not a plan yet: structure, then routing-independent
    checks against the repository (the same as ``hybrid spec check``)."""
    from hybridcode.vcs import repo as gitrepo

    root = gitrepo.repo_root(root)
    spec, issues = spec_from_data(spec_data)
    if spec is None:
        return issues
    settings = settings or load_settings(root)
    spec = route_spec(spec, None, None, settings.routing)
    return validate_spec(spec, root, symbol_checker(root))


def _refuse(issues: list[SpecIssue]) -> SpecError:
    errors = [i for i in issues if i.is_error]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    first = errors[0].render("spec").removeprefix("spec: ")
    return SpecError(f"the spec is invalid: {first}{more}",
                     "fix it and send it again; the spec check lists every problem")


def plan_from_spec(root: Path, spec_data: Any, *, architecture: str, request: str = "",
                   routes: Mapping[str, str] | None = None, author: str,
                   settings: Settings | None = None) -> PlanResult:
    """Route and check an authored spec and write ``.hybrid/plans/<id>/`` as ``hybrid plan``
    does; ``author`` is recorded as the plan's planner."""
    from hybridcode.ledger import Ledger
    from hybridcode.ledger.history import kind_history
    from hybridcode.vcs import repo as gitrepo

    root = gitrepo.repo_root(root)
    base = gitrepo.head_commit(root)
    settings = settings or load_settings(root)
    spec, issues = spec_from_data(spec_data)
    if spec is None:
        raise _refuse(issues)
    request = request.strip() or spec.title
    store = PlanStore(root)
    exists = symbol_checker(root)
    with Ledger.open(root) as ledger:
        history = kind_history(ledger)
        thresholds = settings.routing
        routed = route_spec(spec, routes, history, thresholds)
        issues = validate_spec(routed, root, exists)
        if any(i.is_error for i in issues):
            raise _refuse(issues)
        plan_id = store.new_plan_id(request)
        routed = routed.model_copy(update={"plan_id": plan_id})
        decisions = route_decisions(routed, routes, history, thresholds)
        run_id = ledger.start_run("plan", plan_id=plan_id, settings=settings)
        status = "failed"
        try:
            meta = PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=base,
                            title=routed.title[:120], planner_model=author)
            store.write_text(plan_id, REQUEST, request + "\n")
            store.write_text(plan_id, ARCHITECTURE, architecture.strip() + "\n")
            write_routed_plan(store, meta, routed, architecture, decisions, history, thresholds)
            store.save_meta(meta)  # meta.json last: a plan is listed only once it is complete
            status = "ok"
        finally:
            ledger.finish_run(run_id, status)
    warnings = [i for i in issues if not i.is_error]
    return PlanResult(plan_id, store.dir(plan_id), routed, architecture, meta, decisions,
                      estimate_items(routed, settings, root), warnings,
                      delegation=delegation_line(routed, decisions))


__all__ = ["plan_from_spec", "spec_issues"]
