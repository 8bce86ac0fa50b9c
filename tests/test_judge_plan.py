"""The planner is told the repository's test runners, the spec records the runner of each
item's tests, and `hybrid doctor` reports the toolchains of the repository's languages."""

from __future__ import annotations

import json

from judge_projects import GO_TESTS, TS_TESTS, go_item, make_go_project, make_ts_project, ts_item
from toolchains import need_go
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.spec import load_spec

runner = CliRunner()


def planner_answer(item) -> dict:
    data = item.model_dump(exclude={"route", "route_reason", "route_overridden", "tests"})
    data["symbol"] = data["symbol"] or ""
    for key in ("mutation_score", "doc_style", "allow", "sizing"):  # not the planner's to set
        data.pop(key, None)
    # The planner sizes each item first: long code behind a short spec (delegating pays).
    data["code_tokens"], data["spec_tokens"] = 900, 150
    data["under_test"], data["like"] = data["under_test"] or "", data["like"] or ""
    data["tests"] = {"code": item.tests.code, "path": ""}
    # The planner answers in spec version 2: risk names, no examples to run, no code.
    data["risk"] = [name for name, raised in data.get("risk", {}).items() if raised]
    data["examples"], data["example_setup"], data["code"] = [], "", ""
    return {"architecture_note": "## Design\nOne function.",
            "spec": {"title": "slugs", "summary": "Add a slug function.", "items": [data]}}


def plan(root, claude, item):
    claude.enqueue_json(planner_answer(item))
    result = runner.invoke(app, ["plan", "Add a slug function", "--repo", str(root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sent = claude.requests[-1].json
    # The runners go in the planner's own message; the instructions in the shared prefix.
    system = json.dumps([sent["system"], sent["messages"]], ensure_ascii=False)
    return load_spec(root / ".hybrid" / "plans" / data["plan_id"] / "spec.json"), system


def test_go_plan_records_go_test_and_tells_the_planner(tmp_path, claude):
    root = make_go_project(tmp_path / "shop")
    spec, system = plan(root, claude, go_item())
    item = spec.items[0]
    assert item.tests.runner == "go" and item.tests.path is None
    assert item.test_path == "textutil/hybrid_slug_test.go"
    assert "## Test runners" in system and "Go (module example.com/shop, go 1.19)" in system
    assert "func TestXxx(t *testing.T)" in system
    assert item.tests.code == GO_TESTS


def test_ts_plan_records_vitest(tmp_path, claude):
    modules = tmp_path / "fake-node-modules"  # detection reads package.json only
    modules.mkdir()
    root = make_ts_project(tmp_path / "shop", modules)
    spec, system = plan(root, claude, ts_item())
    item = spec.items[0]
    assert item.tests.runner == "vitest" and item.test_path == "src/slug.hybrid.test.ts"
    assert "TypeScript → vitest" in system and "tsc --noEmit" in system
    assert item.tests.code == TS_TESTS


def test_python_only_repository_gets_no_runner_section(tmp_path, claude):
    from plan_helpers import make_app_repo
    from plan_helpers import planner_answer as python_answer

    root = make_app_repo(tmp_path / "app")
    claude.enqueue_json(python_answer())
    result = runner.invoke(app, ["plan", "Add rate limiting", "--repo", str(root), "--json"])
    assert result.exit_code == 0, result.output
    sent = claude.requests[-1].json
    assert "## Test runners" not in json.dumps([sent["system"], sent["messages"]])
    spec = load_spec(root / ".hybrid" / "plans" / json.loads(result.stdout)["plan_id"]
                     / "spec.json")
    assert {i.tests.runner for i in spec.items if i.tests} == {"pytest"}


def test_doctor_reports_the_toolchains_of_the_repositorys_languages(tmp_path, monkeypatch):
    need_go()
    root = make_go_project(tmp_path / "shop")
    (root / "web").mkdir()
    (root / "web" / "package.json").write_text('{"devDependencies": {"jest": "29"}}')
    (root / "web" / "sum.js").write_text("module.exports = (a, b) => a + b;\n")
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    go = checks["Go toolchain"]
    assert go["ok"] and "go version go1" in go["detail"] and "go test -json" in go["detail"]
    js = checks["JavaScript tests"]
    # package.json names jest, but nothing is installed: reported, with what to do.
    assert not js["ok"] and "web/ uses jest but it is not installed" in js["detail"]
    assert js["required"] is False and "Python tests" not in checks
