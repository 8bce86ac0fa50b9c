"""The ledger's schema, grown by an append-only list of small named migrations.

Each migration is a function ``mNNN_name(conn)`` registered with :func:`migration`. The names
already applied are kept in ``_hybrid_migrations``; :func:`migrate` applies the rest in order,
inside one write transaction so that two processes opening a fresh ledger at once cannot both
apply the same step. Never edit or reorder a migration that has shipped — append a new one
(e.g. ``m002_items``) that alters or adds tables, so every existing ledger reaches the same shape.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from hybridcode.errors import LedgerError
from hybridcode.ledger.db import write_transaction

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def _run(conn: sqlite3.Connection, *statements: str) -> None:
    # One execute per statement: executescript() would COMMIT the migration's transaction.
    for sql in statements:
        conn.execute(sql)


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,            -- ULID
            started_at TEXT NOT NULL,       -- ISO-8601 UTC
            finished_at TEXT,
            command TEXT NOT NULL,          -- plan / implement / review / demo / ...
            plan_id TEXT,
            status TEXT NOT NULL,           -- running / ok / failed / interrupted / budget / ...
            settings TEXT NOT NULL DEFAULT '{}'  -- JSON snapshot, secrets removed
        )
        """,
        # Enumerations (step, tier, outcome) are checked in Python, not with CHECK constraints:
        # widening a CHECK means rebuilding the table, adding a Python literal does not.
        """
        CREATE TABLE calls (
            id TEXT PRIMARY KEY,            -- ULID: sorts by time
            ts TEXT NOT NULL,               -- ISO-8601 UTC, same instant as the id
            run_id TEXT REFERENCES runs(id),
            plan_id TEXT,
            item_id TEXT,
            step TEXT NOT NULL,
            tier TEXT NOT NULL,
            rung INTEGER,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            latency_ms INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,                  -- NULL: the model has no configured price
            counterfactual_usd REAL NOT NULL DEFAULT 0,
            is_local INTEGER NOT NULL DEFAULT 0,
            outcome TEXT NOT NULL,
            error TEXT,
            extra TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX calls_by_run ON calls(run_id)",
        "CREATE INDEX calls_by_plan ON calls(plan_id, ts)",
        "CREATE INDEX calls_by_ts ON calls(ts)",
        "CREATE INDEX calls_by_tier ON calls(tier, ts)",
        "CREATE INDEX runs_by_plan ON runs(plan_id, started_at)",
    )



@migration
def m002_items_attempts(conn: sqlite3.Connection) -> None:
    """The implement step's persisted state: one row per spec item, one per attempt."""
    _run(
        conn,
        """
        CREATE TABLE items (
            plan_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT '',      -- routing.task_kind(item), e.g. crud/function
            route TEXT NOT NULL DEFAULT '',     -- local / claude (the plan's route)
            state TEXT NOT NULL,                -- pending / running / passed / failed / skipped
            rung INTEGER,                       -- ladder index that produced the current code
            attempts INTEGER NOT NULL DEFAULT 0,
            escalated INTEGER NOT NULL DEFAULT 0,
            run_id TEXT,
            started_at TEXT,
            finished_at TEXT,
            error TEXT,
            code_sha256 TEXT,                   -- the placed code that passed, for resume checks
            PRIMARY KEY (plan_id, item_id)
        )
        """,
        """
        CREATE TABLE attempts (
            id TEXT PRIMARY KEY,                -- ULID
            ts TEXT NOT NULL,
            plan_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            run_id TEXT,
            rung INTEGER NOT NULL,
            attempt INTEGER NOT NULL,           -- 1-based within the rung
            model TEXT NOT NULL,
            call_id TEXT,                       -- calls.id of the model call
            outcome TEXT NOT NULL,              -- passed / test_failed / syntax_error /
                                                -- placement_error / refused / model_error
            feedback TEXT,                      -- trimmed test or parser output fed back
            prompt TEXT,                        -- what the model saw (for export)
            output TEXT,                        -- what the model returned
            duration_ms INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX attempts_by_item ON attempts(plan_id, item_id, ts)",
        "CREATE INDEX items_by_kind ON items(kind)",
    )


@migration
def m003_reviews_approvals(conn: sqlite3.Connection) -> None:
    """Review verdicts, per-item grades and approvals bound to a diff's SHA-256."""
    _run(
        conn,
        """
        CREATE TABLE reviews (
            id TEXT PRIMARY KEY,                -- ULID
            ts TEXT NOT NULL,
            run_id TEXT,
            plan_id TEXT,
            source TEXT NOT NULL,               -- plan / staged / range
            diff_sha256 TEXT NOT NULL,
            reviewer_model TEXT NOT NULL,       -- '' when decided by checks alone
            checklist_version TEXT NOT NULL,
            decision TEXT NOT NULL,             -- approve / request_changes / blocked
            verdict TEXT NOT NULL DEFAULT '{}', -- the structured verdict (JSON)
            checks TEXT NOT NULL DEFAULT '[]'   -- deterministic check results (JSON)
        )
        """,
        """
        CREATE TABLE grades (
            review_id TEXT NOT NULL REFERENCES reviews(id),
            plan_id TEXT,
            item_id TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT '',
            grade TEXT NOT NULL,                -- poor / acceptable / good
            failure_mode TEXT,
            source TEXT NOT NULL DEFAULT 'reviewer',  -- reviewer / feedback
            ts TEXT NOT NULL,
            PRIMARY KEY (review_id, item_id)
        )
        """,
        """
        CREATE TABLE approvals (
            diff_sha256 TEXT NOT NULL,
            checklist_version TEXT NOT NULL,
            plan_id TEXT,
            review_id TEXT NOT NULL REFERENCES reviews(id),
            reviewer_model TEXT NOT NULL,
            ts TEXT NOT NULL,
            PRIMARY KEY (diff_sha256, checklist_version)
        )
        """,
        "CREATE INDEX reviews_by_diff ON reviews(diff_sha256)",
        "CREATE INDEX grades_by_kind ON grades(kind, ts)",
    )

@migration
def m004_item_escalation(conn: sqlite3.Connection) -> None:
    """Why an item left the rung it started on: "<from> → <to>: <why>" (a model not pulled,
    the attempts used up, a rung switched off), so a paid escalation is never unexplained."""
    _run(conn, "ALTER TABLE items ADD COLUMN escalation TEXT")


@migration
def m005_review_figures(conn: sqlite3.Connection) -> None:
    """How a review's verdict was reached (reviewer calls, diff parts, parts not reviewed, hunks
    cut) and its notes, as JSON: a review answered from the record reports the figures and
    caveats of the verdict it repeats, not zeros."""
    _run(conn, "ALTER TABLE reviews ADD COLUMN figures TEXT NOT NULL DEFAULT '{}'")


@migration
def m006_attempt_edits(conn: sqlite3.Connection) -> None:
    """What became of an attempt answered with edits to the failing code (a Claude rung's
    escalation): applied, fell back (did not match: the whole item was asked for next),
    refused (aimed outside the item) or malformed; NULL for an answer that was the whole item."""
    _run(conn, "ALTER TABLE attempts ADD COLUMN edit TEXT")


def migrate(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Apply pending migrations; return the names applied now (empty when up to date)."""
    known = [fn.__name__ for fn in MIGRATIONS]
    with write_transaction(conn, path, "migrate"):
        conn.execute("CREATE TABLE IF NOT EXISTS _hybrid_migrations "
                     "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied = {row[0] for row in conn.execute("SELECT name FROM _hybrid_migrations")}
        unknown = sorted(applied - set(known))
        if unknown:
            raise LedgerError(
                f"the ledger at {path} was written by a newer hybridcode (migration {unknown[0]})",
                "upgrade hybridcode, or move .hybrid/ledger.db aside to start a fresh ledger",
            )
        done: list[str] = []
        for fn in MIGRATIONS:
            if fn.__name__ in applied:
                continue
            fn(conn)
            conn.execute("INSERT INTO _hybrid_migrations (name, applied_at) VALUES (?, ?)",
                         (fn.__name__, datetime.now(timezone.utc).isoformat()))
            done.append(fn.__name__)
    return done
