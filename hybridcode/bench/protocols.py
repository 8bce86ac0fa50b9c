"""Running an exercise suite under a named protocol, and the suite's self-check record.

``import-polyglot`` checks every task once (the reference must pass, the stub must fail) and
keeps the result in ``SUITE/check.json``; a protocol run leaves out, and lists, the tasks that
check excluded — refactoring exercises whose stub already passes, exercises whose reference needs
a newer toolchain than this machine has, exercises whose tests could not start here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.bench.aider import ProtocolEvent, model_for, run_aider_protocol
from hybridcode.bench.exercise import ExerciseCheck, check_exercises, load_exercises
from hybridcode.bench.protocol_report import ProtocolReport
from hybridcode.errors import UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings

__all__ = ["CHECK_FILE", "PROTOCOLS", "check_suite_file", "read_exclusions", "run_protocol"]

PROTOCOLS = ("aider", "pipeline")
CHECK_FILE = "check.json"


def check_suite_file(suite: Path, timeout_s: float = 120.0,
                     on_checked: Callable[[ExerciseCheck], None] | None = None) -> dict:
    """Self-check every task of ``suite`` and write ``check.json``; its content."""
    started = time.monotonic()
    tasks = load_exercises(suite)
    checks = check_exercises(tasks, timeout_s, on_checked)
    per_language: dict[str, dict[str, int]] = {}
    for check in checks:
        counts = per_language.setdefault(check.language, {"tasks": 0, "ok": 0, "excluded": 0})
        counts["tasks"] += 1
        counts["ok" if check.ok else "excluded"] += 1
    record = {
        "wall_s": round(time.monotonic() - started, 1),
        "languages": per_language,
        "excluded": [{"task_id": c.task_id, "why": c.exception} for c in checks if not c.ok],
    }
    (Path(suite) / CHECK_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def read_exclusions(suite: Path) -> list[dict[str, str]]:
    path = Path(suite) / CHECK_FILE
    if not path.is_file():
        return []
    try:
        return list(json.loads(path.read_text(encoding="utf-8")).get("excluded", []))
    except (OSError, ValueError):
        raise UsageError(f"{path} is not readable JSON",
                         "delete it and re-import the suite (`hybrid bench import-polyglot`)"
                         ) from None


def run_protocol(suite: Path, protocol: str, modes: list[str], settings: Settings,
                 on_event: Callable[[ProtocolEvent], None] | None = None, *,
                 only: list[str] | None = None,
                 languages: list[str] | None = None) -> ProtocolReport:
    if protocol not in PROTOCOLS:
        raise UsageError(f"--protocol {protocol} is not built",
                         f"use --protocol {' or '.join(PROTOCOLS)}")
    tasks = load_exercises(suite, only, languages)
    excluded = read_exclusions(suite)
    skip = {entry.get("task_id") for entry in excluded}
    listed = [e for e in excluded if any(t.id == e.get("task_id") for t in tasks)]
    tasks = [t for t in tasks if t.id not in skip]
    if not tasks:
        raise UsageError("no exercise left to run (every chosen one is excluded by the "
                         "suite's self-check, see check.json)",
                         "choose other --tasks or --languages")
    if protocol == "pipeline":
        if modes and modes != ["hybrid"]:
            raise UsageError("--protocol pipeline measures hybrid mode only",
                             "drop --mode, or use --protocol aider for all-local/all-claude")
        ladder = ", ".join(s.model for s in settings.tiers.implementer)
        models = {"hybrid": f"{settings.tiers.planner.model} plans; {ladder} implement"}
        results = {"hybrid": _pipeline(tasks, settings, on_event)}
    else:
        models = {mode: model_for(settings, mode).model for mode in modes}
        results = run_aider_protocol(tasks, modes, settings, on_event)
    source = dict(tasks[0].source)
    source.pop("exercise", None)
    return ProtocolReport(protocol, str(suite), source, results, models, listed)


def _pipeline(tasks, settings: Settings, on_event) -> list:
    from hybridcode.bench.pipeline import run_pipeline_exercise

    results = []
    for index, task in enumerate(tasks, 1):
        if on_event:
            on_event(ProtocolEvent("hybrid", task.id, index, len(tasks), "start"))
        result = run_pipeline_exercise(task, settings)
        results.append(result)
        if on_event:
            on_event(ProtocolEvent("hybrid", task.id, index, len(tasks), "done", result))
    return results
