"""``implement_plan``: every spec item implemented in the plan's worktree, verified by its tests.

    result = implement_plan(root, "251123-rate-limit", parallel=4, budget_usd=2.0,
                            on_event=show)          # → ImplementResult

This module checks the request and sets the run up; :mod:`.schedule` decides which item runs
when, :mod:`.attempt` runs one item's attempts (prompt → answer → place → judge → feedback →
escalate), :mod:`.events` tells the UI.

How a run goes:

- The plan's worktree is created (or reused) from the plan's base commit; the spec's acceptance
  tests are written into it, and their checksums are checked before and after every test run
  (a change means the model's code touched them: the tests are restored, the output refused).
- Items run in dependency order. Items whose dependencies have passed are *generated* at the
  same time on a thread pool (``--parallel N``; Ollama at most
  :data:`~hybridcode.models.registry.BACKEND_LIMITS`), but
  *applied and verified one at a time* on the run's main thread, earliest in dependency order
  first — so every prompt sees a settled worktree and tests never race each other.
- A failed attempt goes back to the model with the feedback; the ladder (:mod:`.ladder`) decides
  the next rung. A Claude rung taking over a failing attempt answers with edits to it
  (:mod:`.escalation`). A failed item's dependents are skipped; independent items go on.
- The budget is the :class:`Caller`'s: a call that could cross it is not made, the run stops
  cleanly with status ``budget`` and can be resumed. Ctrl-C stops it the same way (exit 130).

Resume (``resume=True``): passed items are kept — their code is in the worktree, which is the
checkpoint; nothing is committed on the plan branch (the review gate commits after approval).
An output saved but not yet verified is verified without a new call; an item part-way up the
ladder continues from its last attempt; failed and skipped items get a fresh ladder. Without
``resume``, a plan that an earlier run got anywhere with is refused with a hint, so a typo'd
command never silently continues (or restarts) a paid run. Each invocation is a run of its own
in the ledger, with its own budget and breaker.

Some items (``only=[item_id, ...]``, what the MCP server's implement tool uses): the named
items run (passed ones stay passed), the others are held as they are; an item that depends on a
held item that has not passed is skipped. Like a resume, it may follow earlier runs.

Cancellation (``cancel``, a :class:`threading.Event` set from another thread): the run stops as
Ctrl-C stops it — streaming calls end at their next chunk, unfinished items are parked for a
resume; the scheduler looks at least once a second, and a test run in progress ends first. It
raises :class:`RunCancelled`.

Rework (``rework={item_id: feedback}``, what ``hybrid review PLAN --fix`` uses): only the named
items run again, each on a fresh ladder with the reviewer's findings in its prompt (see
:mod:`.prompt`); the other items keep their state and their code. The acceptance tests of passed
items still run after each reworked item (the ``related`` stage), so a dependent that the new
code breaks fails the attempt. The run is recorded as command ``fix`` and its calls as step
``fix``. A reworked item that had passed before and does not pass again — its ladder fails, a
dependency fails, or the run stops — keeps its reviewed code: every failed attempt is reverted,
so the worktree still holds the code that passed, and the ledger says so again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import UsageError
from hybridcode.implement.attempt import RunCancelled
from hybridcode.implement.ladder import Ladder
from hybridcode.implement.preflight import missing_local_rungs, refuse
from hybridcode.implement.result import ImplementResult, ItemEvent, ItemOutcome
from hybridcode.implement.schedule import Scheduler
from hybridcode.implement.state import PlanLock, RunState
from hybridcode.plan.store import ARCHITECTURE, PlanStore

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.spec import Spec

__all__ = ["ImplementResult", "ItemEvent", "ItemOutcome", "RunCancelled", "implement_plan"]

RUN_STATUS = {"implemented": "ok", "failed": "failed", "could_not_run": "failed",
              "budget": "budget", "interrupted": "interrupted"}


def implement_plan(root: Path, plan_ref: str | None = None, *, parallel: int | None = None,
                   budget_usd: float | None = None, resume: bool = False,
                   rework: Mapping[str, str] | None = None,
                   only: Collection[str] | None = None,
                   settings: Settings | None = None,
                   allow_missing_local: bool | None = None,
                   on_event: Callable[[ItemEvent], None] | None = None,
                   cancel: threading.Event | None = None) -> ImplementResult:
    """Implement a plan's spec in its worktree; see the module docstring.

    ``rework`` maps item ids to the reviewer's feedback for them: only those items run, on a
    fresh ladder, in the existing worktree (see "Rework" above)."""
    from hybridcode.vcs import repo as gitrepo
    from hybridcode.config import load_settings
    from hybridcode.ledger import Ledger
    from hybridcode.models.caller import Caller
    from hybridcode.spec import load_spec, topological_order
    from hybridcode.vcs.generated import provide_generated_files
    from hybridcode.vcs.worktree import ensure_worktree, worktree_path

    root = gitrepo.repo_root(root)
    store = PlanStore(root)
    plan_id = store.resolve(plan_ref)
    meta = store.meta(plan_id)
    if meta.status == "invalid":
        draft = "spec.json" if store.spec_path(plan_id).exists() else "spec.invalid.json"
        raise UsageError(f"plan {plan_id} has an invalid spec",
                         f"fix .hybrid/plans/{plan_id}/{draft} and run "
                         f"`hybrid spec check {plan_id}`")
    if meta.status in ("approved", "committed"):
        raise UsageError(f"plan {plan_id} is already {meta.status}",
                         f"see it with `hybrid status {plan_id}`; plan new work with hybrid plan")
    spec = load_spec(store.spec_path(plan_id))
    order = topological_order(spec)
    if rework is not None:
        _check_rework(rework, spec, plan_id, worktree_path(root, plan_id))
    if only is not None:
        only = _check_only(only, spec, plan_id)
    settings = settings or load_settings(root)
    parallel = settings.parallel if parallel is None else parallel
    if not 1 <= parallel <= 64:
        raise UsageError(f"--parallel {parallel} is out of range", "use 1 to 64")
    if budget_usd is not None and budget_usd <= 0:
        raise UsageError(f"--budget {budget_usd} must be positive", "e.g. --budget 2.50")
    try:
        architecture = store.read_text(plan_id, ARCHITECTURE)
    except FileNotFoundError:
        architecture = ""
    # Before anything is locked, created or paid for: every local rung the items may use.
    allow = settings.allow_missing_local if allow_missing_local is None else allow_missing_local
    missing = missing_local_rungs(settings, Ladder.from_settings(settings),
                                  [i for i in spec.items if (rework is None or i.id in rework)
                                   and (only is None or i.id in only)])
    if missing and not allow:
        raise refuse(missing)
    from hybridcode.judge import JudgeConfig
    from hybridcode.judge.sandbox import require

    # Before any paid call: model code never runs without the sandbox (unless turned off).
    judge = JudgeConfig.from_settings(settings, root)
    sandbox = require(judge.sandbox_mode)

    wall = time.monotonic()
    with PlanLock(store.dir(plan_id), plan_id), Ledger.open(root) as ledger:
        # Under the lock no other implement or fix run of this plan is alive: one the ledger
        # still shows as running died without finishing (SIGKILL, a power cut).
        stale = ledger.interrupt_stale_runs(plan_id, ("implement", "fix"))
        state = RunState(ledger, store, plan_id)
        if state.started() and not resume and rework is None and only is None:
            done = sum(1 for row in state.items().values() if row.state == "passed")
            what = (f"the last run of plan {plan_id} was killed before it finished" if stale
                    else f"plan {plan_id} was run before")
            raise UsageError(f"{what} ({done} of {len(spec.items)} items passed)",
                             f"continue it with: hybrid implement {plan_id} --resume")
        had_worktree = worktree_path(root, plan_id).exists()
        worktree = ensure_worktree(root, plan_id, meta.base_commit)
        command = "implement" if rework is None else "fix"
        run_id = ledger.start_run(command, plan_id=plan_id, settings=settings)
        state.run_id = run_id
        caller = Caller(settings, ledger, run_id=run_id, plan_id=plan_id, budget_usd=budget_usd,
                        root=root)
        run = Scheduler(settings, ledger, caller, state, spec, order, worktree, architecture,
                        parallel, on_event, rework=rework, only=only, cancel=cancel, judge=judge,
                        allow_missing_local=allow)
        for stale_id in stale:
            run.note(f"run {stale_id} of this plan was killed before it finished; "
                     "marked interrupted in the ledger")
        run.attempts.switch_off(missing)
        # Files the build generates and git ignores (a hatch-vcs _version.py): the worktree
        # has them as the project's own install would, or the package cannot be imported.
        for provided in provide_generated_files(root, worktree.path):
            run.note(f"{provided.path} (generated by the build; git ignores it): "
                     f"{provided.how}")
        if not sandbox.isolates:
            run.note(f"sandbox {sandbox.describe()}")
        run.attempts.planner_model = meta.planner_model or ""
        status = "interrupted"  # anything that escapes (Ctrl-C, a git or ledger error)
        meta.status = "implementing"
        store.save_meta(meta)
        try:
            status = run.execute(had_worktree)
        finally:
            meta = store.meta(plan_id)
            meta.status = status
            store.save_meta(meta)
            state.write_summary(status, run.models())
            ledger.finish_run(run_id, RUN_STATUS[status])
        return run.result(status, time.monotonic() - wall)


def _check_only(only: Collection[str], spec: Spec, plan_id: str) -> frozenset[str]:
    known = {item.id for item in spec.items}
    unknown = sorted(set(only) - known)
    if not only or unknown:
        what = f"no item {unknown[0]!r}" if unknown else "no items named"
        raise UsageError(f"plan {plan_id} has {what} to implement",
                         f"its items are: {', '.join(sorted(known))}")
    return frozenset(only)


def _check_rework(rework: Mapping[str, str], spec: Spec, plan_id: str, worktree: Path) -> None:
    if not rework:
        raise UsageError(f"no items of plan {plan_id} to rework",
                         "name at least one item with the findings for it")
    known = {item.id for item in spec.items}
    unknown = sorted(set(rework) - known)
    if unknown:
        raise UsageError(f"plan {plan_id} has no item {unknown[0]!r} to rework",
                         f"its items are: {', '.join(sorted(known))}")
    if not worktree.is_dir():
        raise UsageError(f"plan {plan_id} has no worktree to rework",
                         f"implement it first: hybrid implement {plan_id}")
