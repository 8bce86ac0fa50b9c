"""What a run reports: live :class:`ItemEvent` s for a UI, and the final :class:`ImplementResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ItemEvent:
    """Progress for the UI. ``item_id`` is None for run-wide messages (breaker, budget).

    States: pending, generating, queued (output waiting for its turn), verifying, retrying,
    passed, failed, skipped, could_not_run (its tests could not start: the cause and the fix
    are the message), stopped; ``message`` for run-wide notes.
    """

    item_id: str | None
    state: str
    rung: int | None = None
    model: str = ""
    attempt: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    message: str = ""
    # The code being judged is the one the planner wrote into the spec (attempt 0 of the item's
    # first rung): no implementer model ran; ``model`` names the planner (``plan:<model>``).
    written_in_plan: bool = False


@dataclass
class ItemOutcome:
    item_id: str
    state: str  # passed / failed / skipped / could_not_run (``error`` says why and the fix) /
    #             pending (not finished: budget or interrupted)
    rung: int | None = None
    model: str = ""
    attempts: int = 0  # attempts made in this run
    tokens: int = 0  # input + output tokens of this run's calls
    elapsed_s: float = 0.0
    error: str | None = None
    escalation: str | None = None  # "<from> → <to>: <why>" when the item climbed


@dataclass
class ImplementResult:
    plan_id: str
    run_id: str
    status: str  # implemented / failed / could_not_run / budget / interrupted
    worktree: Path
    branch: str
    items: list[ItemOutcome]
    claude_usd: float
    local_tokens: int
    claude_tokens: int
    wall_s: float
    messages: list[str] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for item in self.items if item.state == state)

    @property
    def ok(self) -> bool:
        return self.status == "implemented"

    @property
    def next_step(self) -> str:
        if self.ok:
            return f"hybrid review {self.plan_id}"
        return f"hybrid implement {self.plan_id} --resume"

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id, "run_id": self.run_id, "status": self.status,
            "worktree": str(self.worktree), "branch": self.branch,
            "passed": self.count("passed"), "failed": self.count("failed"),
            "skipped": self.count("skipped"), "pending": self.count("pending"),
            "could_not_run": self.count("could_not_run"),
            "claude_usd": round(self.claude_usd, 6), "local_tokens": self.local_tokens,
            "claude_tokens": self.claude_tokens, "wall_s": round(self.wall_s, 3),
            "items": [vars(item) for item in self.items], "messages": self.messages,
            "next": self.next_step,
        }
