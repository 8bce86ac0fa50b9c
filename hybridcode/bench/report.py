"""The bench's figures: per task, per mode, and the performance gap recovered (PGR).

PGR is RouteLLM's measure of a router (Ong et al., "RouteLLM: Learning to Route LLMs with
Preference Data", 2024, arXiv:2406.18665): how much of the quality gap between the weak
model alone and the strong model alone the routed system recovers,

    PGR = (score_hybrid − score_all_local) / (score_all_claude − score_all_local)

1.0 means hybrid matches all-Claude, 0.0 means it is no better than all-local. It is undefined
when both ends score the same, and it can leave [0, 1] (hybrid beating all-Claude, or losing to
all-local); it is reported as measured, never clamped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TaskResult:
    task_id: str
    category: str
    mode: str
    passed: bool = False  # every hidden test passed
    hidden_passed: int = 0
    hidden_total: int = 0
    implemented: bool = False  # the engine accepted the item (its acceptance tests passed)
    route: str = ""
    route_reason: str = ""
    start_rung: int = 0
    final_rung: int | None = None
    final_model: str = ""
    attempts: int = 0
    claude_usd: float = 0.0
    claude_tokens: int = 0
    local_tokens: int = 0
    claude_output_tokens: int = 0  # what Claude wrote for the task (the expensive tokens)
    spec_tokens: int = 0  # the spec item the implementer got (hybridcode.spec.SpecItem.spec_size)
    code_tokens: int = 0  # the accepted code (0 when nothing was accepted)
    wall_s: float = 0.0
    error: str | None = None
    hidden_output: str | None = None  # pytest's output when a hidden test failed

    @property
    def escalated(self) -> bool:
        """Finished on a higher rung than it started on (whether it then passed or not)."""
        return self.final_rung is not None and self.final_rung > self.start_rung

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["escalated"] = self.escalated
        data["claude_usd"] = round(self.claude_usd, 6)
        data["wall_s"] = round(self.wall_s, 3)
        return data


@dataclass
class ModeReport:
    mode: str
    tasks: list[TaskResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.tasks)

    @property
    def passed(self) -> int:
        return sum(1 for t in self.tasks if t.passed)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def accepted(self) -> int:
        """Tasks whose acceptance tests passed in the engine (what the user would have seen)."""
        return sum(1 for t in self.tasks if t.implemented)

    @property
    def escalated(self) -> int:
        return sum(1 for t in self.tasks if t.escalated)

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.total if self.total else 0.0

    @property
    def claude_usd(self) -> float:
        return sum(t.claude_usd for t in self.tasks)

    @property
    def claude_tokens(self) -> int:
        return sum(t.claude_tokens for t in self.tasks)

    @property
    def local_tokens(self) -> int:
        return sum(t.local_tokens for t in self.tasks)

    @property
    def wall_s(self) -> float:
        return sum(t.wall_s for t in self.tasks)

    @property
    def claude_output_per_accepted(self) -> float | None:
        """Claude output tokens per accepted item: what each item that passed cost in the
        most expensive tokens (all of the mode's Claude output, over the accepted items)."""
        accepted = self.accepted
        return sum(t.claude_output_tokens for t in self.tasks) / accepted if accepted else None

    @property
    def spec_to_code(self) -> float | None:
        """Spec tokens over accepted-code tokens, over the accepted items: below 1 the spec
        costs less than the code it replaces."""
        done = [t for t in self.tasks if t.implemented and t.code_tokens]
        code = sum(t.code_tokens for t in done)
        return sum(t.spec_tokens for t in done) / code if code else None

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "tasks": self.total, "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4), "accepted": self.accepted,
            "claude_usd": round(self.claude_usd, 6), "claude_tokens": self.claude_tokens,
            "local_tokens": self.local_tokens, "wall_s": round(self.wall_s, 3),
            "escalated": self.escalated, "escalation_rate": round(self.escalation_rate, 4),
            "claude_output_tokens_per_accepted": _round(self.claude_output_per_accepted, 1),
            "spec_to_code_ratio": _round(self.spec_to_code, 3),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class PGR:
    value: float | None
    reason: str = ""  # why it is n/a, when it is

    def render(self) -> str:
        if self.value is None:
            return f"n/a ({self.reason})"
        return f"{self.value:.2f}"


def compute_pgr(hybrid: float | None, all_local: float | None,
                all_claude: float | None) -> PGR:
    """RouteLLM's PGR from three pass rates; n/a with the reason when it is undefined."""
    missing = [name for name, score in (("hybrid", hybrid), ("all-local", all_local),
                                        ("all-claude", all_claude)) if score is None]
    if missing:
        return PGR(None, f"needs all three modes; not run: {', '.join(missing)}")
    assert hybrid is not None and all_local is not None and all_claude is not None
    gap = all_claude - all_local
    # Pass rates are ratios of small integers: compare with a tolerance, not exactly.
    if abs(gap) < 1e-9:
        return PGR(None, f"all-claude and all-local both scored {all_claude:.0%}, so there is "
                         "no gap to recover")
    return PGR((hybrid - all_local) / gap)


@dataclass
class BenchReport:
    suite: str
    task_ids: list[str]
    modes: dict[str, ModeReport]

    def score(self, mode: str) -> float | None:
        report = self.modes.get(mode)
        return report.pass_rate if report is not None else None

    @property
    def pgr(self) -> PGR:
        return compute_pgr(self.score("hybrid"), self.score("all-local"),
                           self.score("all-claude"))

    def to_dict(self) -> dict[str, Any]:
        pgr = self.pgr
        return {
            "suite": self.suite,
            "tasks": self.task_ids,
            "modes": {name: {**m.summary(), "results": [t.to_dict() for t in m.tasks]}
                      for name, m in self.modes.items()},
            "pgr": {"value": None if pgr.value is None else round(pgr.value, 4),
                    "reason": pgr.reason or None,
                    "definition": "(score_hybrid - score_all_local) / "
                                  "(score_all_claude - score_all_local), RouteLLM "
                                  "(arXiv:2406.18665)"},
        }
