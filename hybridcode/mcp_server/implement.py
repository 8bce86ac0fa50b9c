"""Implementing for a calling agent: the implement core on the local ladder, then what the agent
needs to act — each item's outcome with its test output, and the worktree's diff.

The agent's own Claude is the frontier tier here, and it may well have no API key behind it
(a subscription), so hybrid's default ladder (local → Claude Sonnet) would send failures to a
Claude rung nobody asked for. A Claude rung is used only when the user configured the
implementer ladder themselves (any ladder other than the default one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.mcp_server.results import DiffResult, ImplementOutcome, ItemResult

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.implement.result import ImplementResult, ItemEvent

FEEDBACK_CHARS = 4000


def agent_settings(root: Path) -> tuple[Settings, list[str]]:
    """The project's settings with the default ladder's Claude rungs left out, and a note
    saying so."""
    from hybridcode.config import ModelSpec, _default_tiers, load_settings

    settings = load_settings(root)
    default = [ModelSpec.model_validate(m) for m in _default_tiers()["implementer"]]
    ladder = list(settings.tiers.implementer)
    local = [m for m in ladder if m.is_local]
    if ladder != default or not local or len(local) == len(ladder):
        return settings, []
    tiers = settings.tiers.model_copy(update={"implementer": local})
    note = ("the Claude rung of the default ladder is not used over MCP (no key is assumed); "
            "configure tiers.implementer to include one")
    return settings.model_copy(update={"tiers": tiers}), [note]


def run_implement(root: Path, plan_ref: str | None, *, items: Collection[str] | None,
                  resume: bool, parallel: int | None, on_event: Callable[[ItemEvent], None],
                  cancel: threading.Event) -> ImplementOutcome:
    from hybridcode.implement.runner import implement_plan
    from hybridcode.vcs import repo as gitrepo

    root = gitrepo.repo_root(root)
    settings, notes = agent_settings(root)
    result = implement_plan(root, plan_ref, parallel=parallel, resume=resume,
                            only=list(items) if items else None, settings=settings,
                            on_event=on_event, cancel=cancel)
    return outcome(root, result, selected=set(items) if items else None, notes=notes)


def _last_feedback(root: Path, plan_id: str, run_id: str) -> dict[str, str]:
    """Each item's feedback from its last settled attempt in the run (what its model saw)."""
    from hybridcode.ledger import Ledger

    with Ledger.open(root) as ledger:
        rows = ledger.query(
            "SELECT item_id, feedback FROM attempts WHERE plan_id = ? AND run_id = ? AND "
            "feedback IS NOT NULL AND feedback != '' ORDER BY id", (plan_id, run_id))
    return {row["item_id"]: row["feedback"] for row in rows}


def _vetted(text: str) -> str:
    """Test output leaves for the calling model only through the secret scan."""
    from hybridcode.context.files import find_secret, secret_scanning

    with secret_scanning():
        found = find_secret("test-output.txt", text)
    if found is not None:
        return f"[test output withheld: it contains a secret ({found[0]})]"
    return text[-FEEDBACK_CHARS:]


def outcome(root: Path, result: ImplementResult, *, selected: set[str] | None,
            notes: list[str]) -> ImplementOutcome:
    from hybridcode.mcp_server.review import diff_view
    from hybridcode.plan.store import PlanStore
    from hybridcode.vcs.diff import worktree_diff

    feedback = _last_feedback(root, result.plan_id, result.run_id)
    items = []
    for item in result.items:
        state = item.state
        if selected is not None and item.item_id not in selected and state == "pending":
            state = "not_selected"
        output = feedback.get(item.item_id) if state in ("failed", "pending") else None
        items.append(ItemResult(id=item.item_id, state=state, model=item.model,  # type: ignore[arg-type]
                                attempts=item.attempts, tokens=item.tokens,
                                elapsed_s=item.elapsed_s, error=item.error,
                                test_output=_vetted(output) if output else None))
    meta = PlanStore(root).meta(result.plan_id)
    diff = worktree_diff(result.worktree, meta.base_commit)
    view = diff_view(diff) if not diff.empty else None
    if result.ok:
        nxt = f"prepare_review for plan {result.plan_id}"
    elif result.status in ("budget", "interrupted"):
        nxt = f"call implement for plan {result.plan_id} again with resume=true"
    elif result.status == "could_not_run":
        nxt = (f"fix what the items' error says (the tests could not start here), then call "
               f"implement for plan {result.plan_id} again with resume=true")
    else:
        nxt = ("fix the failing items' spec (read test_output) in a new plan, or write them "
               "yourself; passed items are kept — prepare_review reviews what is there")
    return ImplementOutcome(
        plan_id=result.plan_id, status=result.status,  # type: ignore[arg-type]
        items=items,
        diff=DiffResult(sha256=view.sha256, files=view.files, text=view.text,
                        truncated=view.truncated, withheld=view.withheld) if view else None,
        worktree=str(result.worktree), branch=result.branch, local_tokens=result.local_tokens,
        claude_usd=round(result.claude_usd, 6), wall_s=round(result.wall_s, 3),
        messages=[*notes, *result.messages], next=nxt)
