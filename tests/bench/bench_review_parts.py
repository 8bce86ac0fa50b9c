"""Benchmark a large range review: its parts reviewed one after another vs concurrently.

    python tests/bench/bench_review_parts.py                   # 8 parts, latency 1.0 s, P = 1 4 8
    python tests/bench/bench_review_parts.py -n 6 -l 0.5 -p 1 2 3

A repository gets one commit of ``n`` text files, each a single hunk of about one reviewer
call's budget (``DIFF_TOKENS``), so the range review has ``n`` parts. ``review_range`` runs it
with ``review.parallel = P`` through the real Anthropic SDK against FakeAnthropic, whose every
answer waits ``latency`` seconds (``fake.latency``). Printed per P: the reviewer calls, the most
calls the fake answered at once, the wall time of the review (checks included, so the
deterministic part shows as the difference from ceil(n/P) x latency).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from review_helpers import verdict  # noqa: E402

from hybridcode.review.reviewer import _CHARS_PER_TOKEN, DIFF_TOKENS  # noqa: E402
from hybridcode.review.service import review_range  # noqa: E402
from hybridcode.testing import FakeAnthropic  # noqa: E402


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, parts: int, parallel: int) -> None:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "b@example.com")
    git(root, "config", "user.name", "Bench")
    (root / "README.md").write_text("# bench\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    line = "a row of the table that the review reads\n"
    rows = int(DIFF_TOKENS * _CHARS_PER_TOKEN * 0.9) // len(line)
    for n in range(parts):
        (root / f"table{n}.txt").write_text(line * rows)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "large")
    (root / ".hybrid").mkdir()
    (root / ".hybrid" / "config.toml").write_text(
        f"[review]\nparallel = {parallel}\nmax_parts = {parts}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=8, help="parts of the diff")
    parser.add_argument("-l", type=float, default=1.0, help="seconds per reviewer answer")
    parser.add_argument("-p", type=int, nargs="+", default=[1, 4, 8], help="review.parallel")
    args = parser.parse_args()
    answer = json.dumps(verdict(ids=None) | {"grades": []})
    print(f"{args.n} parts, {args.l:.2f} s per answer")
    print(f"{'P':>3} {'calls':>5} {'at once':>7} {'wall s':>7} {'ideal s':>7}")
    for parallel in args.p:
        with tempfile.TemporaryDirectory() as tmp, FakeAnthropic() as fake:
            root = Path(tmp) / "repo"
            make_repo(root, args.n, parallel)
            fake.latency = args.l
            fake.responder = lambda body: answer
            os.environ.update(ANTHROPIC_API_KEY="sk-ant-bench", ANTHROPIC_BASE_URL=fake.base_url,
                              HYBRID_USER_CONFIG=str(Path(tmp) / "none.toml"))
            started = time.perf_counter()
            outcome = review_range(root, "HEAD~1", "HEAD")
            wall = time.perf_counter() - started
            ideal = -(-args.n // min(parallel, args.n)) * args.l
            print(f"{parallel:>3} {outcome.calls:>5} {fake.max_in_flight:>7} {wall:>7.2f} "
                  f"{ideal:>7.2f}")


if __name__ == "__main__":
    main()
