"""Ids, paths and advice in rich tables are never cut, whatever the terminal's width."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from implement_helpers import add_item, make_project, write_plan
from plan_helpers import make_app_repo, planner_answer

from hybridcode.testing import FakeAnthropic

PLAN = "261201-add-per-ip-rate-limiting-to-login"


def _hybrid(cwd: Path, columns: int, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-m", "hybridcode", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "COLUMNS": str(columns), **env})
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_status_keeps_plan_and_item_ids_whole(tmp_path):
    root = make_project(tmp_path / "repo")
    items = [add_item("ratelimit-sliding-window-store"),
             add_item("ratelimit-client-ip-from-headers",
                      depends_on=["ratelimit-sliding-window-store"])]
    write_plan(root, items, plan_id=PLAN)
    overview = _hybrid(root, 120, "status")
    assert PLAN in overview and "…" not in overview
    one = _hybrid(root, 80, "status", PLAN)
    assert "…" not in one
    rows = [line for line in one.splitlines() if "ratelimit-" in line]
    assert any("ratelimit-sliding-window-store" in line for line in rows)
    assert any("ratelimit-client-ip-from-headers" in line for line in rows)


def test_plan_table_keeps_item_ids_whole_at_80_columns(tmp_path):
    repo = make_app_repo(tmp_path / "app")
    with FakeAnthropic() as fake:
        fake.enqueue_json(planner_answer())
        out = _hybrid(repo, 80, "plan", "Add per-IP rate limiting to login",
                      ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake.base_url,
                      HYBRID_ANTHROPIC__MAX_RETRIES="0")
    assert "…" not in out
    ids = [i["id"] for i in planner_answer()["spec"]["items"]]
    first_words = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert all(item_id in first_words for item_id in ids), out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_doctor_never_cuts_its_advice(tmp_path):
    out = _hybrid(tmp_path, 80, "doctor")
    assert "…" not in out
    cells = "".join(line.split("│")[4].strip() for line in out.splitlines()
                    if line.count("│") == 5)
    assert "~/.config/hybridcode/config.toml" in cells


def test_stats_figures_are_never_cut_at_80_columns(tmp_path):
    from ledger_rows import call, item

    from hybridcode.ledger import Ledger

    root = make_project(tmp_path / "repo")
    with Ledger.open(root) as ledger:
        run = ledger.start_run("implement", plan_id=PLAN)
        item(ledger, PLAN, "retry-after-header", "data_transformation/function", run_id=run)
        for n in range(3):
            call(ledger, run_id=run, plan_id=PLAN, item_id="retry-after-header",
                 input_tokens=11_800 + n, output_tokens=6_670, cache_write_tokens=4_185,
                 cost_usd=0.2017, counterfactual_usd=0.2017)
    out = _hybrid(root, 80, "stats", "--by", "kind")
    assert "…" not in out
    assert "$0.6051" in out and "35.4k" in out and "12.6k" in out, out
