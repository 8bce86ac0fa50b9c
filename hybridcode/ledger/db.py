"""Opening the ledger's SQLite file: WAL, a busy timeout, and sqlite errors mapped to LedgerError.

Parallel items write from several threads and ``hybrid`` runs may overlap in separate processes,
so every connection waits for the write lock (``busy_timeout``) instead of failing, and the
file runs in WAL mode so readers never block the writer. A ``sqlite3.Connection`` is never
shared between threads: :class:`hybridcode.ledger.Ledger` keeps one per thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hybridcode.errors import LedgerError

# Long enough to outlast another process's migration or a burst of parallel inserts; short
# enough that a run wedged by a stuck process still ends with an error instead of hanging.
BUSY_TIMEOUT_MS = 30_000

_HINT_LOCKED = "another hybrid run holds the ledger; wait for it to finish or close it"
_HINT_CORRUPT = "the ledger is corrupt; move .hybrid/ledger.db aside and hybrid starts a fresh one"
_HINT_GENERIC = ("the ledger is locked or corrupt; close other hybrid runs or move "
                 ".hybrid/ledger.db aside")


def _hint_for(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return _HINT_LOCKED
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return _HINT_CORRUPT
    if "readonly" in text or "unable to open" in text or "disk i/o" in text:
        return "check that .hybrid/ is writable and the disk is not full"
    return _HINT_GENERIC


@contextmanager
def translate_errors(path: Path, action: str) -> Iterator[None]:
    """Turn any sqlite (or file system) failure inside the block into a LedgerError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot {action} the ledger at {path}: {exc}", _hint_for(exc)) from exc
    except OSError as exc:
        raise LedgerError(f"cannot {action} the ledger at {path}: {exc.strerror or exc}",
                          "check that .hybrid/ is writable and the disk is not full") from exc


def connect(path: Path) -> sqlite3.Connection:
    """A new connection in autocommit mode; writers open their own ``BEGIN IMMEDIATE``.

    ``check_same_thread=False`` only lets :meth:`Ledger.close` close every thread's connection
    from the closing thread; each connection is still used by exactly one thread.
    """
    with translate_errors(path, "open"):
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # WAL is persistent in the file; asking again on every connection is cheap and
            # repairs a file that another tool switched back to a rollback journal.
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LedgerError(f"the ledger at {path} cannot use WAL mode (got {mode})",
                                  "keep .hybrid/ on a local disk; network file systems lack WAL")
            # NORMAL is durable across application crashes in WAL mode (only an OS crash may
            # lose the last transactions) and avoids an fsync per recorded call.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection, path: Path,
                      action: str) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: take the write lock up front so two writers queue on
    the busy timeout instead of deadlocking when a read transaction tries to upgrade."""
    with translate_errors(path, action):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
