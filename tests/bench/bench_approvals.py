"""Added time per commit of signing an approval and of verifying it (issue 13).

Run: python tests/bench/bench_approvals.py [--runs N] [--commits K]

- sign:   :func:`hybridcode.review.approvals.record_approval` — build the statement, one
          ``ssh-keygen -Y sign``, store it — what an approving review adds;
- verify: :meth:`AllowedSigners.verify` — one ``ssh-keygen -Y verify`` against the allowed
          signers — what ``hybrid commit`` and the pre-commit hook add;
- CI:     ``run_ci`` over K generated commits under ``--policy hash`` and ``--policy signed``;
          the difference divided by K is what the signed policy adds per commit (trailer
          parsing by git is in both).

A real ed25519 key made by ssh-keygen, a real repository in a temporary directory. Figures
are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _ms(samples: list[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:7.1f} ms  "
            f"min {min(samples) * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--commits", type=int, default=10)
    args = parser.parse_args()

    from hybridcode.plan.store import PlanMeta, PlanStore, now_iso
    from hybridcode.review.approvals import record_approval
    from hybridcode.review.attestation import (
        ALLOWED_SIGNERS,
        AllowedSigners,
        allowed_signers_line,
        generate_key,
    )
    from hybridcode.review.ci import run_ci
    from hybridcode.review.gate import commit_plan
    from hybridcode.spec import Spec
    from hybridcode.vcs.diff import worktree_diff
    from hybridcode.vcs.worktree import ensure_worktree

    with tempfile.TemporaryDirectory(prefix="hybrid-bench-approvals-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        _git(root, "init", "-q", "-b", "main")
        _git(root, "config", "user.email", "bench@example.com")
        _git(root, "config", "user.name", "Bench")
        key = generate_key(Path(tmp) / "key" / "id_ed25519", "bench")
        _git(root, "config", "user.signingkey", str(key.path))
        (root / ".hybrid").mkdir()
        (root / ALLOWED_SIGNERS).write_text(allowed_signers_line("bench@example.com", key)
                                            + "\n")
        (root / "README.md").write_text("# bench\n")
        _git(root, "add", "-A")
        _git(root, "add", "-f", ALLOWED_SIGNERS)
        _git(root, "commit", "-q", "-m", "initial")
        base = _git(root, "rev-parse", "HEAD").strip()

        store = PlanStore(root)
        sign_s: list[float] = []
        attestations = []
        for n in range(args.commits):
            plan_id = f"251123-plan-{n}"
            head = _git(root, "rev-parse", "HEAD").strip()
            store.save_meta(PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=head,
                                     title=plan_id, status="implemented"))
            path = f"src/gen_{n}.py"
            spec = Spec.model_validate({"title": plan_id, "summary": "bench", "items": [{
                "id": "item-1", "title": "gen", "kind": "config", "category": "boilerplate",
                "file": path, "action": "create", "signature": "", "description": "bench"}]})
            store.spec_path(plan_id).write_text(spec.model_dump_json())
            wt = ensure_worktree(root, plan_id, head).path
            (wt / "src").mkdir(exist_ok=True)
            (wt / path).write_text(f"def gen_{n}():\n    return {n}\n")
            diff = worktree_diff(wt, head)
            for _ in range(max(1, args.runs // args.commits)):
                start = time.perf_counter()
                attestation = record_approval(root, diff=diff, checklist_version="bench",
                                              reviewer_model="claude-opus-5-5", verdict=None,
                                              plan_id=plan_id, spec=spec, base_commit=head)
                sign_s.append(time.perf_counter() - start)
            attestations.append(attestation)
            # commit_plan needs the approval under the project's checklist version
            from hybridcode.review.checklist import checklist_version

            record_approval(root, diff=diff, checklist_version=checklist_version(root),
                            reviewer_model="claude-opus-5-5", verdict=None, plan_id=plan_id,
                            spec=spec, base_commit=head)
            commit_plan(root, plan_id, merge=True)

        verify_s: list[float] = []
        with AllowedSigners.from_file(root / ALLOWED_SIGNERS) as trust:
            for i in range(args.runs):
                att = attestations[i % len(attestations)]
                start = time.perf_counter()
                check = trust.verify(att.statement, att.signature)
                verify_s.append(time.perf_counter() - start)
                assert check.ok, check.reason

        ci: dict[str, list[float]] = {"hash": [], "signed": []}
        for _ in range(max(3, args.runs // 5)):
            for policy in ci:
                start = time.perf_counter()
                result = run_ci(root, base, "HEAD", review_missing=False, policy=policy,
                                cache_dir=Path(tmp) / "cache")
                ci[policy].append(time.perf_counter() - start)
                assert result.ok and len(result.commits) == args.commits, result.to_dict()

    k = args.commits
    version = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False)
    print(f"OpenSSH: {version.stderr.strip() or 'unknown'}")
    print(f"sign an approval (per approving review):   {_ms(sign_s)}")
    print(f"verify a signature (hybrid commit, hook):  {_ms(verify_s)}")
    for policy, samples in ci.items():
        print(f"CI over {k} generated commits, --policy {policy:6s}: {_ms(samples)}  "
              f"({statistics.median(samples) / k * 1000:.1f} ms per commit)")
    added = (statistics.median(ci["signed"]) - statistics.median(ci["hash"])) / k
    print(f"added per commit by the signed policy in CI: {added * 1000:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
