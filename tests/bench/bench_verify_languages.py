"""Wall time of one item's verification per language: syntax, type stage, tests, accounting.

Run: python tests/bench/bench_verify_languages.py [--runs N]
Prints, per language, the median of ``verify_item`` on a one-function item whose correct code
is in place, in the real sandbox: Python (pytest), Go (go vet + go test -json, a fresh private
build cache each time), TypeScript (tsc --noEmit + vitest). Needs go, node and the npm runners
(installed like the test suite does, tests/toolchains.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from implement_helpers import add_item, make_project  # noqa: E402
from judge_projects import (  # noqa: E402
    GO_RIGHT,
    TS_RIGHT,
    go_item,
    make_go_project,
    make_ts_project,
    ts_item,
)
from toolchains import install_node_runners  # noqa: E402

from hybridcode.implement.acceptance import write_acceptance_tests  # noqa: E402
from hybridcode.implement.apply import apply_item  # noqa: E402
from hybridcode.implement.parse import parse_code  # noqa: E402
from hybridcode.implement.verify import verify_item  # noqa: E402
from hybridcode.judge import JudgeConfig  # noqa: E402
from hybridcode.spec import Spec  # noqa: E402

PY_RIGHT = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n"


def _ready(root: Path, item, answer: str) -> tuple[Spec, object]:
    spec = Spec(title="bench", items=[item])
    write_acceptance_tests(root, spec)
    apply_item(root, item, parse_code(answer, item), set())
    return spec, item


def median_verify(root: Path, spec: Spec, item, runs: int) -> tuple[float, str]:
    config = JudgeConfig(timeout_s=120)
    first = verify_item(root, item, spec, [], config)  # warms the file cache
    if not first.ok:
        raise SystemExit(f"{item.file}: verification failed:\n{first.output}")
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        verify_item(root, item, spec, [], config)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), first.output.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    modules, why = install_node_runners()
    if modules is None:
        raise SystemExit(f"npm runners unavailable: {why}")
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-verify-") as tmp:
        base = Path(tmp)
        cases = [
            ("Python (pytest)", _ready(make_project(base / "py"), add_item(), PY_RIGHT)),
            ("Go (go vet + go test)", _ready(make_go_project(base / "go"), go_item(), GO_RIGHT)),
            ("TypeScript (tsc + vitest)",
             _ready(make_ts_project(base / "ts", modules), ts_item(), TS_RIGHT)),
        ]
        roots = [base / "py", base / "go", base / "ts"]
        print(f"runs per language: {args.runs} (median; sandbox on)")
        for (label, (spec, item)), root in zip(cases, roots):
            seconds, summary = median_verify(root, spec, item, args.runs)
            print(f"{label:28s} {seconds * 1000:8.0f} ms   {summary}")


if __name__ == "__main__":
    main()
