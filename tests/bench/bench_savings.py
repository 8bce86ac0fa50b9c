"""Where the demo's Claude money goes, and how far a cheaper spec alone can take the saving.

    python tests/bench/bench_savings.py

Runs ``hybrid demo --json`` (offline, the recorded sample responses, usage derived from the
real prompts and answers) and reads its ledger figures:

- spend per tier — planner, reviewer, Claude implementer rungs — and what the local calls
  would have cost on Claude (the all-Claude counterfactual, "(a)");
- the saving against (a) and against Claude implementing the request directly ("(b)");
- the *ceiling* of the saving against (a): planning and review run on Claude in both, so
  saving = local work priced on Claude / (a). Even a spec of zero output tokens leaves the
  planner's input and the review, and the ceiling is printed for that case;
- an estimate (labelled so) of how many more routine local items like the demo's a plan would
  need for the saving against (a) to reach 50%, each adding its share of local work, of spec
  and of reviewed code at the demo's own averages.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys


def demo_figures() -> dict:
    proc = subprocess.run([sys.executable, "-m", "hybridcode", "demo", "--json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"hybrid demo failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def main() -> None:
    from hybridcode.config import DEFAULT_PRICES

    figures = demo_figures()
    stats = figures["stats"]
    tiers = {g["key"]: g for g in stats["by_tier"]}
    planner, reviewer, impl = tiers["planner"], tiers["reviewer"], tiers["implementer"]
    planner_model = figures["review"]["reviewer_model"]  # the demo plans and reviews on one model
    out_price = DEFAULT_PRICES[planner_model]["output"] / 1e6
    plan_usd, review_usd = planner["cost_usd"], reviewer["cost_usd"]
    claude_impl = impl["cost_usd"]  # local calls cost $0: this is the Claude rungs
    local_worth = impl["counterfactual_usd"] - impl["cost_usd"]
    a_usd = stats["counterfactual"]["counterfactual_usd"]
    actual = stats["totals"]["cost_usd"]
    direct = stats["direct"]["direct_usd"]

    print("demo ledger (sample responses; usage from the real prompt and answer sizes)")
    print(f"  planner      {planner['output_tokens']:>6} output tokens  ${plan_usd:.4f}")
    print(f"  implementers {impl['output_tokens']:>6} output tokens  ${claude_impl:.4f} "
          f"(Claude rungs; the local calls would cost ${local_worth:.4f} on Claude)")
    print(f"  reviewer     {reviewer['output_tokens']:>6} output tokens  ${review_usd:.4f}")
    print(f"  total ${actual:.4f}; (a) same pipeline on Claude ${a_usd:.4f}: saved "
          f"{100 * (a_usd - actual) / a_usd:.1f}%; (b) Claude directly ${direct:.4f}: saved "
          f"{100 * (direct - actual) / direct:.1f}%")
    cache = stats["cache"]
    print(f"  cache reads {cache['cache_read_tokens']} of {cache['input_tokens']} Claude input "
          f"tokens ({100 * cache['hit_rate']:.0f}%)")

    spec_usd = planner["output_tokens"] * out_price
    fixed = plan_usd - spec_usd + review_usd + claude_impl
    print("\nceiling of the saving against (a) = local work on Claude / (a)")
    print(f"  as recorded:                      {100 * local_worth / a_usd:.1f}%")
    print(f"  with a spec of 0 output tokens:   "
          f"{100 * local_worth / (local_worth + fixed):.1f}% (planner input ${plan_usd - spec_usd:.4f}"
          f" + review ${review_usd:.4f} + Claude rungs ${claude_impl:.4f} remain)")

    items = figures["items"]
    local_items = [i for i in items if i["route"] == "local"]
    per_item_local = local_worth / max(1, len(local_items))
    per_item_spec = spec_usd / max(1, len(items))
    code_tokens = stats["direct"]["output_tokens"]
    review_in_price = DEFAULT_PRICES[planner_model]["input"] / 1e6
    per_item_review = code_tokens * review_in_price / max(1, len(items))
    gain = per_item_local - per_item_spec - per_item_review
    need = plan_usd + review_usd + claude_impl - local_worth  # local worth must reach the rest
    print("\nestimate: more routine local items like the demo's for 50% against (a)")
    print(f"  each adds ~${per_item_local:.4f} of local work (on Claude), ~${per_item_spec:.4f} "
          f"of spec and ~${per_item_review:.4f} of review")
    more = math.ceil(need / gain) if gain > 0 else None
    if more is None or more > 50:
        print(f"  each gains ${max(gain, 0):.4f}: no plan of a realistic size gets there while a "
              "routine item's spec costs about what Claude writing its code would")
    else:
        print(f"  about {max(0, more)} more (the demo has {len(items)} items, "
              f"{len(local_items)} of them local)")
    # The same estimate with the spec of each local item at a quarter of its local work.
    quarter = per_item_local - per_item_local / 4 - per_item_review
    print(f"  with specs at a quarter of the local work they replace: about "
          f"{max(0, math.ceil(need / quarter))} more")


if __name__ == "__main__":
    main()
