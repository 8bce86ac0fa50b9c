"""``run_bench``: every task of a suite implemented in each mode, then scored on hidden tests.

For each task and mode the bench builds a throw-away git repository from the task's starting
files, writes a one-item plan into it (the task's request, signature and acceptance tests) and
runs the real implement engine on it — the same prompts, parsing, placement, verification,
ladder and ledger as ``hybrid implement``. Only the implementer ladder differs by mode:

- ``hybrid``: the configured ladder, the item routed by the router (local items start on the
  bottom rung and may escalate to Claude; items the router sends to Claude start there);
- ``all-local``: only the ladder's local rungs, the item pinned to ``local``;
- ``all-claude``: only the ladder's Claude rungs, the item pinned to ``claude``.

Each run has its own repository and ledger, so a bench never touches the user's repository or
spend figures. Costs come from the engine's result, which reads them from that ledger.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hybridcode.bench.report import BenchReport, ModeReport, TaskResult
from hybridcode.bench.score import copy_tree, find_node_modules, link_node_modules, score_tree
from hybridcode.bench.suite import BenchTask, load_suite, task_spec
from hybridcode.errors import GitError, HybridError, UsageError

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.implement.runner import ImplementResult, ItemEvent

Mode = Literal["hybrid", "all-claude", "all-local"]
MODES: tuple[Mode, ...] = ("hybrid", "all-claude", "all-local")
_ARCHITECTURE = ("Benchmark task: implement one function in a small package. Keep to the "
                 "signature and the requirements; use only the standard library.\n")


@dataclass(frozen=True)
class BenchEvent:
    """Progress for the UI: ``state`` is start, item (``item`` holds the engine's event), done."""

    mode: str
    task_id: str
    index: int  # 1-based position of the task within its mode
    total: int
    state: str
    item: ItemEvent | None = None
    result: TaskResult | None = None


def mode_settings(settings: Settings, mode: str) -> Settings:
    """``settings`` with the implementer ladder cut down to what ``mode`` may use."""
    if mode not in MODES:
        raise UsageError(f"unknown bench mode {mode!r}", f"use one of: {', '.join(MODES)}")
    ladder = list(settings.tiers.implementer)
    if mode == "all-local":
        ladder = [spec for spec in ladder if spec.is_local]
        what = "local"
    elif mode == "all-claude":
        ladder = [spec for spec in ladder if spec.backend == "anthropic"]
        what = "Claude (anthropic)"
    else:
        return settings
    if not ladder:
        raise UsageError(f"bench mode {mode} needs a {what} rung in tiers.implementer, and the "
                         "configured ladder has none",
                         f"add one to [tool.hybrid.tiers] implementer, or drop --mode {mode}")
    tiers = settings.tiers.model_copy(update={"implementer": ladder})
    return settings.model_copy(update={"tiers": tiers})


def route_for(task: BenchTask, mode: str, settings: Settings) -> tuple[str, str]:
    """(route, reason) of the task's item in ``mode``: the router's decision in hybrid mode."""
    if mode == "all-local":
        return "local", "all-local mode"
    if mode == "all-claude":
        return "claude", "all-claude mode"
    from hybridcode.plan.routing import route_item

    decision = route_item(task_spec(task).items[0], thresholds=settings.routing)
    return decision.route, decision.reason


def run_bench(suite: Path | None, modes: list[str], settings: Settings,
              on_event: Callable[[BenchEvent], None] | None = None, *,
              only: list[str] | None = None, keep: Path | None = None) -> BenchReport:
    """Run the suite (default: the bundled one) in each mode and score it; see the module doc.
    ``keep`` leaves each task's repository under that folder for inspection."""
    if not modes:
        raise UsageError("no bench mode chosen", f"use --mode with one of: {', '.join(MODES)}")
    modes = list(dict.fromkeys(modes))
    per_mode = {mode: mode_settings(settings, mode) for mode in modes}  # fail before any work
    tasks = load_suite(suite, only)
    reports: dict[str, ModeReport] = {}
    for mode in modes:
        results = []
        for index, task in enumerate(tasks, 1):
            if on_event:
                on_event(BenchEvent(mode, task.id, index, len(tasks), "start"))
            result = run_task(task, mode, per_mode[mode], keep=keep, on_item=(
                None if on_event is None else
                lambda event, m=mode, t=task, i=index: on_event(
                    BenchEvent(m, t.id, i, len(tasks), "item", item=event))))
            results.append(result)
            if on_event:
                on_event(BenchEvent(mode, task.id, index, len(tasks), "done", result=result))
        reports[mode] = ModeReport(mode, results)
    return BenchReport(str(suite or "default"), [t.id for t in tasks], reports)


def run_task(task: BenchTask, mode: str, settings: Settings, *, keep: Path | None = None,
             on_item: Callable[[ItemEvent], None] | None = None) -> TaskResult:
    """One task in one mode: build the repository, implement, score on the hidden tests."""
    from hybridcode.implement.ladder import Ladder
    from hybridcode.implement.runner import implement_plan

    route, reason = route_for(task, mode, settings)
    spec = task_spec(task, route)
    start_rung = Ladder.from_settings(settings).first_index(spec.items[0])
    parent = Path(tempfile.mkdtemp(prefix="hybrid-bench-"))
    repo = parent / task.id
    try:
        plan_id = _build_repo(task, repo, spec)
        # TypeScript tasks run with the vitest/tsc installed where the bench runs (untracked:
        # the plan's worktree, inside this repository, finds it the way node looks up).
        node_modules = find_node_modules()
        link_node_modules(task, repo, node_modules)
        started = time.monotonic()
        try:
            implemented = implement_plan(repo, plan_id, parallel=1, settings=settings,
                                         on_event=on_item)
        except UsageError:
            raise  # a configuration problem: every task would fail the same way
        except HybridError as exc:
            return TaskResult(task.id, task.category, mode, route=route, route_reason=reason,
                              start_rung=start_rung, wall_s=time.monotonic() - started,
                              error=str(exc))
        result = _scored(task, mode, route, reason, start_rung, implemented, settings,
                         node_modules)
        result.spec_tokens = spec.items[0].spec_size()
        result.claude_output_tokens, result.code_tokens = _written(repo, plan_id)
        return result
    finally:
        if keep is not None:
            destination = keep / mode / task.id
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(destination, ignore_errors=True)
            shutil.move(str(repo), destination)
        shutil.rmtree(parent, ignore_errors=True)


def _scored(task: BenchTask, mode: str, route: str, reason: str, start_rung: int,
            implemented: ImplementResult, settings: Settings,
            node_modules: Path | None = None) -> TaskResult:
    outcome = implemented.items[0]
    run = score_tree(task, implemented.worktree, settings.test_timeout_s, node_modules)
    error = outcome.error if outcome.state != "passed" else None
    if implemented.messages and outcome.state != "passed":
        error = "; ".join(filter(None, [error, *implemented.messages]))
    return TaskResult(
        task.id, task.category, mode, passed=run.ok, hidden_passed=run.passed,
        hidden_total=run.total, implemented=outcome.state == "passed", route=route,
        route_reason=reason, start_rung=start_rung, final_rung=outcome.rung,
        final_model=outcome.model, attempts=outcome.attempts,
        claude_usd=implemented.claude_usd, claude_tokens=implemented.claude_tokens,
        local_tokens=implemented.local_tokens, wall_s=implemented.wall_s, error=error,
        hidden_output=None if run.ok else run.output,
    )


def _written(repo: Path, plan_id: str) -> tuple[int, int]:
    """(Claude output tokens, tokens of the accepted code) from the task's ledger."""
    from hybridcode.ledger import Ledger
    from hybridcode.models.base import estimate_tokens

    with Ledger.open(repo) as ledger:
        claude = ledger.query("SELECT TOTAL(output_tokens) FROM calls WHERE plan_id = ? AND "
                              "is_local = 0 AND outcome != 'budget'", (plan_id,))[0][0]
        kept = ledger.query("SELECT output FROM attempts WHERE plan_id = ? AND "
                            "outcome = 'passed' ORDER BY id DESC LIMIT 1", (plan_id,))
    code = _code_of(kept[0][0]) if kept and kept[0][0] else ""
    return int(claude), estimate_tokens(code) if code else 0


def _code_of(answer: str) -> str:
    """The code of a model's answer: its fenced blocks, else the whole text."""
    import re

    blocks = re.findall(r"```[^\n]*\n(.*?)```", answer, re.S)
    return "\n".join(blocks) if blocks else answer


def _build_repo(task: BenchTask, repo: Path, spec: Any) -> str:
    """A git repository holding the task's starting files, with a one-item plan; its plan id."""
    from hybridcode.plan.store import (
        ARCHITECTURE,
        REQUEST,
        PlanMeta,
        PlanStore,
        now_iso,
    )
    from hybridcode.spec import save_spec

    repo.mkdir(parents=True)
    copy_tree(task.files_dir, repo)
    _git(repo, "init", "-q", "-b", "main")
    # A local identity: the user's global git config may have none, and commits need one.
    _git(repo, "config", "user.email", "bench@hybridcode.invalid")
    _git(repo, "config", "user.name", "hybrid bench")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--no-verify", "-m", f"bench task {task.id}")
    base = _git(repo, "rev-parse", "HEAD").strip()

    store = PlanStore(repo)
    plan_id = f"bench-{task.id}"
    item = spec.items[0]
    meta = PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=base, title=task.title,
                    planner_model="bench", items=1, routes={item.route or "claude": 1})
    store.write_text(plan_id, REQUEST, task.request + "\n")
    store.write_text(plan_id, ARCHITECTURE, _ARCHITECTURE)
    save_spec(spec.model_copy(update={"plan_id": plan_id}), store.spec_path(plan_id))
    store.save_meta(meta)
    return plan_id


def _git(cwd: Path, *args: str) -> str:
    exe = shutil.which("git")
    if exe is None:
        raise UsageError("git is not installed or not on PATH",
                         "install git; the bench builds a small repository per task")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitError(f"git {args[0]} failed in the bench repository {cwd}: "
                       f"{proc.stderr.strip() or proc.returncode}",
                       "check that git works here (`git init` in a temp folder)")
    return proc.stdout
