"""One full conductor loop over MCP, with the time of every tool call.

    python tests/bench/bench_mcp_loop.py            # prints the transcript and the timings
    python tests/bench/bench_mcp_loop.py --latency 0.5   # the fake local model answers slower

An agent (the `mcp` SDK's client over stdio, spawning `python -m hybridcode mcp` from this
interpreter) runs map → spec check → plan → implement → review prepare → review submit →
stats in a fresh sample repository, then the user's `hybrid commit` closes the loop. The local
model is FakeOllama behind the real `ollama` SDK (one item passes at once, one needs a second
attempt after its test output is fed back); tests run for real in the plan's worktree. The
figures are wall times of each call as the client sees them — start-up of the server, the
implement run (generation + pytest per attempt) and the review's checks dominate.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import anyio  # noqa: E402
from implement_helpers import Script, add_item, arith_tests, code, fn_item, make_project  # noqa: E402
from mcp_helpers import agent, approving_verdict, server_env, spec_data  # noqa: E402

from hybridcode.testing import FakeOllama  # noqa: E402


def _summary(answer) -> str:
    if answer.error:
        return answer.text
    d = answer.data or {}
    tool = answer.tool
    if tool == "repo_map":
        return f"{d['definitions']} definitions, {d['tokens_used']}/{d['tokens_budget']} tokens"
    if tool == "check_spec":
        return f"ok={d['ok']}, {len(d['issues'])} issue(s)"
    if tool == "create_plan":
        routes = ", ".join(f"{i['id']}→{i['route']} ({i['rule']})" for i in d["items"])
        return f"{d['plan_id']}: {routes}"
    if tool == "implement":
        items = ", ".join(f"{i['id']} {i['state']} in {i['attempts']}" for i in d["items"])
        return (f"{d['status']}: {items}; diff {len(d['diff']['text'])} chars; "
                f"{len(answer.progress)} progress notifications")
    if tool == "prepare_review":
        checks = " ".join(f"{c['name']}={'ok' if c['ok'] else 'FAIL'}" for c in d["checks"])
        return f"blocked={d['blocked']}; {checks}; {len(d['checklist'])} checklist entries"
    if tool == "submit_review":
        return f"{d['decision']} by {d['reviewer']}"
    if tool == "stats":
        e = d["agent_estimate"]
        return (f"{d['ledger']['totals']['local_calls']} local calls; estimated saving "
                f"${e['saving_usd']:.4f} (code {e['code_tokens']} tok vs spec "
                f"{e['spec_tokens']} tok at {e['model']})")
    return "ok"


async def loop(repo: Path, env: dict[str, str]) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    started = time.perf_counter()
    async with agent(repo, env) as a:
        rows.append(("(connect + initialize)", time.perf_counter() - started, "server up"))
        t = time.perf_counter()
        tools = (await a.session.list_tools()).tools
        rows.append(("list_tools", time.perf_counter() - t, f"{len(tools)} tools"))
        sub = fn_item("sub", "sub", arith_tests("calc.sub", "sub", [(5, 3, 2), (0, 4, -4)]))
        spec = spec_data("add and sub", [add_item(), sub])
        await a.call("repo_map", focus=["calc/ops.py"], tokens=1024)
        await a.call("check_spec", spec=spec)
        plan = await a.call("create_plan", spec=spec, request="add and sub",
                            architecture="## Design\nSmall pure functions in calc/.\n")
        plan_id = plan.data["plan_id"]
        await a.call("implement", plan=plan_id)
        packet = await a.call("prepare_review", plan=plan_id)
        await a.call("submit_review", plan=plan_id, diff_sha256=packet.data["diff_sha256"],
                     reviewer_model="claude-opus-4-5",
                     verdict=approving_verdict(packet.data["checklist"], ["add", "sub"]))
        await a.call("stats")
        rows += [(x.tool, x.seconds, _summary(x)) for x in a.transcript]
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hybridcode", "commit", plan_id], cwd=repo,
                         env=env, capture_output=True, text=True)
    rows.append(("hybrid commit (user)", time.perf_counter() - t,
                 (out.stdout or out.stderr).strip().splitlines()[0]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2,
                        help="seconds the fake local model takes per answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeOllama() as ollama:
        repo = make_project(Path(tmp) / "repo")
        ollama.responder = Script({"add": [code("add", "a + b")],
                                   "sub": [code("sub", "a + b"), code("sub", "a - b")]},
                                  delay=args.latency)
        home = Path(tmp) / "home"
        home.mkdir()
        total = time.perf_counter()
        rows = anyio.run(loop, repo, server_env(ollama.host, home))
        total = time.perf_counter() - total
    width = max(len(name) for name, _, _ in rows)
    print(f"MCP conductor loop (fake local model latency {args.latency:.2f} s)")
    for name, seconds, summary in rows:
        print(f"  {name:<{width}}  {seconds:7.2f} s  {summary}")
    print(f"  {'total':<{width}}  {total:7.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
