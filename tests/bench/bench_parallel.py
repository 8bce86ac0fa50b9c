"""Benchmark parallel generation: K independent items, a fake local model with a fixed latency.

    python tests/bench/bench_parallel.py                    # K=8, latency 1.0 s, P = 1 2 4
    python tests/bench/bench_parallel.py -k 12 -l 0.5 -p 1 2 3 4
    python tests/bench/bench_parallel.py --with-tests       # Python items verified by pytest

Each run implements a fresh plan of K independent items through ``implement_plan`` and the real
Ollama client against FakeOllama, whose responder sleeps ``latency`` seconds per request.

Verification is kept out of the figure: by default the items are documentation files
(``docs/n.md``) without acceptance tests, so verifying one is a file read (milliseconds), not a
pytest run. ``--with-tests`` uses Python functions with one pytest test each instead; items are
verified one at a time by design, so that figure includes K pytest runs less what overlaps with
generation, and is shown for information only.

The figure is wall time over ceil(K/P) x latency, where wall time runs from the first
``generating`` event to the last item's ``passed`` (worktree creation and writing the acceptance
tests happen once, before, and are printed apart as "setup"). Goal (issue 5): <= 1.1.
Ollama takes at most 4 concurrent requests (models.registry.BACKEND_LIMITS), so P above 4 is capped.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from implement_helpers import (
    arith_tests,
    code,
    make_project,
    marker,
    settings_for,
    write_plan,
)

from hybridcode.implement.runner import implement_plan
from hybridcode.spec import AcceptanceTests, SpecItem
from hybridcode.testing import FakeAnthropic, FakeOllama


def doc_item(n: int) -> SpecItem:
    return SpecItem(id=f"d{n}", title=f"note {n}", kind="doc", category="docstring",
                    file=f"docs/n{n}.md", action="create",
                    description=f"A short note. {marker(f'd{n}')}", route="local")


def test_item(n: int) -> SpecItem:
    return SpecItem(id=f"f{n}", title="add", kind="function", category="data_transformation",
                    file=f"calc/f{n}.py", symbol="add", action="create",
                    signature="def add(a: int, b: int) -> int",
                    description=f"Return a + b. {marker(f'f{n}')}", route="local",
                    tests=AcceptanceTests(code=arith_tests(f"calc.f{n}", "add", [(1, 2, 3)])))


def responder(latency: float, with_tests: bool):
    import json
    import re

    def answer(body):
        time.sleep(latency)
        item = re.search(r"\[\[item:([a-z0-9-]+)\]\]", json.dumps(body)).group(1)
        return code("add", "a + b") if with_tests else f"```markdown\n# Note {item}\n```"
    return answer


def one_run(k: int, p: int, latency: float, with_tests: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp, FakeOllama() as ollama, \
            FakeAnthropic() as claude:
        root = make_project(Path(tmp) / "repo")
        items = [test_item(n) if with_tests else doc_item(n) for n in range(k)]
        write_plan(root, items)
        ollama.responder = responder(latency, with_tests)
        settings = settings_for(root, ollama, claude, attempts=1)
        marks: dict[str, float] = {}
        lock = threading.Lock()

        def on_event(event):
            with lock:
                if event.state == "generating":
                    marks.setdefault("first", time.perf_counter())
                if event.state == "passed":
                    marks["last"] = time.perf_counter()

        start = time.perf_counter()
        result = implement_plan(root, "p1", parallel=p, settings=settings, on_event=on_event)
        if not result.ok:
            raise SystemExit(f"run failed: {result.to_dict()}")
        return marks["last"] - marks["first"], marks["first"] - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", type=int, default=8, help="independent items")
    parser.add_argument("-l", "--latency", type=float, default=1.0, help="seconds per call")
    parser.add_argument("-p", type=int, nargs="+", default=[1, 2, 4], help="--parallel values")
    parser.add_argument("--with-tests", action="store_true",
                        help="Python items verified by pytest (includes verification time)")
    args = parser.parse_args()
    os.environ.setdefault("HYBRID_USER_CONFIG", os.devnull)
    subprocess.run(["git", "--version"], check=True, capture_output=True)
    kind = "python items + pytest" if args.with_tests else "doc items, no tests"
    print(f"K={args.k} latency={args.latency:.2f}s ({kind})")
    print(f"{'P':>3} {'ideal s':>8} {'wall s':>8} {'ratio':>6} {'setup s':>8}")
    for p in args.p:
        effective = min(p, 4)
        ideal = math.ceil(args.k / effective) * args.latency
        wall, setup = one_run(args.k, p, args.latency, args.with_tests)
        print(f"{p:>3} {ideal:>8.2f} {wall:>8.2f} {wall / ideal:>6.3f} {setup:>8.2f}")


if __name__ == "__main__":
    main()
