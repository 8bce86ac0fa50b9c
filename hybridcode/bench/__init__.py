"""``hybrid bench``: a task suite implemented in hybrid, all-Claude and all-local modes and scored
on hidden tests, reported with RouteLLM's performance gap recovered (PGR).

    report = run_bench(suite, ["hybrid", "all-claude", "all-local"], settings, on_event=show)
    report.pgr.render()  # "0.67" or "n/a (…)"
"""

from __future__ import annotations

from hybridcode.bench.report import (
           PGR,
           BenchReport,
           ModeReport,
           TaskResult,
           compute_pgr,
)
from hybridcode.bench.runner import MODES, BenchEvent, run_bench
from hybridcode.bench.suite import BenchTask, default_suite_path, load_suite

__all__ = ["MODES", "PGR", "BenchEvent", "BenchReport", "BenchTask", "ModeReport", "TaskResult",
           "compute_pgr", "default_suite_path", "load_suite", "run_bench"]
