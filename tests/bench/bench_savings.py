"""Where the demo's Claude money goes, against the direct floor and the all-Claude pipeline.

    python tests/bench/bench_savings.py [--scenario NAME ...]

Runs ``hybrid demo --json --scenario NAME`` for every demo scenario (or the ones named;
offline, the recorded sample responses, usage derived from the real prompts and answers) and
prints, under a heading per scenario, from its ledger:

- spend per tier — planner, Claude implementer rungs, reviewer — with output tokens;
- the direct floor (b): Claude implementing the request itself (docs/costs.md), its input and
  output tokens, and hybrid's spend as a multiple of it, with escalations of local items apart;
- the same pipeline all on Claude (a);
- the figures issue 21 judges by: cache reads as a share of Claude input, the planner's output
  tokens against the output tokens of the code the local model wrote;
- what hybrid pays above the floor, line by line: the planner's input beyond the repository
  context (hybrid's instructions and schema, written to the cache), the planner's output
  beyond the diff the floor writes, Claude rungs, and the review's difference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _hybrid(*args: str, cwd: str | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-m", "hybridcode", *args, "--json"], cwd=cwd,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"hybrid {args[0]} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def demo_figures(*args: str) -> dict:
    """``hybrid demo --json`` in a kept repository, with its spend by model (which tells the
    local model's calls from the Claude rungs': both are the implementer tier)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-savings-") as tmp:
        repo = f"{tmp}/repo"
        figures = _hybrid("demo", "--keep", repo, *args)
        figures["by_model"] = _hybrid("stats", "--by", "model", cwd=repo)["groups"]
    return figures


def report(figures: dict) -> None:
    from hybridcode.config import DEFAULT_PRICES

    stats = figures["stats"]
    tiers = {g["key"]: g for g in stats["by_tier"]}
    none = {"cost_usd": 0.0, "output_tokens": 0, "input_tokens": 0, "cache_write_tokens": 0,
            "cache_read_tokens": 0, "counterfactual_usd": 0.0}
    planner, reviewer = tiers["planner"], tiers["reviewer"]
    impl = tiers.get("implementer", none)
    direct, cache = stats["direct"], stats["cache"]
    model = direct["model"]
    price = DEFAULT_PRICES[model]
    actual = stats["totals"]["cost_usd"]
    local_out = sum(g["output_tokens"] for g in figures["by_model"]
                    if g["calls"] and g["local_calls"] == g["calls"])
    items = figures["items"]
    routes = {r: sum(1 for i in items if i["route"] == r) for r in ("local", "claude", "plan")}
    print(f"items: {len(items)} — {routes['local']} delegated to the local model, "
          f"{routes['plan']} written in the plan, {routes['claude']} for a Claude rung")
    print(f"  planner      {planner['output_tokens']:>6} output tokens  ${planner['cost_usd']:.4f}")
    rungs_out = (impl["output_tokens"] if impl is not none else 0) - local_out
    print(f"  Claude rungs {rungs_out:>6} output tokens  ${impl['cost_usd']:.4f}")
    print(f"  reviewer     {reviewer['output_tokens']:>6} output tokens  "
          f"${reviewer['cost_usd']:.4f}")
    print(f"  total ${actual:.4f}")
    print(f"direct floor on {model}: ${direct['direct_usd']:.4f} (context "
          f"{direct['input_tokens']:,} in, diff {direct['output_tokens']:,} out, review "
          f"${direct['review_usd']:.4f}); hybrid spent {direct['ratio']:.2f}× the floor, "
          f"{direct['ratio_without_escalations']:.2f}× without escalations "
          f"(${direct['escalation_usd']:.4f})")
    cf = stats["counterfactual"]
    print(f"same pipeline all on Claude: ${cf['counterfactual_usd']:.4f} "
          f"(saved {cf['saving_pct'] or 0:.1f}%)")
    share = cache["cache_read_tokens"] / cache["input_tokens"] if cache["input_tokens"] else 0
    print(f"cache reads {cache['cache_read_tokens']:,} of {cache['input_tokens']:,} Claude input "
          f"tokens ({share:.0%})")
    if local_out > 0:
        print(f"planner output {planner['output_tokens']:,} tokens = "
              f"{planner['output_tokens'] / local_out:.2f}× the local model's "
              f"{local_out:,} output tokens")
    else:
        print("the local model wrote nothing: no spec paid for itself")
    inp, out = price["input"] / 1e6, price["output"] / 1e6
    print("above the floor:")
    prompt_usd = planner["cost_usd"] - planner["output_tokens"] * out - direct["input_tokens"] * inp
    print(f"  planner input beyond the repository context (instructions, schema, cache "
          f"write)  ${prompt_usd:+.4f}")
    print(f"  planner output beyond the diff the floor writes "
          f"({planner['output_tokens'] - direct['output_tokens']:+,} tokens)  "
          f"${(planner['output_tokens'] - direct['output_tokens']) * out:+.4f}")
    print(f"  Claude rungs (escalations ${direct['escalation_usd']:.4f})  "
          f"${impl['cost_usd']:+.4f}")
    print(f"  review: the same in both  $+0.0000")
    print(f"  = ${actual - direct['direct_usd']:+.4f}")
    # What no spec format can cut: the planner's prompt and the review are paid whatever the
    # planner writes. A planner that wrote nothing at all would still spend this much.
    fixed = planner["cost_usd"] - planner["output_tokens"] * out + reviewer["cost_usd"]
    print(f"lowest reachable with this prompt and review (a planner writing nothing): "
          f"${fixed:.4f} = {fixed / direct['direct_usd']:.2f}× the floor")


def main() -> None:
    from hybridcode.demo import DEFAULT_SCENARIO, scenarios

    known = [s.name for s in scenarios()]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=known, metavar="NAME",
                        help=f"a scenario to run (repeatable; default: all of {', '.join(known)})")
    names = parser.parse_args().scenario or known
    print("hybrid demo (sample responses; usage from the real prompt and answer sizes)")
    for scenario in (s for s in scenarios() if s.name in names):
        default = " (the default)" if scenario.name == DEFAULT_SCENARIO else ""
        print(f"\n## {scenario.name}{default}: {scenario.title}")
        report(demo_figures("--scenario", scenario.name))


if __name__ == "__main__":
    main()
