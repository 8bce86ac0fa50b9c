"""`hybrid demo` end to end: a subprocess with no key and no network, then the evidence it left.

The kept run is the ratelimit scenario, named explicitly (its story's figures are checked
here whichever scenario is the default); the run without --keep is the default scenario.

The model hosts point at a port that is bound but never listens, so any real call would be
refused and fail the run; the ledger then shows that every call was served by the replay
backend. The kept repository is checked the way a sceptical user would: plan folder, branch,
commit trailers against the recomputed diff hash, ledger rows, and the stats figures.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hybridcode.demo import DEFAULT_SCENARIO, LABEL, SAMPLE_REPO, find_scenario, scenarios
from hybridcode.vcs.commits import parse_review_trailer, parse_trailers
from hybridcode.vcs.diff import commit_diff

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "fixtures" / "demo" / "build_recordings.py"
RATELIMIT = find_scenario("ratelimit")
RECORDINGS = RATELIMIT.recordings
SCENARIOS = [s.name for s in scenarios()]
# Demo runs take a dozen pytest runs; generous, so a loaded CI machine does not flake.
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A port nobody listens on for the whole module: bound (so no one else takes it), never
    listening (so a connection is refused at once)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def offline_env(tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OLLAMA_", "HYBRID_", "OPENAI_"))}
    env.update({
        "OLLAMA_HOST": f"http://127.0.0.1:{port}",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HYBRID_USER_CONFIG": str(tmp / "no-user-config.toml"),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    })
    return env


def hybrid(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hybridcode", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


class Demo:
    def __init__(self, root: Path, proc: subprocess.CompletedProcess[str],
                 env: dict[str, str]) -> None:
        self.root = root
        self.proc = proc
        self.env = env
        plans = sorted(p.name for p in (root / ".hybrid" / "plans").iterdir())
        assert len(plans) == 1, plans
        self.plan_id = plans[0]
        self.plan_dir = root / ".hybrid" / "plans" / self.plan_id
        self.branch = f"hybrid/{self.plan_id}"

    def rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.root / ".hybrid" / "ledger.db")
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, closed_port) -> Demo:
    tmp = tmp_path_factory.mktemp("demo")
    root = tmp / "kept"
    env = offline_env(tmp, closed_port)
    proc = hybrid(["demo", "--scenario", "ratelimit", "--keep", str(root)], tmp, env)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    return Demo(root, proc, env)


def test_display_labels_the_samples_and_shows_every_stage(demo):
    out = demo.proc.stdout
    assert LABEL in out
    # the first screen names the scenario and its request, before the first stage
    named = out.index(f"scenario ratelimit: {RATELIMIT.title}")
    assert named < out.index("1/6 sample repository")
    assert RATELIMIT.request().splitlines()[2].strip() in out[named:out.index("1/6")]
    for stage in ("hybrid plan", "hybrid implement", "hybrid review", "hybrid commit",
                  "hybrid stats"):
        assert stage in out
    assert "APPROVED by claude-sonnet-5-5" in out
    assert "Hybrid-Review: approved" in out
    assert "spent $" in out  # against both counterfactuals, saved or not
    assert "against Claude implementing it directly" in out  # the last screen: both
    assert "against the same pipeline all on Claude" in out
    # one plain sentence a newcomer understands: spent, the floor, saved (or not)
    assert "In plain words: hybrid spent $" in out and "at least $" in out
    # the implement stage's live table goes to stderr: every item placed from the plan
    assert "login-ratelimit" in demo.proc.stderr


def test_counts_are_worded_for_one_and_many(demo):
    out = demo.proc.stdout
    assert not re.search(r"\b1 items\b", out), out
    misroutes = demo.rows("SELECT COUNT(DISTINCT item_id) AS n FROM items WHERE escalated = 1 "
                          "AND route = 'local'")[0]["n"]
    word = "item" if misroutes == 1 else "items"
    shown = f"{misroutes} {word} routed local escalated to Claude" in " ".join(out.split())
    assert shown == (misroutes > 0)


def test_getting_started_shows_the_trailers_the_demo_writes(demo):
    sha = git(demo.root, "rev-parse", "--verify", f"refs/heads/{demo.branch}").strip()
    trailers = parse_trailers(git(demo.root, "log", "-1", "--format=%B", sha))
    guide = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    shown = re.search(r"^\s*Hybrid-Implementer: (.+)$", guide, re.MULTILINE).group(1)
    assert shown.strip() == trailers["Hybrid-Implementer"]


def test_plan_artifacts(demo):
    for name in ("request.md", "architecture.md", "spec.json", "plan.md", "meta.json"):
        assert (demo.plan_dir / name).is_file(), name
    spec = json.loads((demo.plan_dir / "spec.json").read_text())
    routes = {item["id"]: item["route"] for item in spec["items"]}
    assert len(routes) >= 4
    # small items: no spec pays for itself, so the planner wrote every item (its sizing says
    # why) and the plan is Claude's own change — still placed, tested, reviewed and gated
    assert set(routes.values()) == {"plan"}
    assert all(item["sizing"]["code_tokens"] > 0 for item in spec["items"])
    routing = json.loads((demo.plan_dir / "routing.json").read_text())
    assert routing["request"].startswith("nothing pays to delegate")
    assert all("delegating" in d["reason"] for d in routing["decisions"])
    # plan.md shows each item's spec size beside its route
    plan_md = (demo.plan_dir / "plan.md").read_text()
    assert "| Route | Spec tokens |" in plan_md and "Code written in the plan" in plan_md
    assert json.loads((demo.plan_dir / "meta.json").read_text())["status"] == "committed"


def test_commit_on_the_plan_branch_carries_valid_trailers(demo):
    sha = git(demo.root, "rev-parse", "--verify", f"refs/heads/{demo.branch}").strip()
    trailers = parse_trailers(git(demo.root, "log", "-1", "--format=%B", sha))
    assert trailers["Hybrid-Plan"] == demo.plan_id
    # the scenario's request names the commit
    assert git(demo.root, "log", "-1", "--format=%s", sha).strip() == RATELIMIT.title
    assert {m.strip() for m in trailers["Hybrid-Implementer"].split(",")} == {
        "plan:claude-sonnet-5-5"}
    review = parse_review_trailer(trailers["Hybrid-Review"])
    assert review is not None
    approved_sha, reviewer = review
    assert reviewer == "claude-sonnet-5-5"
    # the approval is bound to exactly the committed change
    assert commit_diff(demo.root, sha).sha256 == approved_sha
    assert demo.rows("SELECT 1 FROM approvals WHERE diff_sha256 = ?", (approved_sha,))
    # the commit sits on the base: the user's branch and files are untouched
    base = json.loads((demo.plan_dir / "meta.json").read_text())["base_commit"]
    assert git(demo.root, "rev-parse", f"{sha}^").strip() == base
    assert git(demo.root, "rev-parse", "main").strip() == base
    assert (demo.root / "app" / "auth.py").read_text() == \
        (SAMPLE_REPO / "app" / "auth.py").read_text()
    assert not (demo.root / "app" / "ratelimit.py").exists()


def test_ledger_rows_for_every_step_all_replayed(demo):
    steps = {row["step"] for row in demo.rows("SELECT DISTINCT step FROM calls")}
    assert steps == {"plan", "review"}  # items written in the plan need no implementer call
    calls = demo.rows("SELECT extra, outcome FROM calls")
    assert calls and all(json.loads(row["extra"]).get("via") == "replay" for row in calls)
    assert all(row["outcome"] == "ok" for row in calls)
    runs = {(r["command"], r["status"]) for r in demo.rows("SELECT command, status FROM runs")}
    assert {("plan", "ok"), ("implement", "ok"), ("review", "ok")} <= runs
    # every item's code from the plan passed its acceptance tests first time
    states = {r["item_id"]: r["state"] for r in demo.rows("SELECT item_id, state FROM items")}
    assert set(states.values()) == {"passed"} and len(states) == 6
    decisions = [r["decision"] for r in demo.rows("SELECT decision FROM reviews")]
    assert decisions == ["approve"]


def test_stats_figures_are_present_and_consistent(demo):
    proc = hybrid(["stats", "--json", "--plan", demo.plan_id], demo.root, demo.env)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    recorded = [json.loads(line)["response"]["usage"]
                for line in RECORDINGS.read_text().splitlines() if line.strip()]
    totals = stats["totals"]
    # every sample response was served exactly once, and every one was counted
    assert totals["calls"] == len(recorded)
    assert totals["input_tokens"] == sum(u["input_tokens"] for u in recorded)
    assert totals["output_tokens"] == sum(u["output_tokens"] for u in recorded)
    assert totals["cache_write_tokens"] == sum(u["cache_write_tokens"] for u in recorded)
    assert totals["local_calls"] == 0
    assert totals["cache_read_tokens"] == sum(u["cache_read_tokens"] for u in recorded)
    cf = stats["counterfactual"]
    assert cf["saving_usd"] == 0  # nothing local: the same pipeline on Claude is the same
    assert cf["counterfactual_usd"] == pytest.approx(cf["actual_usd"] + cf["saving_usd"])
    assert stats["misroutes"] == []
    assert stats["breaker_trips"] == []
    # the shared prefix is read from the cache, and both counterfactuals are there
    claude_input = stats["cache"]["input_tokens"]
    assert stats["cache"]["cache_read_tokens"] >= 0.3 * claude_input
    assert stats["direct"]["escalation_usd"] == 0
    [planner] = demo.rows("SELECT cache_write_tokens FROM calls WHERE tier = 'planner'")
    [reviewer] = demo.rows("SELECT cache_read_tokens FROM calls WHERE tier = 'reviewer'")
    assert reviewer[0] >= 0.9 * planner[0] > 0
    assert demo.rows("SELECT COUNT(*) FROM calls WHERE tier = 'implementer' AND NOT is_local "
                     "AND cache_write_tokens + cache_read_tokens > 0")[0][0] == 0
    assert stats["cache"]["not_cached"] == []
    direct = stats["direct"]
    assert direct["plans"] == 1 and direct["output_tokens"] > 0
    assert direct["direct_usd"] == pytest.approx(direct["writing_usd"] + direct["review_usd"])
    # the planner writes the code and a compact rest: examples are data, not test code
    by_tier = {g["key"]: g for g in stats["by_tier"]}
    assert by_tier["planner"]["output_tokens"] < 3500


def test_the_demo_commit_is_signed_and_verifies_in_a_fresh_clone(demo, tmp_path):
    """The demo signs its approval with a throwaway key it made in the repository; the
    allowed-signers file trusting that key is committed, so CI's default policy is signed."""
    assert (demo.root / ".hybrid" / "demo-signing-key").is_file()
    assert "allowed_signers" in git(demo.root, "ls-files", ".hybrid")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(demo.root), str(clone))
    proc = hybrid(["review", "--base", "origin/main", "--head", f"origin/{demo.branch}", "--ci",
                   "--no-review", "--format", "json"], clone, demo.env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["policy"] == "signed"
    [commit] = report["commits"]
    assert commit["status"] == "valid" and commit["signer"] == "demo@hybrid.invalid"


def test_json_figures_without_keep(tmp_path, closed_port):
    """The default scenario, as a user first runs it."""
    proc = hybrid(["demo", "--json"], tmp_path, offline_env(tmp_path, closed_port))
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    assert figures["sample_responses"] == LABEL
    scenario = find_scenario(DEFAULT_SCENARIO)
    assert (figures["scenario"], figures["request"]) == (scenario.name, scenario.title)
    assert figures["kept"] is False
    assert figures["repository"] is None, "the temporary repository is removed: name none"
    # checks read as the terminal shows them: lint is skipped (no lint command), not passed
    assert figures["review"]["checks"]["lint"] == "skipped"
    assert figures["review"]["checks"]["tests"] == "ok"
    assert figures["review"]["decision"] == "approved"
    verdict = [json.loads(line) for line in scenario.recordings.read_text().splitlines()
               if '"schema": "Verdict"' in line][-1]
    assert figures["review"]["findings"] == len(
        json.loads(verdict["response"]["text"])["findings"])
    assert figures["commit"]["trailers"]["Hybrid-Plan"] == figures["plan_id"]
    assert figures["totals"]["direct_usd"] > 0
    assert {item["state"] for item in figures["items"]} == {"passed"}


def test_keep_refuses_a_directory_with_files(tmp_path, closed_port):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine\n")
    proc = hybrid(["demo", "--keep", str(tmp_path / "taken")], tmp_path,
                  offline_env(tmp_path, closed_port))
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ") and "--keep" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # refused before anything is shown
    suggested = Path(re.search(r"e\.g\. --keep (\S+)", proc.stderr).group(1))
    assert suggested == tmp_path / "taken-2" and not suggested.exists()
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine\n"


def test_unknown_scenario_is_a_one_line_error_naming_the_choices(tmp_path, closed_port):
    for extra in ([], ["--json"], ["--keep", str(tmp_path / "kept")]):
        proc = hybrid(["demo", "--scenario", "nosuch", *extra], tmp_path,
                      offline_env(tmp_path, closed_port))
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""  # refused before anything is shown
        [line] = proc.stderr.splitlines()
        assert line.startswith("Error: no demo scenario 'nosuch'")
        assert all(name in line for name in SCENARIOS)
        assert not (tmp_path / "kept").exists()


def test_help_lists_every_scenario_with_what_it_asks_for(tmp_path, closed_port):
    proc = hybrid(["demo", "--help"], tmp_path, offline_env(tmp_path, closed_port))
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "--scenario NAME" in text
    for scenario in scenarios():
        assert f"{scenario.name} {scenario.title}" in text
    assert f"{DEFAULT_SCENARIO} {find_scenario(DEFAULT_SCENARIO).title} (the default)" in text


def test_recordings_are_generated_from_their_script():
    """Every scenario: its recordings are what build_recordings.py makes of its answers."""
    folders = sorted(p.parent.name for p in (BUILD.parent / "scenarios").glob("*/answers.py"))
    assert folders == sorted(SCENARIOS)  # each has a request, and each request its answers
    proc = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_stats_and_the_last_screen_agree_with_a_recomputation_from_the_ledger(demo):
    """The direct floor and the spend, recomputed here from the ledger's rows and the price
    table, are what `hybrid stats --json` says and what the demo's last screen printed."""
    from hybridcode.config import DEFAULT_PRICES

    proc = hybrid(["stats", "--json", "--plan", demo.plan_id], demo.root, demo.env)
    stats = json.loads(proc.stdout)
    spent = sum(r["cost_usd"] for r in demo.rows(
        "SELECT cost_usd FROM calls WHERE outcome != 'budget'"))
    planner = demo.rows("SELECT model, extra FROM calls WHERE tier = 'planner' ORDER BY id")[0]
    reviews = demo.rows("SELECT extra, cost_usd FROM calls WHERE tier = 'reviewer'")
    price = DEFAULT_PRICES[planner["model"]]
    context = json.loads(planner["extra"])["context_tokens"]
    diff = sum(json.loads(r["extra"])["diff_tokens"] for r in reviews)
    floor = (context * price["input"] + diff * price["output"]) / 1e6 \
        + sum(r["cost_usd"] for r in reviews)
    direct = stats["direct"]
    assert (direct["input_tokens"], direct["output_tokens"]) == (context, diff)
    assert direct["direct_usd"] == pytest.approx(floor)
    assert direct["actual_usd"] == pytest.approx(spent)
    assert stats["totals"]["cost_usd"] == pytest.approx(spent)
    shown = " ".join(demo.proc.stdout.split())
    assert (f"against Claude implementing it directly ${floor:.4f}: spent ${spent:.4f}"
            in shown)
    assert f"hybrid spent ${spent:.4f} on Claude" in shown and f"at least ${floor:.4f}" in shown


@pytest.mark.parametrize("name", SCENARIOS)
def test_recorded_usage_follows_the_texts(name):
    """Usage in the recordings is derived from the texts: 2.8–4.5 characters a token."""
    for line in find_scenario(name).recordings.read_text().splitlines():
        entry = json.loads(line)
        text, usage = entry["response"]["text"], entry["response"]["usage"]
        assert 2.8 <= len(text) / usage["output_tokens"] <= 4.5, entry["match"]


def test_at_100_by_30_the_live_table_keeps_names_and_notes_whole(tmp_path, closed_port,
                                                                  monkeypatch):
    """The implement board at 100 columns: one line per item (no model name broken inside a
    word), each note whole on its own lines, and code written in the plan not credited to a
    model that never ran."""
    from typer.testing import CliRunner

    from hybridcode.cli.app import app

    env = {**offline_env(tmp_path, closed_port), "COLUMNS": "100", "LINES": "30"}
    for name in [k for k in os.environ if k.startswith(("ANTHROPIC_", "OLLAMA_", "HYBRID_"))]:
        monkeypatch.delenv(name)
    root = tmp_path / "kept"
    result = CliRunner().invoke(app, ["demo", "--keep", str(root)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    spec = json.loads(next((root / ".hybrid" / "plans").glob("*/spec.json")).read_text())
    ids = [item["id"] for item in spec["items"]]
    lines = result.stderr.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split()[:2] == ["item", "state"])
    rows = lines[header + 1:header + 1 + len(ids)]
    assert sorted(row.split()[0] for row in rows) == sorted(ids)  # one line an item
    assert all(len(line) <= 100 for line in lines)
    for item in spec["items"]:
        row = next(r for r in rows if r.split()[0] == item["id"])
        assert ("written in the plan" in row) == (item["route"] == "plan"), row
    notes = " ".join(lines[header + 1 + len(ids):])
    for line in lines[:header]:  # each run message (an escalation) is repeated whole below
        if line.startswith("• ") and ": escalating from " in line:
            escalated = line[2:].split(":")[0]
            assert f"{escalated}: escalated: " in notes
    assert not notes.rstrip().endswith(("…", "..."))


def test_a_scenario_without_recordings_says_how_to_make_them(tmp_path):
    from hybridcode.demo import Demo, DemoError, Scenario

    folder = tmp_path / "scenarios" / "fresh"
    folder.mkdir(parents=True)
    (folder / "request.md").write_text("Add a thing\n\nThe thing, in detail.\n")
    with Demo(scenario=Scenario.at(folder)) as run:
        assert run.scenario.title == "Add a thing"
        with pytest.raises(DemoError, match="build_recordings.py --scenario NAME"):
            run.prepare()
        assert run.root is None  # nothing was copied
