"""Time of `hybrid hook run` — what git's pre-commit hook calls — with a cached approval.

Run: python tests/bench/bench_hook.py [--runs N] [--plans P]
Goal: median < 0.3 s. The temporary repository holds P plans with worktrees (each one's
status is read on every commit), a staged copy of one plan's generated code, and a signed
approval of exactly that staged diff (a real ssh-keygen key, trusted by the allowed-signers
file), so the hook does its whole job: find the generated paths, hash the staged diff, find
the approval and verify its signature.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 0.3


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _hybrid() -> list[str]:
    # The console script next to this interpreter: a version manager's shim (pyenv) on PATH
    # would add its own start-up to every sample.
    script = Path(sys.executable).with_name("hybrid")
    if script.exists():
        return [str(script)]
    found = shutil.which("hybrid")
    return [found] if found else [sys.executable, "-m", "hybridcode"]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build_repo(root: Path, plans: int) -> None:
    from hybridcode.ledger import Ledger
    from hybridcode.plan.store import PlanMeta, PlanStore, now_iso
    from hybridcode.review.approvals import record_approval, record_review
    from hybridcode.review.attestation import ALLOWED_SIGNERS, allowed_signers_line, generate_key
    from hybridcode.review.checklist import checklist_version
    from hybridcode.vcs.diff import staged_diff
    from hybridcode.vcs.worktree import ensure_worktree

    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "bench@example.com")
    _git(root, "config", "user.name", "Bench")
    for i in range(200):  # a small project: the hook's git calls scale with the index
        path = root / "src" / f"mod{i // 20}" / f"file{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"def f{i}(x):\n    return x + {i}\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    base = _git(root, "rev-parse", "HEAD").strip()
    store = PlanStore(root)
    for p in range(plans):
        plan_id = f"251123-plan-{p}"
        store.save_meta(PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=base,
                                 title=plan_id, status="implemented"))
        wt = ensure_worktree(root, plan_id, base).path
        (wt / "src" / f"generated_{p}.py").write_text(f"def generated_{p}():\n    return {p}\n")
    generated = root / "src" / "generated_0.py"
    generated.write_text("def generated_0():\n    return 0\n")
    _git(root, "add", str(generated))
    key = generate_key(root.parent / f"{root.name}-key" / "id_ed25519", "bench")
    _git(root, "config", "user.signingkey", str(key.path))
    (root / ALLOWED_SIGNERS).write_text(allowed_signers_line("bench@example.com", key) + "\n")
    diff = staged_diff(root)
    with Ledger.open(root) as ledger:
        record_review(ledger, source="staged", diff_sha256=diff.sha256,
                      checklist_version=checklist_version(root), decision="approved",
                      reviewer_model="claude-opus-5-5")
    record_approval(root, diff=diff, checklist_version=checklist_version(root),
                    reviewer_model="claude-opus-5-5", verdict=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--plans", type=int, default=3)
    args = parser.parse_args()
    commands = {
        "hybrid hook run": [*_hybrid(), "hook", "run"],
        # what the installed hook script executes (see hybridcode.review.hook.hook_script)
        "installed hook": [sys.executable, "-m", "hybridcode.review.hook"],
        "floor: python -c pass": [sys.executable, "-c", "pass"],
    }
    results = {}
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-hook-") as tmp:
        root = Path(tmp)
        build_repo(root, args.plans)
        env = {**os.environ, "HYBRID_USER_CONFIG": str(root / "no-user-config.toml")}
        for name, cmd in commands.items():
            first = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env,
                                   check=False)
            if first.returncode != 0 or ("hook" in name and "approved" not in first.stderr):
                sys.exit(f"{name} did not approve: exit {first.returncode}\n{first.stderr}")
            samples, cpu = [], []
            for _ in range(args.runs):
                before = _child_cpu()
                start = time.perf_counter()
                subprocess.run(cmd, cwd=root, capture_output=True, check=True, env=env)
                samples.append(time.perf_counter() - start)
                cpu.append(_child_cpu() - before)
            results[name] = (samples, cpu)
    print(f"runs per command: {args.runs} (plans with worktrees: {args.plans})")
    print("(wall time is what a developer waits; CPU time, user + sys of the hook and its git "
          "children, shows the cost when the machine is busy)")
    for name, (samples, cpu) in results.items():
        median = statistics.median(samples)
        verdict = "" if name.startswith("floor") else \
            ("PASS" if median < GOAL_S else "MISS") + f" (goal < {GOAL_S * 1000:.0f} ms)"
        print(f"{name:24s} wall median {median * 1000:7.1f} ms  min {min(samples) * 1000:6.1f}"
              f" ms  cpu median {statistics.median(cpu) * 1000:6.1f} ms  {verdict}")


if __name__ == "__main__":
    main()
