"""`hybrid plan` end to end through the real Anthropic SDK against the fake Messages API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.ledger import Ledger
from plan_helpers import item_of, make_app_repo, planner_answer

runner = CliRunner()
REQUEST = "Add per-IP rate limiting to login"


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    return make_app_repo(tmp_path / "app-repo")


def plan(repo: Path, *args: str):
    return runner.invoke(app, ["plan", REQUEST, "--repo", str(repo), *args])


def messages(fake):
    return [r for r in fake.requests if r.path.endswith("/v1/messages")]


def test_happy_path_writes_every_artifact(app_repo, claude):
    claude.enqueue_json(planner_answer(), usage={"input_tokens": 1200, "output_tokens": 3000,
                                                 "cache_creation_input_tokens": 5000})
    result = plan(app_repo, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    folder = Path(data["path"])
    for name in ("request.md", "architecture.md", "spec.json", "plan.md", "meta.json",
                 "routing.json"):
        assert (folder / name).is_file(), name
    assert (folder / "request.md").read_text().strip() == REQUEST
    meta = json.loads((folder / "meta.json").read_text())
    head = __import__("subprocess").run(["git", "rev-parse", "HEAD"], cwd=app_repo,
                                        capture_output=True, text=True).stdout.strip()
    assert meta["base_commit"] == head
    assert meta["status"] == "planned" and meta["items"] == 5
    routes = {i["id"]: i["route"] for i in data["items"]}
    assert routes["ratelimit-store"] == "local"
    assert routes["ratelimit-client-ip"] == "claude"  # security-sensitive
    assert all(i["route_reason"] for i in data["items"])
    log = json.loads((folder / "routing.json").read_text())
    assert log["thresholds"]["promote_min_reviewed"] == 20
    assert {d["item"] for d in log["decisions"]} == set(routes)
    assert all(d["rule"] and d["reason"] for d in log["decisions"])
    # exactly one call, and it is in the ledger with step=plan and its cost
    assert len(messages(claude)) == 1
    with Ledger.open(app_repo) as ledger:
        calls = ledger.calls(plan_id=data["plan_id"])
    assert [(c.step, c.tier) for c in calls] == [("plan", "planner")]
    expected = (1200 * 2 + 3000 * 10 + 5000 * 2.5) / 1e6  # sonnet 5.5 prices
    assert calls[0].cost_usd == pytest.approx(expected)
    assert data["plan_cost_usd"] == pytest.approx(expected)


def test_request_caches_the_stable_prefix_and_fences_nothing_secret(app_repo, claude):
    (app_repo / ".env").write_text("API_TOKEN=hunter2-very-secret\n")
    claude.enqueue_json(planner_answer())
    result = plan(app_repo, "--focus", "app/auth.py")
    assert result.exit_code == 0, result.output
    body = messages(claude)[0].json
    system = body["system"]
    # The shared prefix: instructions, schema, repository map (breakpoint), then the role.
    assert isinstance(system, list) and len(system) == 4
    assert [("cache_control" in block) for block in system] == [False, True, True, True]
    assert "Instructions of the reviewer" in system[0]["text"]
    assert "Repository map" in system[2]["text"] and "app/auth.py" in system[2]["text"]
    assert "Your role in this call: planner" in system[3]["text"]
    folder = app_repo / ".hybrid" / "plans"
    stored = next(folder.iterdir()) / "repomap.md"
    assert stored.read_text().strip() in system[2]["text"]  # later calls send the same map
    user = json.dumps(body["messages"])
    assert "def login(" in user  # the focused file's source is sent
    assert "hunter2" not in json.dumps(body)  # secrets never leave the machine
    assert body["output_config"]["format"]["type"] == "json_schema"


def test_focus_never_sends_a_secret_an_ignored_file_or_an_env_file(app_repo, claude):
    (app_repo / "app" / "keys.py").write_text(
        'def token():\n    return "AKIAZ3MHQWERTYUIOPAS"\n')
    (app_repo / ".gitignore").write_text("local/\n")
    (app_repo / "local").mkdir()
    (app_repo / "local" / "notes.py").write_text("PRIVATE = 'do not send me'\n")
    (app_repo / ".env").write_text("API_TOKEN=hunter2-very-secret\n")
    claude.enqueue_json(planner_answer())
    result = plan(app_repo, "--focus", "app/keys.py", "--focus", "./local/notes.py",
                  "--focus", ".env", "--focus", "app/auth.py")
    assert result.exit_code == 0, result.output
    sent = json.dumps(messages(claude)[0].json)
    assert "def login(" in sent  # the clean focus file still goes
    for secret in ("AKIAZ3MHQWERTYUIOPAS", "do not send me", "hunter2"):
        assert secret not in sent


def test_invalid_spec_gets_exactly_one_repair_call(app_repo, claude):
    def cycle(answer):
        item_of(answer, "ratelimit-store")["depends_on"] = ["ratelimit-limiter"]

    claude.enqueue_json(planner_answer(cycle))
    claude.enqueue_json(planner_answer())
    result = plan(app_repo, "--json")
    assert result.exit_code == 0, result.output
    sent = messages(claude)
    assert len(sent) == 2
    repair = sent[1].json["messages"][-1]["content"]
    repair_text = json.dumps(repair)
    assert "ratelimit-store" in repair_text and "cycle" in repair_text.lower()
    with Ledger.open(app_repo) as ledger:
        assert len(ledger.calls(plan_id=json.loads(result.stdout)["plan_id"])) == 2


@pytest.mark.parametrize("mutate,item_id,needle", [
    (lambda a: item_of(a, "ratelimit-store").update(depends_on=["ratelimit-limiter"]),
     "ratelimit-store", "cycle"),
    (lambda a: item_of(a, "login-ratelimit").update(symbol="log_in"),
     "login-ratelimit", "log_in"),
])
def test_still_invalid_after_repair_names_the_item(app_repo, claude, mutate, item_id, needle):
    claude.enqueue_json(planner_answer(mutate))
    claude.enqueue_json(planner_answer(mutate))
    result = plan(app_repo)
    assert result.exit_code == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1
    assert item_id in err and needle in err.lower() and "hybrid spec check" in err
    assert len(messages(claude)) == 2
    # the paid-for draft is kept for a person to fix
    drafts = list((app_repo / ".hybrid" / "plans").glob("*/spec.invalid.json"))
    assert len(drafts) == 1


def test_route_override_is_recorded(app_repo, claude):
    claude.enqueue_json(planner_answer())
    result = plan(app_repo, "--json", "--route", "ratelimit-client-ip=local")
    assert result.exit_code == 0, result.output
    item = next(i for i in json.loads(result.stdout)["items"] if i["id"] == "ratelimit-client-ip")
    assert item["route"] == "local" and item["overridden"] is True
    assert "override" in item["route_reason"]


def test_unknown_route_item_is_a_usage_error(app_repo, claude):
    claude.enqueue_json(planner_answer())
    result = plan(app_repo, "--route", "nope=local")
    assert result.exit_code == 2 and "nope" in result.stderr


def test_empty_request(app_repo, claude):
    result = runner.invoke(app, ["plan", "  ", "--repo", str(app_repo)])
    assert result.exit_code == 2
    assert "request is empty" in result.stderr
    assert not messages(claude)


def test_not_a_git_repository(tmp_path, claude):
    result = runner.invoke(app, ["plan", REQUEST, "--repo", str(tmp_path)])
    assert result.exit_code == 1
    assert "git" in result.stderr.lower() and len(result.stderr.strip().splitlines()) == 1


def test_missing_key_is_one_line_with_advice(app_repo, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = plan(app_repo)
    assert result.exit_code == 2  # a configuration error, as the README says
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with Ledger.open(app_repo) as ledger:  # a call never sent is not a call
        assert ledger.calls() == []


def test_overloaded_api_is_one_line(app_repo, claude):
    claude.enqueue_fault("529", retry_after=0.01, times=3)
    result = plan(app_repo)
    assert result.exit_code == 1
    assert "overloaded" in result.stderr.lower()
    assert "Traceback" not in result.output


def test_status_and_spec_check_after_a_plan(app_repo, claude):
    claude.enqueue_json(planner_answer())
    plan_id = json.loads(plan(app_repo, "--json").stdout)["plan_id"]
    status = runner.invoke(app, ["status", "--repo", str(app_repo), "--json"])
    assert json.loads(status.stdout)["plans"][0]["plan_id"] == plan_id
    one = runner.invoke(app, ["status", plan_id[:8], "--repo", str(app_repo), "--json"])
    data = json.loads(one.stdout)
    assert [i["state"] for i in data["items"]] == ["planned"] * 5
    ok = runner.invoke(app, ["spec", "check", plan_id, "--repo", str(app_repo)])
    assert ok.exit_code == 0, ok.output

    # a human edit that breaks a dependency is caught, naming item and field
    spec_path = app_repo / ".hybrid" / "plans" / plan_id / "spec.json"
    spec = json.loads(spec_path.read_text())
    spec["items"][1]["depends_on"] = ["no-such-item"]
    spec_path.write_text(json.dumps(spec))
    bad = runner.invoke(app, ["spec", "check", plan_id, "--repo", str(app_repo), "--json"])
    assert bad.exit_code == 1
    issue = json.loads(bad.stdout)["issues"][0]
    assert issue["item"] == spec["items"][1]["id"] and issue["field"] == "depends_on"


def test_model_flag_plans_on_that_claude_model_and_the_floor_follows_it(app_repo, claude):
    """One Claude model by default (Sonnet); ``--model`` puts one request on another, and the
    planner call records the repository context the direct floor reads."""
    claude.enqueue_json(planner_answer())
    result = plan(app_repo, "--json", "--model", "claude-opus-5-5")
    assert result.exit_code == 0, result.output
    assert [m.json["model"] for m in messages(claude)] == ["claude-opus-5-5"]
    data = json.loads(result.stdout)
    assert data["planner_model"] == "claude-opus-5-5"
    with Ledger.open(app_repo) as ledger:
        call = ledger.calls(plan_id=data["plan_id"])[0]
    repo_map = (Path(data["path"]) / "repomap.md").read_text()
    # request + map (+ named sources) at 3.3 characters a token; never hybrid's instructions
    assert call.extra["context_tokens"] == int((len(REQUEST) + 1 + len(repo_map)) / 3.3)


def test_model_flag_refuses_what_is_not_claude(app_repo, claude):
    result = plan(app_repo, "--model", "qwen2.5-coder:32b")
    assert result.exit_code != 0 and "not a Claude model" in result.output
    assert messages(claude) == []


def test_plan_shows_the_delegation_decision_per_item_and_for_the_request(app_repo, claude):
    claude.enqueue_json(planner_answer())
    result = plan(app_repo)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # the request's one line: what is delegated and what it is expected to save
    assert "delegation: 3 of 5 items delegated to the local model" in text
    assert "expected to save ~$" in text
    log = json.loads(next((app_repo / ".hybrid" / "plans").glob("*/routing.json")).read_text())
    assert log["request"].startswith("3 of 5 items delegated")
    decisions = {d["item"]: d for d in log["decisions"]}
    store = decisions["ratelimit-store"]
    sizing = store["evidence"]["sizing"]
    assert sizing["acceptance"] == {"rate": 0.7, "accepted": 0, "uses": 0, "source": "prior"}
    assert sizing["code_tokens"] == 900  # the planner's estimate; the spec is measured
    assert sizing["pays"] == (sizing["saving_usd"] >= sizing["margin_usd"] > 0)
    assert "~900 code tokens vs a ~" in store["reason"]
