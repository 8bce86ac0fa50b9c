"""Ids, paths and advice in rich tables are never cut, whatever the terminal's width."""

from __future__ import annotations

import json
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


def test_status_at_80_columns_shows_rungs_models_and_attempts_readably(tmp_path):
    """After a real run: ids whole, model names never broken mid-word, attempts shown, and an
    item written in the plan not credited to a model that never ran."""
    from implement_helpers import Script, code, settings_for
    from typer.testing import CliRunner

    from hybridcode.cli.app import app
    from hybridcode.implement.runner import implement_plan
    from hybridcode.testing import FakeOllama

    root = make_project(tmp_path / "repo")
    store = add_item("ratelimit-sliding-window-store")
    written = add_item("ratelimit-client-ip-from-headers", route="plan").model_copy(update={
        "code": "def add(a: int, b: int) -> int:\n    return a + b\n"})
    write_plan(root, [store, written], plan_id=PLAN)
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        ollama.responder = Script({"ratelimit-sliding-window-store": [code("add", "a - b")]})
        claude.responder = Script({"ratelimit-sliding-window-store": [code("add", "a + b")]})
        result = implement_plan(root, PLAN, settings=settings_for(root, ollama, claude,
                                                                  attempts=1))
    assert result.ok
    shown = CliRunner().invoke(app, ["status", PLAN, "--repo", str(root)],
                               env={"COLUMNS": "80", "NO_COLOR": "1"}, catch_exceptions=False)
    out = shown.stdout
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    words = out.split()
    assert "ratelimit-sliding-window-store" in words
    assert "ratelimit-client-ip-from-headers" in words
    assert "claude-sonnet-5-5" in words and "(anthropic)" in words  # whole, wrapped at spaces
    assert "escalated" in words and "tries" in words
    row = next(line for line in out.splitlines() if "ratelimit-client-ip-from-headers" in line)
    assert "written in the" in row  # no model ran for the code the plan carried
    data = json.loads(CliRunner().invoke(app, ["status", PLAN, "--json", "--repo",
                                               str(root)]).stdout)
    items = {i["id"]: i for i in data["items"]}
    assert items["ratelimit-sliding-window-store"]["rung"] == 1
    assert items["ratelimit-sliding-window-store"]["model"] == "anthropic:claude-sonnet-5-5"
    assert items["ratelimit-sliding-window-store"]["attempts"] == 2
    assert items["ratelimit-client-ip-from-headers"]["model"] == "plan"


def test_plans_overview_at_80_columns_keeps_every_column(tmp_path):
    from typer.testing import CliRunner

    from hybridcode.cli.app import app

    root = make_project(tmp_path / "repo")
    write_plan(root, [add_item()], plan_id=PLAN)
    write_plan(root, [add_item()], plan_id="261202-add-a-longer-request-title-to-the-plan")
    out = CliRunner().invoke(app, ["status", "--repo", str(root)],
                             env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    header = next(line for line in out.splitlines() if "plan" in line and "status" in line)
    assert header.split() == ["plan", "status", "items"]
    assert PLAN in out.split() and "261202-add-a-longer-request-title-to-the-plan" in out.split()
    assert "1 (" in out  # the items column has room for its figures
