"""The figures of a protocol run (``--protocol aider`` / ``pipeline``), set up to sit beside a
leaderboard row: pass rate after try 1 and try 2, n of N, per language and in total, Claude
dollars in total and per solved exercise, the share solved on a local rung, escalations — and
the exercises that could not be measured here, listed rather than counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridcode.bench.aider import ExerciseResult
from hybridcode.bench.leaderboard import rows_for

__all__ = ["ProtocolReport", "Tally"]


@dataclass
class Tally:
    total: int = 0
    try1: int = 0
    try2: int = 0
    claude_usd: float = 0.0
    local_solved: int = 0
    escalated: int = 0

    def add(self, result: ExerciseResult) -> None:
        self.total += 1
        self.try1 += result.passed_try1
        self.try2 += result.passed
        self.claude_usd += result.claude_usd
        self.local_solved += result.passed and result.solved_locally
        self.escalated += result.escalated

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "passed_try1": self.try1, "passed_try2": self.try2,
                "pass_rate_1": _rate(self.try1, self.total),
                "pass_rate_2": _rate(self.try2, self.total),
                "claude_usd": round(self.claude_usd, 6),
                "claude_usd_per_solved": (round(self.claude_usd / self.try2, 6)
                                          if self.try2 else None),
                "solved_on_local_rung": self.local_solved, "escalated": self.escalated}


def _rate(n: int, total: int) -> float | None:
    return round(100 * n / total, 1) if total else None


@dataclass
class ProtocolReport:
    protocol: str
    suite: str
    source: dict[str, str]
    modes: dict[str, list[ExerciseResult]]
    models: dict[str, str]  # mode → the model(s) measured
    excluded: list[dict[str, str]] = field(default_factory=list)  # listed, not counted

    def tallies(self, mode: str) -> dict[str, Tally]:
        """Per language, then ``all``. Results that could not run are not counted (listed)."""
        by: dict[str, Tally] = {}
        for result in self.modes[mode]:
            if result.could_not_run:
                continue
            for key in (result.language, "all"):
                by.setdefault(key, Tally()).add(result)
        return dict(sorted(by.items(), key=lambda kv: (kv[0] == "all", kv[0])))

    def not_run(self, mode: str) -> list[dict[str, str]]:
        return [{"task_id": r.task_id, "why": r.could_not_run or ""}
                for r in self.modes[mode] if r.could_not_run]

    def label(self) -> str:
        languages = sorted({r.language for rs in self.modes.values() for r in rs})
        count = max((len(rs) for rs in self.modes.values()), default=0)
        return (f"--protocol {self.protocol} · {count} exercises · {', '.join(languages)} "
                f"(the leaderboard's 225 span C++, Go, Java, JavaScript, Python and Rust)")

    def leaderboard(self) -> list[dict]:
        return [row.to_dict() for row in rows_for(list(self.models.values()))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol, "suite": self.suite, "source": self.source,
            "label": self.label(),
            "modes": {mode: {"model": self.models.get(mode, ""),
                             "tallies": {k: t.to_dict() for k, t in self.tallies(mode).items()},
                             "could_not_run": self.not_run(mode),
                             "results": [r.to_dict() for r in results]}
                      for mode, results in self.modes.items()},
            "excluded": self.excluded,
            "leaderboard": self.leaderboard(),
        }
