"""Published rows of Aider's polyglot leaderboard, to print beside a run of the same models.

Only rows whose figures were read from the leaderboard's data file (``polyglot_leaderboard.yml``
in the Aider repository, shown at aider.chat/docs/leaderboards) or quoted in hybrid's issue
tracker from it are kept here, with the edit format they used: a whole-file row is the one a
``--protocol aider`` run lines up with. Every row covers all 225 exercises in six languages; a
hybrid run covers the languages it imported, so the two are beside each other, not equal.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROWS", "LeaderboardRow", "rows_for"]


@dataclass(frozen=True)
class LeaderboardRow:
    model: str
    edit_format: str
    pass_rate_1: float | None  # percent after the first try
    pass_rate_2: float  # percent after the second try (the leaderboard's score)
    cost_usd: float | None  # the whole 225-exercise run, when published
    date: str
    matches: tuple[str, ...]  # lower-case fragments of model names this row stands for

    def to_dict(self) -> dict:
        return {"model": self.model, "edit_format": self.edit_format,
                "pass_rate_1": self.pass_rate_1, "pass_rate_2": self.pass_rate_2,
                "cost_usd": self.cost_usd, "date": self.date, "exercises": 225}


ROWS = (
    LeaderboardRow("Qwen2.5-Coder-32B-Instruct", "whole", 4.9, 16.4, 0.0, "2024-12-26",
                   ("qwen2.5-coder:32b", "qwen2.5-coder-32b")),
    LeaderboardRow("Qwen2.5-Coder-32B-Instruct", "diff", 4.4, 8.0, 0.0, "2024-12-22",
                   ("qwen2.5-coder:32b", "qwen2.5-coder-32b")),
    LeaderboardRow("Qwen3-32B", "whole", 20.4, 45.8, 0.0, "2025-04-30",
                   ("qwen3:32b", "qwen3-32b")),
    LeaderboardRow("Qwen3-32B", "diff", None, 40.0, 0.0, "2025-05",
                   ("qwen3:32b", "qwen3-32b")),
    LeaderboardRow("claude-sonnet-4", "diff", None, 56.4, 15.82, "2025-05",
                   ("claude-sonnet-4",)),
    LeaderboardRow("claude-opus-4", "diff", None, 70.7, 68.63, "2025-05",
                   ("claude-opus-4",)),
)


def rows_for(models: list[str]) -> list[LeaderboardRow]:
    """The published rows for the models a run used (by name fragment), in table order."""
    names = [m.lower().split(":", 1)[-1] if m.lower().startswith(("ollama:", "anthropic:"))
             else m.lower() for m in models]
    return [row for row in ROWS
            if any(_same(name, frag) for frag in row.matches for name in names)]


def _same(name: str, fragment: str) -> bool:
    """``name`` is the model ``fragment`` names, maybe with a date, quantisation or variant
    suffix — not a later version (claude-sonnet-4 is not claude-sonnet-4-5)."""
    if not name.startswith(fragment):
        return False
    rest = name[len(fragment):]
    return rest == "" or rest.startswith(("-20", "-instruct", "-q", ":", "@"))
