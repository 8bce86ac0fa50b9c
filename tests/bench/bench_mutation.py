"""Benchmark the mutation judge of test items: seconds per test item on the bundled test tasks,
and how the cost grows with the size of the code under test.

    python tests/bench/bench_mutation.py            # bundled tasks, then sizes 1, 2, 4, 8
    python tests/bench/bench_mutation.py --sizes 1 4 16

Everything runs as ``hybrid implement`` runs it: ``hybridcode.judge.mutation.run_mutation``
through the one runner (bubblewrap sandbox, per-test accounting), one test run per mutant.

1. Each bundled ``test`` task's reference test file judged against its code under test: the
   passing run, then every sampled mutant (no early stop: the cost of an accepted item).
2. Code of growing size: a module of N small functions (each a copy of a clamp with its own
   constants) and a test file that tests all of them, judged with the default cap of mutants
   and without a cap — the cap bounds the cost, the uncapped figure shows the growth.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from hybridcode.bench.suite import load_suite  # noqa: E402
from hybridcode.judge import JudgeConfig, run_tests  # noqa: E402
from hybridcode.judge.mutation import DEFAULT_MAX_MUTANTS, generate_mutants, run_mutation  # noqa: E402


def _bundled() -> None:
    print("bundled test tasks (reference tests, every sampled mutant run):")
    print(f"{'task':22} {'mutants':>8} {'killed':>7} {'score':>6} {'baseline s':>11} "
          f"{'total s':>8} {'s/mutant':>9}")
    for task in load_suite():
        if task.kind != "test" or task.reference_path is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp)
            shutil.copytree(task.files_dir, tree, dirs_exist_ok=True)
            (tree / task.file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(task.reference_path, tree / task.file)
            code_file, _, symbol = task.under_test.partition("::")
            started = time.monotonic()
            result = run_mutation(tree, code_file, symbol or None, [task.file], JudgeConfig(),
                                  stop_early=False)
            total = time.monotonic() - started
        base = result.baseline.wall_s if result.baseline else 0.0
        per = (total - base) / result.total if result.total else 0.0
        print(f"{task.id:22} {result.total:>8} {len(result.killed):>7} {result.score:>6.2f} "
              f"{base:>11.2f} {total:>8.1f} {per:>9.2f}")


_FUNCTION = '''

def clamp_{n}(value: int, low: int = {low}, high: int = {high}) -> int:
    if low > high:
        raise ValueError("empty range")
    if value < low:
        return low
    if value > high:
        return high
    return value + 0 * {n}
'''

_TEST = '''

def test_clamp_{n}():
    assert clamp_{n}({low} - 1) == {low}
    assert clamp_{n}({high} + 1) == {high}
    assert clamp_{n}({low} + 1) == {low} + 1
    with pytest.raises(ValueError):
        clamp_{n}(0, 2, 1)
'''


def _sized(tree: Path, n: int) -> tuple[str, str]:
    code = '"""Generated."""\n' + "".join(
        _FUNCTION.format(n=i, low=i, high=i + 10) for i in range(n))
    names = ", ".join(f"clamp_{i}" for i in range(n))
    tests = f"import pytest\n\nfrom pkg.mod import {names}\n" + "".join(
        _TEST.format(n=i, low=i, high=i + 10) for i in range(n))
    (tree / "pkg").mkdir()
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "pkg" / "mod.py").write_text(code)
    (tree / "tests").mkdir()
    (tree / "tests" / "test_mod.py").write_text(tests)
    return code, "tests/test_mod.py"


def _growth(sizes: list[int]) -> None:
    print("\ngrowth with the code under test (whole module judged):")
    print(f"{'functions':>9} {'lines':>6} {'mutants':>8} {'capped s':>9} {'uncapped s':>11} "
          f"{'s/mutant':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp)
            code, tests = _sized(tree, n)
            mutants = len(generate_mutants(code, None))
            baseline = run_tests(tree, [tests], JudgeConfig())
            started = time.monotonic()
            run_mutation(tree, "pkg/mod.py", None, [tests], JudgeConfig(), baseline=baseline,
                         stop_early=False)
            capped = time.monotonic() - started
            started = time.monotonic()
            run_mutation(tree, "pkg/mod.py", None, [tests], JudgeConfig(), baseline=baseline,
                         stop_early=False, max_mutants=0)
            uncapped = time.monotonic() - started
        print(f"{n:>9} {len(code.splitlines()):>6} {mutants:>8} {capped:>9.1f} "
              f"{uncapped:>11.1f} {uncapped / mutants:>9.2f}")
    print(f"(capped: at most {DEFAULT_MAX_MUTANTS} mutants, [checks] max_mutants)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 2, 4, 8])
    args = parser.parse_args()
    _bundled()
    _growth(args.sizes)


if __name__ == "__main__":
    main()
