"""What a ``hybrid implement`` run persists, so that Ctrl-C, a crash or ``kill -9`` loses nothing.

Three stores, each written as things happen:

- the ledger's ``items`` and ``attempts`` tables (migration ``m002``): one row per spec item
  with its state, one per attempt with the model's output — saved right after the call, before
  the output is even parsed, so a resumed run re-verifies it instead of paying for it again;
- ``.hybrid/plans/<id>/state.json``: a summary of the items for ``hybrid status`` (rewritten
  atomically after every change; the ledger stays the truth);
- ``.hybrid/plans/<id>/apply-snapshot.json``: the bytes of an item's target files taken just
  before its code is placed, and removed once the attempt is settled. One left behind means the
  process died between placing and settling, and :meth:`RunState.recover_snapshot` puts the
  files back — unless the ledger already says that attempt passed.

The worktree itself is the checkpoint of passed items: their code stays there uncommitted until
the review gate commits it.

:class:`PlanLock` keeps two runs off one plan. It is an ``fcntl.flock`` on
``.hybrid/plans/<id>/implement.lock``: the kernel drops it when the process dies, even by
``kill -9``, so a stale lock can never block a resume.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.errors import UsageError
from hybridcode.fsutil import atomic_write_json, read_json

if TYPE_CHECKING:
    from hybridcode.ledger import Ledger
    from hybridcode.plan.store import PlanStore
    from hybridcode.spec import Spec

LOCK = "implement.lock"
STATE_JSON = "state.json"
SNAPSHOT = "apply-snapshot.json"

# ``could_not_run``: the item's tests could not start (an environment problem, not the model's
# failure): it stops without climbing, its answer kept to be judged again by a resume.
COULD_NOT_RUN = "could_not_run"
ITEM_STATES = ("pending", "running", "passed", "failed", "skipped", COULD_NOT_RUN)
DONE_STATES = frozenset({"passed", "failed", "skipped", COULD_NOT_RUN})
# Attempt outcomes. ``generated``: the output is saved but not yet verified (the state a kill
# between the call and the verdict leaves behind).
GENERATED = "generated"
ATTEMPT_OUTCOMES = frozenset({GENERATED, "passed", "test_failed", "syntax_error",
                              "placement_error", "refused", "model_error", COULD_NOT_RUN})
# What became of an answer made of edits to the failing code (None: a whole-item answer).
EDIT_FATES = frozenset({None, "applied", "fell back", "refused", "malformed"})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------- lock

class PlanLock:
    """An exclusive, non-blocking lock on one plan for the length of a run."""

    def __init__(self, plan_dir: Path, plan_id: str) -> None:
        self.path = plan_dir / LOCK
        self.plan_id = plan_id
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(f"another hybrid implement is running on plan {self.plan_id} "
                             f"(pid {holder})",
                             f"wait for it to finish, or stop it (kill {holder}) and continue "
                             f"with: hybrid implement {self.plan_id} --resume") from None
        except BaseException:
            os.close(fd)
            raise
        # The pid is for the message above only; the lock is the flock, not the file's content.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        # The file stays: unlinking it would let a third process lock a fresh inode while a
        # second one still waits on the old one.
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PlanLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ---------------------------------------------------------------------------------- rows

@dataclass
class ItemRow:
    item_id: str
    state: str
    kind: str = ""
    route: str = ""
    rung: int | None = None
    attempts: int = 0
    escalated: bool = False
    run_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    code_sha256: str | None = None
    escalation: str | None = None  # "<from> → <to>: <why>" when the item climbed


@dataclass
class AttemptRow:
    id: str
    ts: str
    item_id: str
    rung: int
    attempt: int
    model: str
    outcome: str
    feedback: str | None
    output: str | None
    duration_ms: int
    edit: str | None = None  # an edit answer's fate: applied / fell back / refused / malformed


def _item_row(row: Any) -> ItemRow:
    return ItemRow(item_id=row["item_id"], state=row["state"], kind=row["kind"],
                   route=row["route"], rung=row["rung"], attempts=row["attempts"],
                   escalated=bool(row["escalated"]), run_id=row["run_id"],
                   started_at=row["started_at"], finished_at=row["finished_at"],
                   error=row["error"], code_sha256=row["code_sha256"],
                   escalation=row["escalation"])


def _attempt_row(row: Any) -> AttemptRow:
    return AttemptRow(id=row["id"], ts=row["ts"], item_id=row["item_id"], rung=row["rung"],
                      attempt=row["attempt"], model=row["model"], outcome=row["outcome"],
                      feedback=row["feedback"], output=row["output"],
                      duration_ms=row["duration_ms"], edit=row["edit"])


_ITEM_FIELDS = frozenset({"state", "rung", "attempts", "escalated", "run_id", "started_at",
                          "finished_at", "error", "code_sha256", "escalation"})


# ---------------------------------------------------------------------------------- state

class RunState:
    """One plan's implementation state in the ledger, plus its files in the plan folder.

    Worker threads call :meth:`save_output` and :meth:`save_model_error` (the ledger gives each
    thread its own connection); everything else runs on the run's main thread.
    """

    def __init__(self, ledger: Ledger, store: PlanStore, plan_id: str,
                 run_id: str | None = None) -> None:
        self.ledger = ledger
        self.store = store
        self.plan_id = plan_id
        self.run_id = run_id
        self.dir = store.dir(plan_id)

    # ------------------------------------------------------------------ items

    def items(self) -> dict[str, ItemRow]:
        rows = self.ledger.query("SELECT * FROM items WHERE plan_id = ?", (self.plan_id,))
        return {row["item_id"]: _item_row(row) for row in rows}

    def started(self) -> bool:
        """True when an earlier run got anywhere: an attempt was made or an item settled."""
        rows = self.ledger.query(
            "SELECT (SELECT COUNT(*) FROM attempts WHERE plan_id = ?) + "
            "(SELECT COUNT(*) FROM items WHERE plan_id = ? AND state != 'pending')",
            (self.plan_id, self.plan_id))
        return bool(rows[0][0])

    def sync_items(self, spec: Spec, kinds: dict[str, str]) -> None:
        """One row per spec item (new items pending); rows of items no longer in the spec go,
        so ``hybrid status`` and the next resume see the spec as it is now."""
        ids = [item.id for item in spec.items]
        with self.ledger.transaction("save item states in") as conn:
            for item in spec.items:
                conn.execute(
                    "INSERT INTO items (plan_id, item_id, kind, route, state) "
                    "VALUES (?, ?, ?, ?, 'pending') ON CONFLICT (plan_id, item_id) "
                    "DO UPDATE SET kind = excluded.kind, route = excluded.route",
                    (self.plan_id, item.id, kinds[item.id], item.route or ""))
            marks = ", ".join("?" for _ in ids)
            conn.execute(f"DELETE FROM items WHERE plan_id = ? AND item_id NOT IN ({marks})",
                         (self.plan_id, *ids))

    def reset_items(self, item_ids: list[str]) -> None:
        """Back to pending with a clean slate (the worktree lost their code)."""
        with self.ledger.transaction("reset item states in") as conn:
            for item_id in item_ids:
                conn.execute(
                    "UPDATE items SET state = 'pending', rung = NULL, attempts = 0, "
                    "escalated = 0, escalation = NULL, started_at = NULL, finished_at = NULL, "
                    "error = NULL, code_sha256 = NULL WHERE plan_id = ? AND item_id = ?",
                    (self.plan_id, item_id))

    def update_item(self, item_id: str, **fields: Any) -> None:
        unknown = set(fields) - _ITEM_FIELDS
        if unknown:
            raise ValueError(f"unknown item fields: {sorted(unknown)}")
        if "escalated" in fields:
            fields["escalated"] = int(bool(fields["escalated"]))
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.ledger.transaction("save an item state in") as conn:
            conn.execute(f"UPDATE items SET {sets} WHERE plan_id = ? AND item_id = ?",
                         (*fields.values(), self.plan_id, item_id))

    # ------------------------------------------------------------------ attempts

    def save_output(self, item_id: str, rung: int, attempt: int, model: str, output: str,
                    prompt: str, duration_ms: int) -> str:
        """Store a model's answer the moment it arrives; returns the attempt id."""
        return self._insert_attempt(item_id, rung, attempt, model, GENERATED, None, prompt,
                                    output, duration_ms)

    def save_model_error(self, item_id: str, rung: int, attempt: int, model: str, error: str,
                         prompt: str, duration_ms: int) -> str:
        return self._insert_attempt(item_id, rung, attempt, model, "model_error", error, prompt,
                                    None, duration_ms)

    def _insert_attempt(self, item_id: str, rung: int, attempt: int, model: str, outcome: str,
                        feedback: str | None, prompt: str, output: str | None,
                        duration_ms: int) -> str:
        from hybridcode.ledger import new_id

        attempt_id = str(new_id())
        call_id = self._last_call_id(item_id)
        with self.ledger.transaction("save an attempt in") as conn:
            conn.execute(
                "INSERT INTO attempts (id, ts, plan_id, item_id, run_id, rung, attempt, model, "
                "call_id, outcome, feedback, prompt, output, duration_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt_id, _now(), self.plan_id, item_id, self.run_id, rung, attempt, model,
                 call_id, outcome, feedback, prompt, output, duration_ms))
            conn.execute("UPDATE items SET attempts = attempts + 1 "
                         "WHERE plan_id = ? AND item_id = ?", (self.plan_id, item_id))
        return attempt_id

    def _last_call_id(self, item_id: str) -> str | None:
        # An item has one call in flight at a time, so its newest call in this run is this one.
        if self.run_id is None:
            return None
        rows = self.ledger.query("SELECT id FROM calls WHERE run_id = ? AND item_id = ? "
                                 "ORDER BY id DESC LIMIT 1", (self.run_id, item_id))
        return rows[0][0] if rows else None

    def settle_attempt(self, attempt_id: str, outcome: str, feedback: str | None = None,
                       item_fields: dict[str, Any] | None = None,
                       item_id: str | None = None, edit: str | None = None) -> None:
        """Record an attempt's verdict (and ``edit``, what became of an edit answer) — and, in
        the same transaction, the item's new state, so that a pass is never half-recorded."""
        if outcome not in ATTEMPT_OUTCOMES:
            raise ValueError(f"unknown attempt outcome {outcome!r}")
        if edit not in EDIT_FATES:
            raise ValueError(f"unknown edit fate {edit!r}")
        with self.ledger.transaction("save an attempt result in") as conn:
            conn.execute("UPDATE attempts SET outcome = ?, feedback = ?, edit = ? WHERE id = ?",
                         (outcome, feedback, edit, attempt_id))
            if item_fields and item_id:
                fields = dict(item_fields)
                if "escalated" in fields:
                    fields["escalated"] = int(bool(fields["escalated"]))
                sets = ", ".join(f"{name} = ?" for name in fields)
                conn.execute(f"UPDATE items SET {sets} WHERE plan_id = ? AND item_id = ?",
                             (*fields.values(), self.plan_id, item_id))

    def attempts(self, item_id: str, since: str | None = None) -> list[AttemptRow]:
        """The item's attempts, oldest first; ``since`` limits them to the current try."""
        sql = "SELECT * FROM attempts WHERE plan_id = ? AND item_id = ?"
        params: list[Any] = [self.plan_id, item_id]
        if since:
            sql += " AND ts >= ?"
            params.append(since)
        rows = self.ledger.query(sql + " ORDER BY id", params)
        return [_attempt_row(row) for row in rows]

    def attempt_outcome(self, attempt_id: str) -> str | None:
        rows = self.ledger.query("SELECT outcome FROM attempts WHERE id = ?", (attempt_id,))
        return rows[0][0] if rows else None

    # ------------------------------------------------------------------ snapshot

    @property
    def snapshot_path(self) -> Path:
        return self.dir / SNAPSHOT

    def save_snapshot(self, worktree: Path, item_id: str, attempt_id: str,
                      paths: list[str]) -> None:
        """Persist (fsynced) the current bytes of ``paths`` before code is placed in them."""
        files: dict[str, str | None] = {}
        for rel in paths:
            target = worktree / rel
            files[rel] = (base64.b64encode(target.read_bytes()).decode("ascii")
                          if target.is_file() else None)
        atomic_write_json(self.snapshot_path, {"item_id": item_id, "attempt_id": attempt_id,
                                               "files": files})

    def clear_snapshot(self) -> None:
        self.snapshot_path.unlink(missing_ok=True)

    def restore_snapshot(self, worktree: Path) -> None:
        """Put the snapshot's files back as they were (a file that did not exist is removed)."""
        data = read_json(self.snapshot_path)
        for rel, content in data.get("files", {}).items():
            target = worktree / rel
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.hybrid-restore")
                tmp.write_bytes(base64.b64decode(content))
                os.replace(tmp, target)
        self.clear_snapshot()

    def recover_snapshot(self, worktree: Path) -> str | None:
        """Undo a placement a dead process left unsettled; returns the item id it concerned.

        A snapshot of an attempt the ledger records as passed is stale (the process died after
        the pass was saved, before the snapshot was removed): its code stays.
        """
        if not self.snapshot_path.is_file():
            return None
        try:
            data = read_json(self.snapshot_path)
        except (OSError, json.JSONDecodeError):
            # atomic_write_json never leaves half a file, so this one was not written by us.
            self.clear_snapshot()
            return None
        if self.attempt_outcome(str(data.get("attempt_id"))) == "passed":
            self.clear_snapshot()
            return None
        self.restore_snapshot(worktree)
        return str(data.get("item_id"))

    # ------------------------------------------------------------------ summary

    def write_summary(self, status: str, models: dict[str, str] | None = None) -> None:
        """``state.json`` for ``hybrid status``: each item's state, rung, attempts and error."""
        models = models or {}
        items = {}
        for item_id, row in self.items().items():
            items[item_id] = {"state": row.state, "rung": row.rung,
                              "model": models.get(item_id, ""), "attempts": row.attempts,
                              "escalated": row.escalated, "error": row.error}
        atomic_write_json(self.dir / STATE_JSON, {
            "plan_id": self.plan_id, "run_id": self.run_id, "status": status,
            "updated_at": _now(), "items": items})
