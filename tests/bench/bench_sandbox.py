"""Benchmark the sandbox's overhead: one small item's acceptance-test run through the judge, with
the sandbox (bubblewrap) and without it (``[sandbox] mode = "off"``).

    python tests/bench/bench_sandbox.py               # 9 runs each, interleaved
    python tests/bench/bench_sandbox.py -n 21

The item is the sample project's ``add(a, b)`` with its two acceptance tests, in a real git
worktree, run by ``hybridcode.judge.run_tests`` exactly as ``hybrid implement`` runs it (same
interpreter, environment, JUnit report and per-test accounting). Runs alternate between the
two modes so machine load hits both alike. Also printed: a bare ``bwrap ... /bin/true``, the
cost of entering the sandbox alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from implement_helpers import add_item, make_project  # noqa: E402

from hybridcode.implement.acceptance import write_acceptance_tests  # noqa: E402
from hybridcode.judge import JudgeConfig, detect, run_tests  # noqa: E402
from hybridcode.judge.sandbox import SandboxLayout, wrap  # noqa: E402
from hybridcode.spec import Spec  # noqa: E402

ADD = "def add(a: int, b: int) -> int:\n    return a + b\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=9, help="runs per mode")
    args = parser.parse_args()
    box = detect("auto")
    if box.kind != "bwrap":
        print(f"no bubblewrap here ({box.reason}); nothing to compare")
        return 1
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-sandbox-") as tmp:
        wt = make_project(Path(tmp) / "repo")
        item = add_item()
        write_acceptance_tests(wt, Spec(plan_id="b", title="b", items=[item]))
        (wt / item.file).write_text(ADD)
        paths = [item.test_path]
        times: dict[str, list[float]] = {"auto": [], "off": []}
        for _ in range(args.n):
            for mode in ("auto", "off"):
                config = JudgeConfig(timeout_s=60, sandbox_mode=mode)
                started = time.perf_counter()
                run = run_tests(wt, paths, config)
                times[mode].append(time.perf_counter() - started)
                if not run.ok:
                    print(f"the run failed in mode {mode}: {run.summary}")
                    return 1
        bare = []
        for _ in range(args.n):
            layout = SandboxLayout(worktree=wt, base=Path(tempfile.mkdtemp(dir=tmp)))
            started = time.perf_counter()
            subprocess.run(wrap(box, ["/bin/true"], layout), check=True)
            bare.append(time.perf_counter() - started)
    on, off = statistics.median(times["auto"]), statistics.median(times["off"])
    print(f"sandbox: {box.detail}; {args.n} runs per mode, 2 tests per run")
    print(f"median test run with the sandbox:    {on * 1000:7.0f} ms")
    print(f"median test run without the sandbox: {off * 1000:7.0f} ms")
    print(f"overhead per test run:               {(on - off) * 1000:7.0f} ms "
          f"({(on / off - 1) * 100:+.0f}%)")
    print(f"bare bwrap /bin/true (median):       {statistics.median(bare) * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
