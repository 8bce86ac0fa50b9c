"""A plan mixing a test item, a doc item and a look-alike item with an ordinary item runs end to
end — plan, implement, review, commit — over MCP: the `mcp` SDK's client against `python -m
hybridcode mcp` in a real git repository, the local model a FakeOllama behind the real `ollama`
SDK, the judge in the sandbox, and the real `hybrid commit` gate."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest
from gate_helpers import allow
from implement_helpers import Script, add_item, code, git, make_project, user_tree
from mcp_helpers import agent, approving_verdict, server_env, spec_data
from test_routine_items import (CLAMP, DOCUMENTED, GOOD_TESTS, VACUOUS_TESTS, doc_item, fenced,
                                like_item, unit_tests_item)
from toolchains import need_bwrap

from hybridcode.testing import FakeOllama

TRIPLE = "```python\ndef triple(x: int) -> int:\n    return 3 * x\n```\n"


@pytest.fixture
def project(tmp_path, ssh_key):
    need_bwrap()
    root = make_project(tmp_path / "repo")
    (root / "calc" / "clamp.py").write_text(CLAMP)
    (root / ".hybrid").mkdir()
    (root / ".hybrid" / "config.toml").write_text("attempts = 2\n")
    git(root, "add", "calc/clamp.py")
    git(root, "commit", "-q", "-m", "clamp")
    git(root, "config", "user.signingkey", str(ssh_key))
    allow(root, ssh_key)
    return root


def hybrid(root, env, *args):
    return subprocess.run([sys.executable, "-m", "hybridcode", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_plan_of_test_doc_look_alike_and_ordinary_items_reaches_a_commit(project, tmp_path):
    before = user_tree(project)
    items = [add_item(), unit_tests_item(), doc_item(), like_item()]
    # The doc item changes the file the test item tests: it runs first, so the tests are
    # judged against the documented (identical) code.
    items[1] = items[1].model_copy(update={"depends_on": ["clamp-doc"]})
    script = Script({"add": [code("add", "a + b")],
                     "clamp-tests": [fenced(VACUOUS_TESTS), fenced(GOOD_TESTS)],
                     "clamp-doc": [fenced(DOCUMENTED)], "triple": [TRIPLE]})
    home = tmp_path / "home"
    home.mkdir()
    with FakeOllama() as ollama:
        ollama.responder = script
        env = server_env(ollama.host, home)

        async def main():
            async with agent(project, env) as a:
                plan = await a.call("create_plan", spec=spec_data("routine", items),
                                    architecture="## Design\nclamp gets tests and a docstring; "
                                    "triple follows double.\n", request="routine work")
                plan_id = plan.data["plan_id"]
                done = await a.call("implement", plan=plan_id)
                packet = await a.call("prepare_review", plan=plan_id)
                ids = [i["id"] for i in packet.data["spec_items"]]
                approved = await a.call("submit_review", plan=plan_id,
                                        diff_sha256=packet.data["diff_sha256"],
                                        verdict=approving_verdict(packet.data["checklist"], ids))
                return plan, done, packet, approved

        plan, done, packet, approved = anyio.run(main)
    assert not plan.error, plan.text
    routes = {i["id"]: (i["route"], i["rule"]) for i in plan.data["items"]}
    assert routes["clamp-tests"][0] == routes["clamp-doc"][0] == "local"
    assert routes["triple"] == ("local", "look-alike")
    assert not done.error, done.text
    assert done.data["status"] == "implemented", done.text
    states = {i["id"]: (i["state"], i["attempts"]) for i in done.data["items"]}
    assert states == {"add": ("passed", 1), "clamp-tests": ("passed", 2),
                      "clamp-doc": ("passed", 1), "triple": ("passed", 1)}
    assert script.count("clamp-tests") == 2
    assert "no test failed" in script.seen["clamp-tests"][1]  # the survivors went back
    assert packet.data["blocked"] is False, packet.text
    files = set(done.data["diff"]["files"])
    assert {"tests/test_clamp.py", "calc/clamp.py", "calc/ops.py", "calc/add.py"} <= files
    assert approved.data["decision"] == "approved", approved.text

    plan_id = plan.data["plan_id"]
    committed = hybrid(project, env, "commit", plan_id, "--json")
    assert committed.returncode == 0, committed.stderr
    shown = git(project, "show", "--stat", f"hybrid/{plan_id}")
    assert "tests/test_clamp.py" in shown and "calc/clamp.py" in shown
    assert user_tree(project) == before

    stats = json.loads(hybrid(project, env, "stats", "--by", "kind", "--json").stdout)
    kinds = {k["kind"]: k for k in stats["kinds"]}
    assert kinds["test/test"]["items"] == 1 and kinds["docstring/doc"]["items"] == 1
    # Acceptance and saving per kind: reviewed good, paid nothing, Claude would have cost.
    assert kinds["test/test"]["acceptance_rate"] == kinds["docstring/doc"]["acceptance_rate"] == 1
    spend = {g["key"]: g for g in stats["groups"]}
    for key in ("test/test", "docstring/doc"):
        assert spend[key]["cost_usd"] == 0 and spend[key]["counterfactual_usd"] > 0
        assert spend[key]["local_calls"] == spend[key]["calls"]
