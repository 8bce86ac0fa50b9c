"""Spec-to-code token ratio on the bundled bench suite: what specifying each task costs in
planner output against the code it replaces (the task's reference solution).

    python tests/bench/bench_spec_ratio.py

Two specs per task: as the bench hands it to the implementer (examples and the hand-written
acceptance_test.py as test code), and the version 2 form, where the examples alone are the
acceptance tests (the tool generates them at zero tokens) and no test code is written. Tokens
are hybridcode.models.base.estimate_tokens (3 characters a token) for both sides.
"""

from __future__ import annotations

from hybridcode.bench import load_suite
from hybridcode.bench.suite import task_spec
from hybridcode.models.base import estimate_tokens


def main() -> None:
    rows = []
    for task in load_suite():
        item = task_spec(task).items[0]
        compact = item.model_copy(update={"tests": None})
        code = estimate_tokens(task.reference_path.read_text(encoding="utf-8"))
        rows.append((task.id, item.spec_size(), compact.spec_size(), code))
    print(f"{'task':22} {'spec+tests':>10} {'spec v2':>8} {'code':>6} {'ratio':>6} {'v2':>6}")
    for task_id, full, compact, code in rows:
        print(f"{task_id:22} {full:>10} {compact:>8} {code:>6} {full / code:>6.2f} "
              f"{compact / code:>6.2f}")
    full = sum(r[1] for r in rows)
    compact = sum(r[2] for r in rows)
    code = sum(r[3] for r in rows)
    print(f"{'all ' + str(len(rows)) + ' tasks':22} {full:>10} {compact:>8} {code:>6} "
          f"{full / code:>6.2f} {compact / code:>6.2f}")


if __name__ == "__main__":
    main()
