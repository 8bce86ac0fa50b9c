"""One row per model call: what ran, for which item, at what cost, and how it ended."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from hybridcode.models.base import Usage

Outcome = Literal["ok", "error", "invalid_output", "budget"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


@dataclass(frozen=True)
class CallRecord:
    """A model call as the ledger stores it.

    ``id`` and ``ts`` are assigned by :meth:`Ledger.record_call` (leave them empty).
    ``cost_usd`` is ``None`` when the model has no configured price; ``counterfactual_usd``
    is what the call would have cost on the all-Claude counterfactual (see ``models.caller``).
    """

    step: str  # plan / implement / review / repair / doctor / ...
    tier: str  # planner / implementer / reviewer
    backend: str
    model: str
    outcome: Outcome = "ok"
    run_id: str | None = None
    plan_id: str | None = None
    item_id: str | None = None
    rung: int | None = None  # index on the implementer ladder
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    latency_ms: int = 0
    cost_usd: float | None = None
    counterfactual_usd: float = 0.0
    is_local: bool = False
    error: str | None = None  # one line, credentials removed
    extra: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    ts: str = ""

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.cache_write_tokens,
                     self.cache_read_tokens)

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.ts)


_COLUMNS = tuple(f.name for f in fields(CallRecord))
INSERT_SQL = (f"INSERT INTO calls ({', '.join(_COLUMNS)}) "
              f"VALUES ({', '.join('?' for _ in _COLUMNS)})")


def utc_iso(moment: datetime) -> str:
    """The one timestamp format the ledger stores, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("ledger timestamps must be timezone-aware")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def to_row(record: CallRecord) -> tuple[Any, ...]:
    data = asdict(record)
    data["is_local"] = int(record.is_local)
    # default=str: backends may put non-JSON figures (durations as objects) into ``extra``.
    data["extra"] = json.dumps(record.extra, sort_keys=True, default=str)
    return tuple(data[name] for name in _COLUMNS)


def from_row(row: sqlite3.Row) -> CallRecord:
    data = {name: row[name] for name in _COLUMNS}
    data["is_local"] = bool(data["is_local"])
    data["extra"] = json.loads(data["extra"] or "{}")
    return CallRecord(**data)


def select_sql(run_id: str | None, plan_id: str | None,
               since: datetime | None) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    if plan_id is not None:
        where.append("plan_id = ?")
        params.append(plan_id)
    if since is not None:
        where.append("ts >= ?")
        params.append(utc_iso(since))
    sql = f"SELECT {', '.join(_COLUMNS)} FROM calls"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY id", params
