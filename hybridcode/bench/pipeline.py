"""``hybrid bench --protocol pipeline``: an exercise done the hybrid way, scored by its tests.

Per exercise: a throw-away repository holds the exercise as a student gets it; Claude plans it
from the instructions (``hybrid plan``, the real planner and router); the implement engine
carries the plan out (the local ladder, escalating to Claude where an item keeps failing); the
exercise's hidden tests score the file. A failing first try sends the first lines of the test
output back, as a fix round does, to the items that wrote the file, and they run again (the
second try). Planning, any Claude rung and every fix count in Claude dollars: this is the
honest test of hybrid mode against an all-Claude leaderboard row.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.bench.aider import ExerciseResult
from hybridcode.bench.exercise import ExerciseTask, score_exercise
from hybridcode.errors import GitError, HybridError, UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings

__all__ = ["run_pipeline_exercise"]


def run_pipeline_exercise(task: ExerciseTask, settings: Settings) -> ExerciseResult:
    """One exercise through plan → implement → the hidden tests, up to two tries."""
    from hybridcode.plan.planner import make_plan
    from hybridcode.prompts import render_prompt

    result = ExerciseResult(task.id, task.language, "hybrid",
                            model=settings.tiers.planner.model)
    started = time.monotonic()
    parent = Path(tempfile.mkdtemp(prefix=f"hybrid-pipeline-{task.id}-"))
    repo = parent / task.id
    try:
        _repository(task, repo)
        try:
            plan = make_plan(repo, render_prompt("bench_pipeline.md",
                                                 instructions=task.request, file=task.file),
                             settings=settings)
            rework = None
            for attempt in (1, 2):
                outcome = _implement(repo, plan.plan_id, settings, rework)
                result.escalated = result.escalated or any(
                    item.escalation for item in outcome.items)
                run = score_exercise(task, _file(outcome.worktree, task),
                                     settings.test_timeout_s)
                result.tests_passed, result.tests_total = run.passed, run.total
                if run.could_not_run:
                    result.could_not_run = run.could_not_run
                    break
                result.tries.append(run.ok)
                if run.ok:
                    result.solved_locally = all(not _paid_model(i.model)
                                                for i in outcome.items if i.model)
                    break
                result.last_output = run.feedback()
                items = [i.id for i in plan.spec.items if i.file == task.file] or \
                    [i.id for i in plan.spec.items]
                rework = {item: render_prompt("bench_pipeline_retry.md",
                                              output=run.feedback()) for item in items}
        except UsageError:
            raise  # configuration: every exercise would fail the same way
        except HybridError as exc:
            result.error = exc.message
            if not result.tries:
                result.tries.append(False)
        _costs(result, repo)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    result.wall_s = time.monotonic() - started
    return result


def _implement(repo: Path, plan_id: str, settings: Settings, rework: dict[str, str] | None):
    from hybridcode.implement.runner import implement_plan

    return implement_plan(repo, plan_id, parallel=1, settings=settings, rework=rework)


def _file(worktree: Path, task: ExerciseTask) -> str | None:
    path = Path(worktree) / task.file
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _paid_model(model: str) -> bool:
    return model.startswith("anthropic:") or model.startswith("claude")


def _repository(task: ExerciseTask, repo: Path) -> None:
    """The exercise as a student gets it, committed (the plan's worktree needs a commit)."""
    shutil.copytree(task.files_dir, repo)
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "bench@hybridcode.invalid"],
                 ["config", "user.name", "hybrid bench"], ["add", "-A"],
                 ["commit", "-q", "--no-verify", "-m", f"exercise {task.id}"]):
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise GitError(f"git {args[0]} failed in the bench repository {repo}: "
                           f"{proc.stderr.strip()}", "check that git works here")


def _costs(result: ExerciseResult, repo: Path) -> None:
    from hybridcode.ledger import Ledger

    with Ledger.open(repo) as ledger:
        rows: list[Any] = ledger.query(
            "SELECT is_local, TOTAL(cost_usd), TOTAL(input_tokens + output_tokens + "
            "cache_write_tokens + cache_read_tokens) FROM calls GROUP BY is_local")
    for is_local, cost, tokens in rows:
        if is_local:
            result.local_tokens += int(tokens)
        else:
            result.claude_usd += float(cost)
            result.claude_tokens += int(tokens)
