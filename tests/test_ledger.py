"""The ledger: a real SQLite file in a temporary repository."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hybridcode.config import load_settings
from hybridcode.errors import LedgerError
from hybridcode.ledger import CallRecord, Ledger, ledger_path
from hybridcode.ledger.migrations import MIGRATIONS
from hybridcode.ledger.redact import redact


def call(**kw) -> CallRecord:
    fields = {"step": "implement", "tier": "implementer", "backend": "ollama",
              "model": "qwen2.5-coder:32b"}
    fields.update(kw)
    return CallRecord(**fields)


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger.open(tmp_path) as led:
        yield led


def raw_rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_open_creates_the_file_and_migrates_once(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as first:
        assert first.path == tmp_path / ".hybrid" / "ledger.db"
        assert first.path.is_file()
        assert first.migrated == [fn.__name__ for fn in MIGRATIONS]
        assert first.migrated[0] == "m001_initial"
    with Ledger.open(tmp_path) as again:
        assert again.migrated == []
    rows = raw_rows(ledger_path(tmp_path), "SELECT name FROM _hybrid_migrations")
    assert rows == [(fn.__name__,) for fn in MIGRATIONS]


def test_migrations_are_named_in_order() -> None:
    names = [fn.__name__ for fn in MIGRATIONS]
    assert names[0] == "m001_initial"
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(n[0] == "m" and n[1:4].isdigit() and n[4] == "_" for n in names)


def test_wal_mode_and_busy_timeout(ledger: Ledger) -> None:
    assert ledger.query("PRAGMA journal_mode")[0][0] == "wal"
    assert ledger.query("PRAGMA busy_timeout")[0][0] >= 5000
    # WAL is a property of the file, seen by any other connection too.
    assert raw_rows(ledger.path, "PRAGMA journal_mode") == [("wal",)]


def test_record_and_query_by_run_plan_and_time(ledger: Ledger) -> None:
    run_a = ledger.start_run("implement", plan_id="p1")
    run_b = ledger.start_run("review", plan_id="p2")
    first = ledger.record_call(call(run_id=run_a, plan_id="p1", item_id="i1", rung=0,
                                    input_tokens=10, output_tokens=5, extra={"eval_ms": 12}))
    ledger.record_call(call(run_id=run_a, plan_id="p1", item_id="i2"))
    ledger.record_call(call(run_id=run_b, plan_id="p2", step="review", tier="reviewer",
                            backend="anthropic", model="claude-opus-5-5", cost_usd=0.5))

    rows = ledger.calls(run_id=run_a)
    assert [r.item_id for r in rows] == ["i1", "i2"]
    assert rows[0].id == first and rows[0].rung == 0 and rows[0].extra == {"eval_ms": 12}
    assert rows[0].usage.total_input == 10 and rows[0].is_local is False
    assert [r.tier for r in ledger.calls(plan_id="p2")] == ["reviewer"]
    assert len(ledger.calls()) == 3
    assert [r.id for r in ledger.calls()] == sorted(r.id for r in ledger.calls())

    at = rows[0].at
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
    assert len(ledger.calls(since=datetime.now(timezone.utc) - timedelta(minutes=1))) == 3
    assert ledger.calls(since=datetime.now(timezone.utc) + timedelta(minutes=1)) == []


def test_runs_start_and_finish(ledger: Ledger) -> None:
    run_id = ledger.start_run("plan", plan_id="p9")
    run = ledger.run(run_id)
    assert run is not None and run.status == "running" and run.finished_at is None
    ledger.finish_run(run_id, "ok")
    run = ledger.run(run_id)
    assert run is not None and run.status == "ok" and run.finished_at is not None
    with pytest.raises(LedgerError, match="no run nope"):
        ledger.finish_run("nope", "ok")


def test_settings_snapshot_keeps_no_secret(tmp_path: Path, ledger: Ledger) -> None:
    settings = load_settings(tmp_path, environ={
        "ANTHROPIC_API_KEY": "sk-ant-api03-snapshotsecret",
        "HYBRID_OPENAI_API_KEY": "plain-openai-secret",
    })
    run_id = ledger.start_run("implement", settings=settings)
    run = ledger.run(run_id)
    assert run is not None
    assert run.settings["tiers"]["planner"]["model"] == "claude-sonnet-5-5"
    assert "api_key" not in run.settings["anthropic"]
    stored = raw_rows(ledger.path, "SELECT settings FROM runs")[0][0]
    assert "snapshotsecret" not in stored and "plain-openai-secret" not in stored


def test_spend_sums_paid_and_local_calls_separately(ledger: Ledger) -> None:
    run_id = ledger.start_run("implement")
    other = ledger.start_run("implement")
    ledger.record_call(call(run_id=run_id, backend="anthropic", cost_usd=0.25))
    ledger.record_call(call(run_id=run_id, backend="anthropic", cost_usd=None))  # unpriced
    ledger.record_call(call(run_id=run_id, is_local=True, cost_usd=0.125))
    ledger.record_call(call(run_id=other, backend="anthropic", cost_usd=7.0))
    assert ledger.spend(run_id) == pytest.approx(0.25)
    assert ledger.spend(run_id, local=True) == pytest.approx(0.125)
    assert ledger.spend("no-such-run") == 0.0


def test_error_text_is_one_line_without_keys(ledger: Ledger) -> None:
    ledger.record_call(call(outcome="error", error=(
        "AuthenticationError: bad key sk-ant-api03-abcdefgh12345\n"
        "  header Authorization: Bearer abcdefghijklmnop")))
    [row] = ledger.calls()
    assert row.outcome == "error"
    assert "\n" not in row.error
    assert "abcdefgh12345" not in row.error and "abcdefghijklmnop" not in row.error
    assert "[REDACTED]" in row.error


def test_unknown_outcome_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="unknown call outcome"):
        ledger.record_call(call(outcome="maybe"))  # type: ignore[arg-type]


def test_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as led, led.transaction() as conn:
        conn.execute("INSERT INTO _hybrid_migrations VALUES ('m999_future', 'x')")
    with pytest.raises(LedgerError, match="newer hybridcode") as err:
        Ledger.open(tmp_path)
    assert "upgrade" in (err.value.hint or "")


def test_corrupt_file_gets_a_hint(tmp_path: Path) -> None:
    path = ledger_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError) as err:
        Ledger.open(tmp_path)
    assert "ledger.db aside" in (err.value.hint or "")


def test_closed_ledger_says_so(tmp_path: Path) -> None:
    led = Ledger.open(tmp_path)
    led.close()
    with pytest.raises(LedgerError, match="closed"):
        led.calls()


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "pip install scikit-learn; task-ant; def sk(): return 'sk-short'"
    assert redact(text) == text
    assert redact("key=sk-proj-ABCDEFGHIJKLMNOPQRST") == "key=[REDACTED]"
    assert redact("value hunter2-secret here", ["hunter2-secret"]) == "value [REDACTED] here"


def test_parallel_threads_lose_no_rows(ledger: Ledger) -> None:
    run_id = ledger.start_run("implement")
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(50):
                ledger.record_call(call(run_id=run_id, item_id=f"t{n}-{i}", cost_usd=0.001))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = ledger.calls(run_id=run_id)
    assert len(rows) == 400
    assert len({r.id for r in rows}) == 400
    assert ledger.spend(run_id) == pytest.approx(0.4)


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hybridcode.ledger import CallRecord, Ledger
    root, go, tag = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    while not go.exists():
        time.sleep(0.005)
    with Ledger.open(root) as ledger:
        for i in range(50):
            ledger.record_call(CallRecord(step="implement", tier="implementer", backend="ollama",
                                          model="m", item_id=f"{tag}-{i}"))
""")


def test_parallel_processes_lose_no_rows(tmp_path: Path) -> None:
    go = tmp_path / "go"
    # Each writer opens the ledger itself — a fresh file, so their migrations race too.
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(go), f"p{n}"],
                              stderr=subprocess.PIPE, text=True) for n in range(3)]
    time.sleep(0.05)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    with Ledger.open(tmp_path) as led:
        rows = led.calls()
        assert led.migrated == []
    assert len(rows) == 150
    assert {r.item_id for r in rows} == {f"p{n}-{i}" for n in range(3) for i in range(50)}
