"""Before a run: is every local rung the plan's items may use ready (server reachable, model
pulled or served)?

A missing local model used to be found one item at a time, each one then climbing to the paid
Claude rung with only "escalating" to show for it. Now the run does not start: the error says
how to fix the rung (``ollama pull …``). A user who accepts the cost says so with
``--allow-missing-local`` (config ``allow_missing_local``): the rung is switched off for the
run, and every item it would have served says why it starts higher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hybridcode.errors import HybridError, ModelNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hybridcode.config import Settings
    from hybridcode.implement.ladder import Ladder
    from hybridcode.spec import SpecItem

ALLOW_FLAG = "--allow-missing-local"


@dataclass(frozen=True)
class MissingRung:
    index: int
    label: str
    reason: str  # what is wrong, e.g. "qwen2.5-coder:32b is not pulled on http://…"
    fix: str  # what to do, e.g. "run `ollama pull qwen2.5-coder:32b`"


def missing_local_rungs(settings: Settings, ladder: Ladder,
                        items: Iterable[SpecItem]) -> list[MissingRung]:
    """The local rungs at or above the lowest rung an item starts on that are not ready.
    Rungs no item can reach (below every item's start) are not checked."""
    from hybridcode.models.registry import create_backend

    starts = [ladder.first_index(item) for item in items]
    if not starts:
        return []
    lowest = min(starts)
    missing = []
    for rung in ladder.rungs[lowest:]:
        if not rung.spec.is_local:
            continue
        try:
            backend = create_backend(rung.spec, settings)
            try:
                checks = backend.health()
            finally:
                backend.close()
        except HybridError as exc:
            missing.append(MissingRung(rung.index, rung.label, exc.message, exc.hint or ""))
            continue
        failed = [c for c in checks if not c.ok and c.required]
        if failed:
            # The server check and the model check may both fail for one cause: say it once.
            reasons = list(dict.fromkeys(c.detail for c in failed))
            fixes = list(dict.fromkeys(c.hint for c in failed if c.hint))
            missing.append(MissingRung(rung.index, rung.label, "; ".join(reasons),
                                       "; ".join(fixes)))
    return missing


def refuse(missing: list[MissingRung]) -> ModelNotFoundError:
    """The error that stops the run before anything is spent."""
    first = missing[0]
    more = f" (and {len(missing) - 1} more local rung)" if len(missing) > 1 else ""
    fix = f"{first.fix}, " if first.fix else ""
    return ModelNotFoundError(
        f"the local rung {first.label} is not ready: {first.reason}{more}",
        f"{fix}then re-run; or pass {ALLOW_FLAG} to send its items to the next rung up "
        "(paid if that is Claude)")
