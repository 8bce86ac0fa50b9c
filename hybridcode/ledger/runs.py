"""One row per ``hybrid`` command that spends or may spend model calls."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    id: str
    started_at: str
    command: str
    status: str
    plan_id: str | None = None
    finished_at: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        return cls(id=row["id"], started_at=row["started_at"], command=row["command"],
                   status=row["status"], plan_id=row["plan_id"], finished_at=row["finished_at"],
                   settings=json.loads(row["settings"] or "{}"))
