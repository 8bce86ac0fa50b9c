"""Start-up time of `hybrid --help` against the floor of importing typer and rich.

Run: python tests/bench/bench_startup.py [--runs N]
Goal: median(hybrid --help) <= 1.3 x median(python -c "import typer, rich").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_seconds(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    floor = median_seconds([sys.executable, "-c", "import typer, rich"], args.runs)
    helpt = median_seconds([sys.executable, "-m", "hybridcode", "--help"], args.runs)
    version = median_seconds([sys.executable, "-m", "hybridcode", "--version"], args.runs)
    ratio = helpt / floor
    print(f"runs per command:              {args.runs}")
    print(f"python -c 'import typer, rich': {floor * 1000:7.1f} ms (median)")
    print(f"hybrid --help:                  {helpt * 1000:7.1f} ms (median)")
    print(f"hybrid --version:               {version * 1000:7.1f} ms (median)")
    print(f"ratio --help / floor:           {ratio:7.2f}x (goal <= 1.30x) "
          f"{'PASS' if ratio <= 1.3 else 'MISS'}")


if __name__ == "__main__":
    main()
