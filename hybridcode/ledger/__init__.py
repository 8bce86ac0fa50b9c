"""The ledger: one SQLite file per repository (``.hybrid/ledger.db``) recording runs and every
model call, so that spend, budgets, resume and ``hybrid stats`` all read the same truth.

    ledger = Ledger.open(root)              # creates the file, applies pending migrations
    run_id = ledger.start_run("implement", plan_id="p1", settings=settings)
    ledger.record_call(CallRecord(step="implement", tier="implementer", ...))
    ledger.spend(run_id)                    # USD on paid (non-local) backends in this run
    ledger.finish_run(run_id, "ok")
    ledger.close()

A ``Ledger`` may be shared by the threads of one process: each thread gets its own sqlite
connection (sqlite objects must not cross threads). Other processes open their own ``Ledger``;
WAL mode and the busy timeout let them all write without losing rows. Later stages add their
tables with a new migration in :mod:`hybridcode.ledger.migrations` and write through
:meth:`Ledger.transaction` / read through :meth:`Ledger.query`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ulid import ULID

from hybridcode.errors import LedgerError
from hybridcode.ledger.calls import (
    INSERT_SQL,
    OUTCOMES,
    CallRecord,
    Outcome,
    from_row,
    select_sql,
    to_row,
    utc_iso,
)
from hybridcode.ledger.db import connect, translate_errors, write_transaction
from hybridcode.ledger.migrations import migrate
from hybridcode.ledger.redact import one_line, redact, settings_snapshot
from hybridcode.ledger.runs import RunRecord

if TYPE_CHECKING:
    from hybridcode.config import Settings

__all__ = ["CallRecord", "Ledger", "Outcome", "RunRecord", "ledger_path", "new_id"]

# Connections a forked child inherited. SQLite forbids using them in the child, and closing
# one there could checkpoint or delete the parent's WAL, so they are parked, never touched.
_INHERITED: list[sqlite3.Connection] = []


def ledger_path(root: Path) -> Path:
    return Path(root) / ".hybrid" / "ledger.db"


def new_id() -> ULID:
    """A ULID: sorts by creation time (so ``ORDER BY id`` is chronological without a second
    index), needs no coordination between processes, and unlike an integer rowid it stays
    stable when rows are copied between ledgers or the file is vacuumed."""
    return ULID()


class Ledger:
    def __init__(self, path: Path) -> None:
        """Prefer :meth:`open`, which also brings the schema up to date."""
        self.path = Path(path)
        self.migrated: list[str] = []  # migrations applied by this open (empty when current)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False

    @classmethod
    def open(cls, root: Path) -> Ledger:
        """The ledger of the repository at ``root`` (``<root>/.hybrid/ledger.db``)."""
        return cls.open_file(ledger_path(root))

    @classmethod
    def open_file(cls, path: Path) -> Ledger:
        ledger = cls(path)
        try:
            ledger.migrated = migrate(ledger._conn(), ledger.path)
        except BaseException:
            ledger.close()
            raise
        return ledger

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError(f"the ledger at {self.path} is closed",
                              "open it again with Ledger.open(root)")
        if os.getpid() != self._pid:
            self._forget_parent_connections()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _forget_parent_connections(self) -> None:
        _INHERITED.extend(self._conns)
        self._conns = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def close(self) -> None:
        """Close every thread's connection. Call it once the worker threads are done."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._closed = True
        for conn in conns:
            conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def transaction(self, action: str = "write to") -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection (for tables added by later stages)."""
        with write_transaction(self._conn(), self.path, action) as conn:
            yield conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only SQL (stats, reports); rows support access by column name."""
        with translate_errors(self.path, "read"):
            return self._conn().execute(sql, params).fetchall()

    # ------------------------------------------------------------------ runs

    def start_run(self, command: str, plan_id: str | None = None,
                  settings: Settings | None = None) -> str:
        run_id = str(new_id())
        snapshot = json.dumps(settings_snapshot(settings) if settings else {}, sort_keys=True)
        with self.transaction("start a run in") as conn:
            conn.execute(
                "INSERT INTO runs (id, started_at, command, plan_id, status, settings) "
                "VALUES (?, ?, ?, ?, 'running', ?)",
                (run_id, utc_iso(datetime.now(timezone.utc)), command, plan_id, snapshot),
            )
        return run_id

    def interrupt_stale_runs(self, plan_id: str, commands: Sequence[str]) -> list[str]:
        """Mark the plan's ``running`` runs of ``commands`` as ``interrupted``; return their ids.

        Only for a caller that holds the plan's exclusive lock: no other run of these commands
        can then be alive, so one still ``running`` is one whose process died without
        finishing it (SIGKILL, a power cut)."""
        marks = ",".join("?" for _ in commands)
        with self.transaction("mark interrupted runs in") as conn:
            rows = conn.execute(
                f"SELECT id FROM runs WHERE plan_id = ? AND status = 'running' "
                f"AND command IN ({marks}) ORDER BY started_at", (plan_id, *commands)).fetchall()
            ids = [row[0] for row in rows]
            conn.executemany("UPDATE runs SET status = 'interrupted' WHERE id = ?",
                             [(run_id,) for run_id in ids])
        return ids

    def finish_run(self, run_id: str, status: str) -> None:
        with self.transaction("finish a run in") as conn:
            cur = conn.execute("UPDATE runs SET finished_at = ?, status = ? WHERE id = ?",
                               (utc_iso(datetime.now(timezone.utc)), status, run_id))
            if cur.rowcount == 0:
                raise LedgerError(f"no run {run_id} in the ledger at {self.path}",
                                  "pass the id that start_run returned")

    def run(self, run_id: str) -> RunRecord | None:
        rows = self.query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return RunRecord.from_row(rows[0]) if rows else None

    # ------------------------------------------------------------------ calls

    def record_call(self, record: CallRecord) -> str:
        """Store one call and return its id. The error text is reduced to one line with
        anything key-shaped removed, whoever wrote it."""
        if record.outcome not in OUTCOMES:
            raise LedgerError(f"unknown call outcome {record.outcome!r}",
                              f"use one of: {', '.join(sorted(OUTCOMES))}")
        ulid = new_id()
        stored = replace(
            record,
            id=str(ulid),
            ts=utc_iso(ulid.datetime),
            error=one_line(redact(record.error)) if record.error else None,
        )
        with self.transaction("record a call in") as conn:
            conn.execute(INSERT_SQL, to_row(stored))
        return stored.id

    def calls(self, run_id: str | None = None, plan_id: str | None = None,
              since: datetime | None = None) -> list[CallRecord]:
        """Calls matching every given filter, oldest first."""
        sql, params = select_sql(run_id, plan_id, since)
        return [from_row(row) for row in self.query(sql, params)]

    def spend(self, run_id: str, local: bool = False) -> float:
        """USD recorded for the run's calls on paid API backends — what a budget caps.
        ``local=True`` sums the local calls instead (non-zero only with an hourly price).
        Calls of unpriced models count as 0."""
        rows = self.query("SELECT TOTAL(cost_usd) FROM calls WHERE run_id = ? AND is_local = ?",
                          (run_id, int(local)))
        return float(rows[0][0])
