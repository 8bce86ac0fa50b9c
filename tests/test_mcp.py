"""`hybrid mcp` end to end: the `mcp` SDK's client over stdio, `python -m hybridcode mcp` in a
real git repository, the local model a FakeOllama behind the real `ollama` SDK, real pytest
runs in the plan's worktree, and the real `hybrid commit` gate at the end."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest
from gate_helpers import allow
from implement_helpers import (Script, add_item, arith_tests, code, fn_item, git, make_project,
                               user_tree, write_plan)
from mcp_helpers import agent, approving_verdict, server_env, spec_data

from hybridcode.testing import FakeOllama

TOOLS = {"repo_map", "check_spec", "create_plan", "implement", "prepare_review",
         "submit_review", "status", "stats"}


def sub_item():
    return fn_item("sub", "sub", arith_tests("calc.sub", "sub", [(5, 3, 2), (0, 4, -4)]))


def mul_item():
    return fn_item("mul", "mul", arith_tests("calc.mul", "mul", [(2, 3, 6), (0, 4, 0)]))


@pytest.fixture
def project(tmp_path, ssh_key):
    root = make_project(tmp_path / "repo")
    # Two attempts per rung keep the failing item short; nothing else is configured.
    (root / ".hybrid").mkdir()
    (root / ".hybrid" / "config.toml").write_text("attempts = 2\n")
    # Approvals are signed with the developer's key and trusted through allowed signers.
    git(root, "config", "user.signingkey", str(ssh_key))
    allow(root, ssh_key)
    return root


@pytest.fixture
def ollama():
    with FakeOllama() as fake:
        fake.responder = Script({"add": [code("add", "a + b")],
                                 "sub": [code("sub", "a + b")],  # always wrong
                                 "mul": [code("mul", "a * b")]})
        yield fake


@pytest.fixture
def env(ollama, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return server_env(ollama.host, home)


def hybrid(root, env, *args):
    return subprocess.run([sys.executable, "-m", "hybridcode", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_tools_have_schemas_and_descriptions(project, env):
    async def main():
        async with agent(project, env) as a:
            listed = (await a.session.list_tools()).tools
            assert a.session.instructions and "map" in a.session.instructions
            return listed

    tools = anyio.run(main)
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert len(tool.description or "") > 80, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
    schema = {t.name: t for t in tools}["create_plan"].input_schema
    assert "$ref" not in json.dumps(schema)  # self-contained: nothing for a client to resolve
    assert schema["properties"]["spec"]["properties"]["items"]["items"]["properties"]["signature"]


def test_full_loop_plan_implement_review_and_the_commit_gate(project, env, ollama):
    before = user_tree(project)

    async def main():
        async with agent(project, env) as a:
            mapped = await a.call("repo_map", focus=["calc/ops.py"], tokens=512)
            bad = await a.call("check_spec", spec={"title": "x", "items": [
                {**spec_data("x", [add_item()])["items"][0], "depends_on": ["nope"]}]})
            plan = await a.call("create_plan", spec=spec_data("calc", [add_item(), sub_item()]),
                                architecture="## Design\nSmall pure functions in calc/.\n",
                                request="add and sub")
            plan_id = plan.data["plan_id"]
            done = await a.call("implement", plan=plan_id)
            packet = await a.call("prepare_review", plan=plan_id)
            verdict = approving_verdict(packet.data["checklist"], ["add", "sub"])
            blocked = await a.call("submit_review", plan=plan_id, verdict=verdict,
                                   diff_sha256=packet.data["diff_sha256"])
            # A second plan whose only item passes: approved by the agent, committed by the user.
            plan2 = await a.call("create_plan", spec=spec_data("mul", [mul_item()]),
                                 architecture="## Design\nmul.\n", request="mul")
            plan2_id = plan2.data["plan_id"]
            done2 = await a.call("implement", plan=plan2_id)
            packet2 = await a.call("prepare_review", plan=plan2_id)
            status = await a.call("status", plan=plan2_id)
            return (mapped, bad, plan, done, packet, blocked, plan2_id, done2, packet2, status,
                    a)

    (mapped, bad, plan, done, packet, blocked, plan2_id, done2, packet2, status,
     a) = anyio.run(main)
    assert not mapped.error and "double" in mapped.data["map"]

    assert not bad.error and bad.data["ok"] is False
    assert any(i["item"] == "add" and i["field"] == "depends_on" for i in bad.data["issues"])

    assert not plan.error, plan.text
    plan_dir = project / ".hybrid" / "plans" / plan.data["plan_id"]
    for name in ("request.md", "architecture.md", "spec.json", "plan.md", "routing.json",
                 "meta.json"):
        assert (plan_dir / name).is_file(), name
    assert {i["id"]: i["route"] for i in plan.data["items"]} == {"add": "local", "sub": "local"}
    assert all(i["reason"] and i["rule"] for i in plan.data["items"])
    meta = json.loads((plan_dir / "meta.json").read_text())
    assert meta["planner_model"] == "agent:test-agent" and meta["cost_usd"] is None

    assert not done.error, done.text
    items = {i["id"]: i for i in done.data["items"]}
    assert items["add"]["state"] == "passed"
    assert items["sub"]["state"] == "failed" and items["sub"]["attempts"] == 2
    assert "assert" in items["sub"]["test_output"] and "sub" in items["sub"]["test_output"]
    assert done.data["status"] == "failed"
    assert "calc/add.py" in done.data["diff"]["files"]
    assert "return a + b" in done.data["diff"]["text"]
    assert not any("anthropic" in i["model"] for i in items.values())  # no Claude rung
    assert done.progress and done.progress[-1][0] == 2  # both items settled
    assert any("add: passed" in (m or "") for _, _, m in done.progress)

    # The failing item's acceptance tests are in the diff and fail: blocked, whatever the
    # agent says.
    assert packet.data["blocked"] is True
    assert blocked.data["decision"] == "blocked" and not blocked.data["approved"]
    refused = hybrid(project, env, "commit", plan.data["plan_id"])
    assert refused.returncode == 1 and "no signed approval" in refused.stderr

    assert done2.data["status"] == "implemented"
    assert packet2.data["blocked"] is False
    assert [c["id"] for c in packet2.data["checklist"]][0] == "matches-spec"
    assert packet2.data["spec_items"][0]["id"] == "mul"
    assert "def mul" in packet2.data["diff"]["text"]
    assert status.data["plan"]["status"] == "implemented"

    # Before the approval, the gate refuses the commit.
    early = hybrid(project, env, "commit", plan2_id)
    assert early.returncode == 1 and "no signed approval" in early.stderr

    async def review():
        async with agent(project, env) as a:
            wrong = await a.call("submit_review", plan=plan2_id, diff_sha256="0" * 64,
                                 verdict=approving_verdict(packet2.data["checklist"], ["mul"]))
            lazy = approving_verdict(packet2.data["checklist"], ["mul"])
            lazy["checklist"][1]["passed"] = False  # an "approve" its own reasoning contradicts
            contradicted = await a.call("submit_review", plan=plan2_id, verdict=lazy,
                                        diff_sha256=packet2.data["diff_sha256"])
            approved = await a.call("submit_review", plan=plan2_id,
                                    diff_sha256=packet2.data["diff_sha256"],
                                    reviewer_model="claude-opus-4-5",
                                    verdict=approving_verdict(packet2.data["checklist"],
                                                              ["mul"]))
            stats = await a.call("stats")
            return wrong, contradicted, approved, stats

    wrong, contradicted, approved, stats = anyio.run(review)
    assert wrong.error and wrong.text.startswith("Error: the diff of plan")
    assert "prepare the review again" in wrong.text and "\n" not in wrong.text
    assert contradicted.data["decision"] == "changes_requested"
    assert "edge-cases" in contradicted.data["notes"][0]
    assert approved.data["decision"] == "approved", approved.text
    assert approved.data["reviewer"] == "agent:test-agent/claude-opus-4-5"

    estimate = stats.data["agent_estimate"]
    assert estimate["estimated"] is True and estimate["plans"] == 2
    assert estimate["code_tokens"] > 0 and estimate["spec_tokens"] > 0
    assert stats.data["ledger"]["totals"]["local_calls"] >= 4

    # The user's `hybrid stats` shows the same estimate, labelled as one.
    shown = hybrid(project, env, "stats")
    assert shown.returncode == 0, shown.stderr
    as_json = json.loads(hybrid(project, env, "stats", "--json").stdout)
    assert as_json["agent_estimate"] == {**estimate, "estimated": True}
    saving = estimate["saving_usd"]  # a loss is worded as one, never as a negative saving
    worded = (f"estimated to cost ${-saving:.4f} more than" if saving < 0
              else f"estimated saving ${saving:.4f} against")
    assert f"plans a coding agent wrote over MCP (2): {worded} Claude" in " ".join(
        shown.stdout.split())

    committed = hybrid(project, env, "commit", plan2_id, "--json")
    assert committed.returncode == 0, committed.stderr
    result = json.loads(committed.stdout)
    assert result["reviewer_model"] == "agent:test-agent/claude-opus-4-5"
    body = git(project, "log", "-1", "--format=%B", f"hybrid/{plan2_id}")
    assert f"approved {packet2.data['diff_sha256']} by agent:test-agent" in body
    assert "Hybrid-Signature: " in body and result["signer"] == "t@example.com"
    assert user_tree(project) == before  # the user's tree was never touched


def test_errors_are_one_line_results_and_the_server_lives_on(project, env):
    async def main():
        async with agent(project, env) as a:
            none = await a.call("implement", plan="nope")
            no_review = await a.call("prepare_review")
            invalid = await a.call("create_plan", spec={"title": "x", "items": [
                {"id": "Bad Id", "title": "t", "kind": "function", "file": "calc/x.py",
                 "action": "create", "description": "d"}]}, architecture="a")
            both = await a.call("check_spec")
            typed = await a.call("implement", parallel=0)
            alive = await a.call("status")
            return none, no_review, invalid, both, typed, alive

    none, no_review, invalid, both, typed, alive = anyio.run(main)
    assert typed.text.startswith("Error: invalid arguments for implement: parallel: ")
    for answer in (none, no_review, invalid, both, typed):
        assert answer.error and answer.text.startswith("Error: ") and " — " in answer.text
        assert "\n" not in answer.text and "Traceback" not in answer.text
    assert "no plan" in none.text or "no plans" in none.text
    assert 'the spec is invalid: item #1 field "id": must be a short slug' in invalid.text
    assert not alive.error and alive.data["plans"] == []
    assert not (project / ".hybrid" / "plans").exists()  # an invalid spec writes nothing


def test_verdict_is_held_to_the_reviewers_schema(project, env):
    async def main():
        async with agent(project, env) as a:
            plan = await a.call("create_plan", spec=spec_data("mul", [mul_item()]),
                                architecture="## mul", request="mul")
            await a.call("implement", plan=plan.data["plan_id"])
            packet = await a.call("prepare_review")
            verdict = approving_verdict(packet.data["checklist"], ["mul"])
            del verdict["checklist"][0]["reasoning"]
            bad = await a.call("submit_review", verdict=verdict,
                               diff_sha256=packet.data["diff_sha256"])
            stranger = approving_verdict(packet.data["checklist"], ["mul", "ghost"])
            ghost = await a.call("submit_review", verdict=stranger,
                                 diff_sha256=packet.data["diff_sha256"])
            return bad, ghost

    bad, ghost = anyio.run(main)
    assert bad.error and "checklist.0.reasoning" in bad.text and "verdict_schema" in bad.text
    assert ghost.error and "'ghost'" in ghost.text


def test_two_clients_on_one_plan_get_the_plan_locks_answer(project, env, ollama):
    ollama.responder = Script({"mul": [code("mul", "a * b")]}, delay=2.0)

    async def main():
        async with agent(project, env) as a, agent(project, env) as b:
            plan = await a.call("create_plan", spec=spec_data("mul", [mul_item()]),
                                architecture="## mul", request="mul")
            plan_id = plan.data["plan_id"]
            results = {}

            async def first():
                results["a"] = await a.call("implement", plan=plan_id)

            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                for _ in range(100):  # until A's run holds the plan
                    await anyio.sleep(0.1)
                    state = await b.call("status", plan=plan_id)
                    if state.data["plan"]["status"] == "implementing":
                        break
                results["b"] = await b.call("implement", plan=plan_id, resume=True)
            return results["a"], results["b"]

    first, second = anyio.run(main)
    assert not first.error and first.data["status"] == "implemented"
    assert second.error and "another hybrid implement is running on plan" in second.text


def test_some_items_only(project, env):
    async def main():
        async with agent(project, env) as a:
            plan = await a.call("create_plan", spec=spec_data("calc", [add_item(), mul_item()]),
                                architecture="## calc", request="calc")
            first = await a.call("implement", plan=plan.data["plan_id"], items=["mul"])
            rest = await a.call("implement", plan=plan.data["plan_id"], items=["add"])
            typo = await a.call("implement", plan=plan.data["plan_id"], items=["ad"])
            return first, rest, typo

    first, rest, typo = anyio.run(main)
    assert typo.error and "has no item 'ad' to implement" in typo.text and "add, mul" in typo.text
    assert {i["id"]: i["state"] for i in first.data["items"]} == {"add": "not_selected",
                                                                  "mul": "passed"}
    assert {i["id"]: i["state"] for i in rest.data["items"]} == {"add": "passed",
                                                                 "mul": "passed"}
    assert rest.data["status"] == "implemented"


def test_a_long_implement_can_be_cancelled_and_resumed(project, env, ollama):
    ollama.responder = Script({"mul": [code("mul", "a * b")]}, delay=3.0)

    async def main():
        async with agent(project, env) as a:
            plan = await a.call("create_plan", spec=spec_data("mul", [mul_item()]),
                                architecture="## mul", request="mul")
            plan_id = plan.data["plan_id"]
            with anyio.move_on_after(1.0) as scope:
                await a.call("implement", plan=plan_id)
            assert scope.cancelled_caught
            # The cancelled run let go of the plan: its state is saved, the lock released.
            for _ in range(100):
                state = await a.call("status", plan=plan_id)
                if state.data["plan"]["status"] == "interrupted":
                    break
                await anyio.sleep(0.1)
            again = await a.call("implement", plan=plan_id, resume=True)
            return state, again

    state, again = anyio.run(main)
    assert state.data["plan"]["status"] == "interrupted"
    assert not again.error and again.data["status"] == "implemented"


def test_hybrid_help_does_not_import_the_sdk(project, env):
    probe = ("import sys\nfrom hybridcode.cli.app import main\nsys.argv = ['hybrid', '--help']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('SDK', sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, timeout=60)
    assert "  mcp  " in out.stdout or "\n  mcp" in out.stdout  # the command is listed
    assert out.stdout.rstrip().endswith("SDK []")


def test_hybrid_mcp_outside_a_repository_is_one_line(tmp_path, env):
    out = hybrid(tmp_path, env, "mcp")
    assert out.returncode != 0 and out.stderr.startswith("Error: ")
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_secret_in_generated_code_never_leaves_in_a_diff(project, env, ollama):
    leaky = ("```python\ndef mul(a: int, b: int) -> int:\n"
             "    key = \"AKIAZ3MHQWERTYUIOPAS\"\n    return a * b\n```\n")
    ollama.responder = Script({"mul": [leaky]})

    async def main():
        async with agent(project, env) as a:
            plan = await a.call("create_plan", spec=spec_data("mul", [mul_item()]),
                                architecture="## mul", request="mul")
            done = await a.call("implement", plan=plan.data["plan_id"])
            packet = await a.call("prepare_review")
            return done, packet

    done, packet = anyio.run(main)
    assert done.data["items"][0]["state"] == "passed"
    for diff in (done.data["diff"], packet.data["diff"]):
        assert diff["text"] == "" and "secret" in diff["withheld"]
    assert "AKIAZ3MHQWERTYUIOPAS" not in done.text + packet.text
    assert packet.data["blocked"] is True


def test_the_default_ladders_claude_rung_is_left_out_a_configured_one_kept(project):
    from hybridcode.mcp_server.implement import agent_settings

    settings, notes = agent_settings(project)
    assert [m.backend for m in settings.tiers.implementer] == ["ollama"] and notes
    (project / ".hybrid" / "config.toml").write_text(
        'attempts = 2\n[[tiers.implementer]]\nbackend = "ollama"\nmodel = "qwen2.5-coder:7b"\n'
        '[[tiers.implementer]]\nbackend = "anthropic"\nmodel = "claude-sonnet-5-5"\n')
    settings, notes = agent_settings(project)
    assert [m.backend for m in settings.tiers.implementer] == ["ollama", "anthropic"]
    assert notes == []


def test_answers_leave_through_the_door_diff_context_and_test_output(project, env, ollama):
    """What the agent's model reads is vetted like every request hybrid sends itself: a secret
    in an unchanged line around the change, and the env value a failing test printed."""
    password, context_secret = "pg-Secr3t-9f2c", "Zq8-hunter2-Pr0d"  # pragma: allowlist secret
    (project / "calc" / "conf.py").write_text(
        f'def name() -> str:\n    return "calc"\n\n\nDB_PASSWORD = "{context_secret}"\n')
    (project / "calc" / "db.txt").write_text(password + "\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "conf")
    env = {**env, "DB_PASSWORD": password}
    div = fn_item("div", "div", arith_tests("calc.conf", "div", [(6, 3, 2)]), file="calc/conf.py")
    leak = fn_item("leak", "leak", arith_tests("calc.leak", "leak", [(1, 1, 2)]))
    leaky = ("```python\ndef leak(a: int, b: int) -> int:\n"
             "    raise RuntimeError(open(__file__[:-7] + 'db.txt').read())\n```\n")
    ollama.responder = Script({"div": [code("div", "a // b")], "leak": [leaky]})

    async def main():
        async with agent(project, env) as a:
            plan = await a.call("create_plan", spec=spec_data("div", [div, leak]),
                                architecture="## div", request="div")
            done = await a.call("implement", plan=plan.data["plan_id"])
            packet = await a.call("prepare_review")
            return done, packet

    done, packet = anyio.run(main)
    states = {i["id"]: i for i in done.data["items"]}
    assert states["div"]["state"] == "passed" and states["leak"]["state"] == "failed"
    assert states["leak"]["test_output"]
    assert "def div(" in packet.data["diff"]["text"]
    assert '"[REDACTED:secret-keyword]"' in packet.data["diff"]["text"]
    for answer in (done, packet):
        assert password not in answer.text and context_secret not in answer.text
        assert password not in json.dumps(answer.data)
        assert context_secret not in json.dumps(answer.data)


def test_tool_descriptions_arguments_and_advice_speak_to_the_agent(project, env):
    async def main():
        async with agent(project, env) as a:
            tools = {t.name: t for t in (await a.session.list_tools()).tools}
            missing = await a.call("submit_review")
            unknown = await a.call("status", plan_id="p1", verbose=True)
            no_plans = await a.call("implement")
            write_plan(project, [add_item()])
            no_such = await a.call("status", plan="nope")
            return tools, missing, unknown, no_plans, no_such

    tools, missing, unknown, no_plans, no_such = anyio.run(main)
    for tool in tools.values():
        lines = tool.description.splitlines()
        assert not any(line.startswith(" ") for line in lines), tool.name  # dedented
        assert tool.input_schema.get("additionalProperties") is False, tool.name
    status_plan = tools["status"].input_schema["properties"]["plan"]["description"]
    assert "omit to list every plan" in status_plan and "newest" not in status_plan
    assert missing.error and "diff_sha256: Field required" in missing.text
    assert "verdict: Field required" in missing.text and "more)" not in missing.text
    assert unknown.error and "unknown arguments plan_id, verbose" in unknown.text
    assert "\n" not in unknown.text and "(it takes: plan)" in unknown.text
    assert no_plans.error and "create_plan tool" in no_plans.text and "hybrid " not in no_plans.text
    assert no_such.error and "status tool" in no_such.text and "hybrid status" not in no_such.text
