"""``implement_plan``: every spec item implemented in the plan's worktree, verified by its tests.

    result = implement_plan(root, "251123-rate-limit", parallel=4, budget_usd=2.0,
                            on_event=show)          # → ImplementResult

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
  the next rung. A failed item's dependents are skipped; independent items go on.
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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import (
    BudgetExceededError,
    ContextOverflowError,
    HybridError,
    ModelError,
    PlacementError,
    UsageError,
)
from hybridcode.implement import ladder as feedback
from hybridcode.implement.ladder import NO_RETRY_ERRORS, CircuitBreaker, Ladder, Rung, Step
from hybridcode.implement.preflight import ALLOW_FLAG, MissingRung, missing_local_rungs, refuse
from hybridcode.implement.result import ImplementResult, ItemEvent, ItemOutcome
from hybridcode.implement.state import (
    DONE_STATES,
    GENERATED,
    ItemRow,
    PlanLock,
    RunState,
    sha256_text,
)
from hybridcode.models.base import Usage
from hybridcode.models.registry import BACKEND_LIMITS  # concurrent calls per backend
from hybridcode.plan.store import ARCHITECTURE, PlanStore
from hybridcode.text import plural

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger
    from hybridcode.models.base import ModelRequest, Progress
    from hybridcode.judge import JudgeConfig
    from hybridcode.models.caller import Caller
    from hybridcode.spec import Spec, SpecItem
    from hybridcode.vcs.worktree import Worktree

# Output allowance for one item's code: enough for a class with its methods, and what the
# budget estimate reserves per Claude call.
OUTPUT_TOKENS = 4096
PROGRESS_INTERVAL_S = 0.1  # live token counts: at most ten updates a second per item
__all__ = ["ImplementResult", "ItemEvent", "ItemOutcome", "RunCancelled", "implement_plan"]

RUN_STATUS = {"implemented": "ok", "failed": "failed", "budget": "budget",
              "interrupted": "interrupted"}
# In a rework run, an item that is neither reworked nor passed: left as it is, not run.
HELD = "held"


class RunCancelled(HybridError):
    """Raised inside a streaming call's progress callback to stop it when the run is cancelled."""


class _AttemptFailed(Exception):
    def __init__(self, error: ModelError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Job:
    item_id: str
    step: Step
    request: ModelRequest


@dataclass
class _Generated:
    item_id: str
    step: Step
    attempt_id: str
    text: str


@dataclass
class _Item:
    """One item's progress in this run (the ledger holds the durable copy)."""

    spec: SpecItem
    pos: int
    state: str = "pending"  # pending / generating / queued / verifying / passed / failed /
    #                         skipped / held (rework runs: not part of this run)
    step: Step | None = None
    from_plan: bool = False  # ``step`` (attempt 0) judges the code written in the plan
    feedback: str | None = None
    review: str | None = None  # the reviewer's findings, in a rework run
    previous_output: str | None = None
    saved: tuple[str, str] | None = None  # (attempt id, output) to verify without a call
    started_at: str | None = None
    attempts: int = 0
    escalated: bool = False
    escalation: str | None = None  # "<from> → <to>: <why>", shown and stored
    tokens: int = 0
    live_tokens: int = 0
    clock: float | None = None
    elapsed: float = 0.0
    error: str | None = None

    @property
    def id(self) -> str:
        return self.spec.id


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
        run = _Run(settings, ledger, caller, state, spec, order, worktree, architecture,
                   parallel, on_event, rework=rework, only=only, cancel=cancel, judge=judge)
        for stale_id in stale:
            run.note(f"run {stale_id} of this plan was killed before it finished; "
                     "marked interrupted in the ledger")
        run.switch_off(missing)
        if not sandbox.isolates:
            run.note(f"sandbox {sandbox.describe()}")
        run.planner_model = meta.planner_model or ""
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


class _Run:
    def __init__(self, settings: Settings, ledger: Ledger, caller: Caller, state: RunState,
                 spec: Spec, order: list[SpecItem], worktree: Worktree, architecture: str,
                 parallel: int, on_event: Callable[[ItemEvent], None] | None, *,
                 rework: Mapping[str, str] | None = None, judge: JudgeConfig | None = None,
                 only: frozenset[str] | None = None,
                 cancel: threading.Event | None = None) -> None:
        from hybridcode.judge import JudgeConfig
        from hybridcode.plan.routing import task_kind

        self.settings = settings
        self.judge = judge or JudgeConfig.from_settings(settings, worktree.path)
        self.ledger = ledger
        self.caller = caller
        self.state = state
        self.spec = spec
        self.worktree = worktree
        self.architecture = architecture
        self.parallel = parallel
        self.on_event = on_event
        self.ladder = Ladder.from_settings(settings, CircuitBreaker())
        self.items = {item.id: _Item(item, pos) for pos, item in enumerate(order)}
        self.kinds = {item.id: task_kind(item) for item in order}
        self.in_flight: dict[Future[_Generated], _Job] = {}
        self.busy: dict[str, int] = {}
        self.queued: list[_Generated] = []
        self.stopping: str | None = None
        self.cancel = cancel if cancel is not None else threading.Event()
        self.only = only
        self.messages: list[str] = []
        self.checksums: dict[str, str] = {}
        self._lock = threading.Lock()  # item token counters and event delivery
        self._last_progress: dict[str, float] = {}
        self.rework = dict(rework) if rework is not None else None
        self.step_name = "implement" if rework is None else "fix"
        # Ledger rows of reworked items that had passed: put back when the rework does not pass.
        self.reviewed: dict[str, ItemRow] = {}
        self.unavailable: dict[int, str] = {}  # rung index → why it is off (missing model)

    def switch_off(self, missing: list[MissingRung]) -> None:
        """Rungs found not ready before the run (allowed by --allow-missing-local): off for
        the whole run, said once here and again by every item that starts above them."""
        for rung in missing:
            self.ladder.breaker.switch_off(rung.index)
            self.unavailable[rung.index] = f"{rung.label} is not ready ({rung.reason})"
            self.note(f"{rung.label} is not ready ({rung.reason}); its items start on the next "
                      f"rung up ({ALLOW_FLAG})")
        self._shared_prefix: tuple | None = None
        self.planner_model = ""  # names the code an item's plan carried (attempt "model")

    # ------------------------------------------------------------------ the run

    def execute(self, had_worktree: bool) -> str:
        from hybridcode.implement.acceptance import write_acceptance_tests

        self.state.sync_items(self.spec, self.kinds)
        rows = self.state.items()
        if self.rework is not None:
            self.reviewed = {i: rows[i] for i in self.rework if rows[i].state == "passed"}
            self.state.reset_items(list(self.rework))
            rows = self.state.items()
        if not had_worktree:
            # A new worktree starts at the base commit: code of earlier passes is gone with the
            # old one, and an unsettled snapshot belongs to files that no longer exist.
            self.state.clear_snapshot()
            if any(row.state != "pending" or row.attempts for row in rows.values()):
                self.note("the plan's worktree was removed; implementing every item again")
                self.state.reset_items(list(rows))
                rows = self.state.items()
        else:
            recovered = self.state.recover_snapshot(self.worktree.path)
            if recovered:
                self.note(f"rolled back the half-applied code of {recovered} from the "
                          "interrupted run")
        self.checksums = write_acceptance_tests(self.worktree.path, self.spec)
        self._load(rows)
        self.state.write_summary("implementing", self.models())

        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="hybrid-gen")
        try:
            self._loop(pool)
        except BaseException:
            # Ctrl-C or a fatal error: stop streaming calls at their next chunk, forget queued
            # ones, and persist where every item stands.
            self.cancel.set()
            self._shutdown(pool)
            self._park_unfinished("interrupted")
            raise
        pool.shutdown(wait=True)
        if self.stopping:
            self._park_unfinished(self.stopping)
            return "budget"
        states = {item.state for item in self.items.values()}
        return "implemented" if states == {"passed"} else "failed"

    def _shutdown(self, pool: ThreadPoolExecutor) -> None:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait for calls still connecting
            pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            if self.cancel.is_set():  # set by another thread (see "Cancellation")
                raise RunCancelled("the run was cancelled")
            self._collect(block=False)
            # Fill free generation slots before verifying, so the model keeps working while
            # the tests run.
            changed = self._skip_dependents()
            changed = self._submit(pool) or changed
            if self.queued:
                self.queued.sort(key=lambda g: self.items[g.item_id].pos)
                self._verify(self.queued.pop(0))
                continue
            if changed:
                continue  # a state moved: look again before waiting
            if not self.in_flight:
                return
            self._collect(block=True)

    def _load(self, rows: dict) -> None:
        """Each item's starting point from the ledger (see "Resume" in the module docstring)."""
        for item in self.items.values():
            row = rows.get(item.id)
            if self.rework is not None and item.id in self.rework:
                item.review = self.rework[item.id]
                continue  # reset above: a fresh ladder
            if self.rework is not None and (row is None or row.state != "passed"):
                item.state = HELD
                continue
            if row is not None and row.state == "passed":
                item.state = "passed"
                if row.rung is not None and 0 <= row.rung < len(self.ladder.rungs):
                    item.step = Step(self.ladder.rungs[row.rung], 0)
                self.emit(item, "passed", message="passed in an earlier run")
                continue
            if self.only is not None and item.id not in self.only:
                item.state = HELD
                continue
            if row is None or row.state in ("failed", "skipped") or not row.started_at:
                continue  # a fresh ladder
            item.started_at = row.started_at
            history = self.state.attempts(item.id, since=row.started_at)
            if not history:
                continue
            last = history[-1]
            if not 0 <= last.rung < len(self.ladder.rungs):
                item.started_at = None  # the ladder changed since: start over
                continue
            item.escalated = row.escalated
            item.escalation = row.escalation
            if last.outcome == GENERATED and last.output is not None:
                item.saved = (last.id, last.output)
                item.step = Step(self.ladder.rungs[last.rung], last.attempt)
            else:
                item.step = self.ladder.resume_step(item.spec, last.rung, last.attempt)
                item.feedback = last.feedback
                item.previous_output = next((a.output for a in reversed(history)
                                             if a.output), None)
                if item.step is None:
                    item.started_at = None

    # ------------------------------------------------------------------ scheduling

    def _waiting(self) -> list[_Item]:
        return sorted((i for i in self.items.values() if i.state in ("pending", "retrying")),
                      key=lambda i: i.pos)

    def _skip_dependents(self) -> bool:
        skipped = False
        for item in self._waiting():  # dependency order: a skip cascades in one pass
            blocked = [d for d in item.spec.depends_on
                       if self.items[d].state in ("failed", "skipped", HELD)]
            if blocked:
                dep = blocked[0]
                what = self.items[dep].state
                item.error = f"depends on {dep}, which " + (
                    "is not implemented" if what == HELD else what)
                item.state = "skipped"
                if not self._keep_reviewed(item, item.error):
                    self.state.update_item(item.id, state="skipped", error=item.error,
                                           finished_at=_now())
                self.emit(item, "skipped", message=item.error)
                self.state.write_summary("implementing", self.models())
                skipped = True
        return skipped

    def _submit(self, pool: ThreadPoolExecutor) -> bool:
        """Start what may start; True when any item changed state."""
        if self.stopping or self.cancel.is_set():
            return False
        changed = False
        for item in self._waiting():
            if len(self.in_flight) >= self.parallel:
                break
            if not all(self.items[d].state == "passed" for d in item.spec.depends_on):
                continue
            if item.saved is not None:
                attempt_id, text = item.saved
                item.saved = None
                assert item.step is not None
                self._start_clock(item)
                self.queued.append(_Generated(item.id, item.step, attempt_id, text))
                item.state = "queued"
                self.emit(item, "queued", message="verifying the output saved by the last run")
                changed = True
                continue
            if self._queue_planned(item):
                changed = True
                continue
            step = self._current_step(item)
            if step is None:
                self._fail(item, "no rung of the implementer ladder is left on in this run "
                           "(the circuit breaker switched them off)")
                changed = True
                continue
            backend = step.rung.spec.backend
            limit = min(self.parallel, BACKEND_LIMITS.get(backend, self.parallel))
            if self.busy.get(backend, 0) >= limit:
                continue
            request = self._request(item, step)
            changed = True
            if request is None:
                continue  # failed, or climbing to another rung
            self.busy[backend] = self.busy.get(backend, 0) + 1
            if item.started_at is None:
                item.started_at = _now()
            self.state.update_item(item.id, state="running", started_at=item.started_at,
                                   run_id=self.state.run_id, error=None)
            item.state = "generating"
            self._start_clock(item)
            job = _Job(item.id, step, request)
            self.in_flight[pool.submit(self._generate, job)] = job
            self.emit(item, "generating")
        return changed

    def _prefix(self):
        """The plan's shared prompt prefix (built once), for Claude rungs."""
        if self._shared_prefix is None:
            from hybridcode.plan.prefix import plan_prefix

            self._shared_prefix = plan_prefix(self.state.dir, self.architecture)
        return self._shared_prefix

    def _queue_planned(self, item: _Item) -> bool:
        """An item written in the plan: its code is the first attempt, verified like a model's
        answer but with no call. It counts as attempt 0 of the item's first rung, so when it
        fails, that rung's attempts follow with the test output as feedback."""
        code = item.spec.code
        if item.spec.route != "plan" or not (code or "").strip() or item.step is not None:
            return False
        rung = self.ladder.live_from(self.ladder.first_index(item.spec))
        if rung is None:
            return False
        item.step = Step(rung, 0)
        item.from_plan = True
        item.attempts += 1
        if item.started_at is None:
            item.started_at = _now()
        self.state.update_item(item.id, state="running", started_at=item.started_at,
                               run_id=self.state.run_id, error=None)
        text = f"```{_fence_tag(item.spec.file)}\n{code.strip()}\n```\n"
        label = f"plan:{self.planner_model}" if self.planner_model else "plan"
        attempt_id = self.state.save_output(item.id, rung.index, 0, label, text, "", 0)
        self._start_clock(item)
        self.queued.append(_Generated(item.id, item.step, attempt_id, text))
        item.state = "queued"
        self.emit(item, "queued", message="verifying the code written in the plan")
        return True

    def _current_step(self, item: _Item) -> Step | None:
        """The item's next step, moved past rungs the breaker switched off since it was set."""
        if item.step is None:
            first = self.ladder.rungs[self.ladder.first_index(item.spec)]
            item.step = self.ladder.start(item.spec)
            if item.step is not None and item.step.rung.index != first.index:
                self._escalate(item, first, item.step.rung, self._off_reason(first))
        elif self.ladder.breaker.is_open(item.step.rung.index):
            before = item.step.rung
            item.step = self.ladder.after_failure(item.step, climb=True)
            if item.step is not None:
                self._escalate(item, before, item.step.rung, self._off_reason(before))
        return item.step

    def _off_reason(self, rung: Rung) -> str:
        return self.unavailable.get(rung.index) or (
            f"{rung.label} is switched off for this run "
            f"({self.ladder.breaker.threshold} failures in a row)")

    def _escalate(self, item: _Item, frm: Rung, to: Rung, why: str) -> None:
        """Every climb says why, in the run's messages (and so the live table) and the ledger."""
        item.escalated = True
        item.escalation = f"{frm.label} → {to.label}: {why}"
        self.note(f"{item.id}: escalating from {frm.label} to {to.label} — {why}")
        self.state.update_item(item.id, escalated=True, escalation=item.escalation)

    def _request(self, item: _Item, step: Step) -> ModelRequest | None:
        """Build the prompt on the main thread, so it reads a worktree no one is writing."""
        from hybridcode.implement.prompt import build_item_request

        window = self.settings.ollama.num_ctx_max if step.rung.spec.backend == "ollama" else None
        try:
            return build_item_request(item.spec, self.spec, self.architecture,
                                      self.worktree.path,
                                      feedback=item.feedback,
                                      previous_output=item.previous_output,
                                      review=item.review,
                                      window_tokens=window,
                                      output_tokens=min(OUTPUT_TOKENS,
                                                        step.rung.spec.max_output_tokens),
                                      prefix=self._prefix() if step.rung.is_claude else ())
        except UsageError:
            raise
        except ContextOverflowError as exc:  # too big for this rung's window: climb
            self._attempt_failed(item, step, None, "model_error",
                                 feedback.error_feedback(exc), climb=True)
        except HybridError as exc:  # no model can work without its context
            self._fail(item, f"cannot build the prompt: {exc}")
        return None

    # ------------------------------------------------------------------ generation (workers)

    def _generate(self, job: _Job) -> _Generated:
        item = self.items[job.item_id]
        if self.cancel.is_set():
            raise RunCancelled("the run was interrupted")
        rung = job.step.rung

        def on_progress(progress: Progress) -> None:
            if self.cancel.is_set():
                raise RunCancelled("the run was interrupted")
            with self._lock:
                item.live_tokens = progress.output_tokens
                now = time.monotonic()
                if now - self._last_progress.get(item.id, 0.0) < PROGRESS_INTERVAL_S:
                    return
                self._last_progress[item.id] = now
            self.emit(item, "generating")

        started = time.monotonic()
        prompt = self.caller.vet(job.request)[0].prompt_text()  # what is sent, secrets removed
        try:
            result = self.caller.call(rung.spec, job.request, step=self.step_name,
                                      tier="implementer", item_id=item.id, rung=rung.index,
                                      on_progress=on_progress)
        except ModelError as exc:
            usage = exc.usage
            if isinstance(usage, Usage):  # what the failed call still consumed
                self._add_tokens(item, usage.total_input + usage.output_tokens)
            self.state.save_model_error(item.id, rung.index, job.step.attempt, rung.label,
                                        feedback.error_feedback(exc), prompt,
                                        int((time.monotonic() - started) * 1000))
            raise _AttemptFailed(exc) from exc
        finally:
            with self._lock:
                item.live_tokens = 0
        self._add_tokens(item, result.usage.total_input + result.usage.output_tokens)
        attempt_id = self.state.save_output(item.id, rung.index, job.step.attempt, rung.label,
                                            result.text, prompt,
                                            int((time.monotonic() - started) * 1000))
        return _Generated(item.id, job.step, attempt_id, result.text)

    def _add_tokens(self, item: _Item, tokens: int) -> None:
        with self._lock:
            item.tokens += tokens

    def _collect(self, block: bool) -> None:
        if not self.in_flight:
            return
        if block:
            done, _ = wait(list(self.in_flight), timeout=1.0, return_when=FIRST_COMPLETED)
        else:
            done = {f for f in self.in_flight if f.done()}
        for future in sorted(done, key=lambda f: self.items[self.in_flight[f].item_id].pos):
            job = self.in_flight.pop(future)
            backend = job.step.rung.spec.backend
            self.busy[backend] -= 1
            item = self.items[job.item_id]
            item.attempts += 1
            try:
                generated = future.result()
            except BudgetExceededError as exc:
                item.attempts -= 1  # no call was made
                self._wait_again(item, "pending")
                if not self.stopping:
                    self.stopping = "budget"
                    self.note(f"stopped: {exc}")
            except RunCancelled:
                item.attempts -= 1
                self._wait_again(item, "pending")
            except _AttemptFailed as failed:
                self._attempt_failed(item, job.step, None, "model_error",
                                     feedback.error_feedback(failed.error),
                                     climb=isinstance(failed.error, NO_RETRY_ERRORS))
            else:
                self.queued.append(generated)
                item.state = "queued"
                self.emit(item, "queued")

    def _wait_again(self, item: _Item, state: str) -> None:
        item.state = state
        self._stop_clock(item)
        self.emit(item, "stopped" if self.stopping else state)

    # ------------------------------------------------------------------ verification (main)

    def _verify(self, gen: _Generated) -> None:
        from hybridcode.implement.apply import RefusedOutputError, apply_item, revert
        from hybridcode.implement.parse import OutputParseError, parse_code
        from hybridcode.implement.verify import verify_item
        from hybridcode.judge import Snapshot

        item = self.items[gen.item_id]
        item.state = "verifying"
        self.emit(item, "verifying", rung=gen.step.rung.index)
        try:
            parsed = parse_code(gen.text, item.spec)
        except OutputParseError as exc:
            self._attempt_failed(item, gen.step, gen.attempt_id, "syntax_error",
                                 feedback.parse_feedback(exc.message), output=gen.text)
            return
        wt = self.worktree.path
        self.state.save_snapshot(wt, item.id, gen.attempt_id, [item.spec.file])
        # The whole worktree as it was: an attempt may change only its item's file.
        before = Snapshot.take(wt)
        allowed = {item.spec.file}
        change = None
        settled = False
        try:
            try:
                change = apply_item(wt, item.spec, parsed, set(self.checksums))
            except RefusedOutputError as exc:
                self.state.restore_snapshot(wt)
                settled = True
                self._attempt_failed(item, gen.step, gen.attempt_id, "refused",
                                     feedback.refused_feedback(str(exc)), output=gen.text)
                return
            except PlacementError as exc:
                self.state.restore_snapshot(wt)
                settled = True
                self._attempt_failed(item, gen.step, gen.attempt_id, "placement_error",
                                     feedback.placement_feedback(exc), output=gen.text)
                return
            if self._stray_changes(item, gen, before, allowed, "placing it"):
                settled = True
                return
            if not self._tests_intact("before"):
                settled = True
                self._refuse_tampered(item, gen, change, "placing it")
                return
            placed = (wt / item.spec.file).read_bytes()
            passed = [i.id for i in sorted(self.items.values(), key=lambda i: i.pos)
                      if i.state == "passed"]
            result = verify_item(wt, item.spec, self.spec, passed, self.judge)
            target = wt / item.spec.file
            if not target.is_file() or target.read_bytes() != placed:
                allowed = set()  # the tests rewrote the item's own file: that is stray too
            if self._stray_changes(item, gen, before, allowed, "running its tests"):
                settled = True
                return
            if not self._tests_intact("after"):
                settled = True
                self._refuse_tampered(item, gen, change, "running it")
                return
            if result.ok:
                self._pass(item, gen, sha256_text(parsed.code))
                self.state.clear_snapshot()
                settled = True
                return
            revert(wt, change)
            self.state.clear_snapshot()
            settled = True
            outcome = "syntax_error" if result.stage == "syntax" else "test_failed"
            self._attempt_failed(item, gen.step, gen.attempt_id, outcome,
                                 feedback.test_feedback(result.stage, result.output),
                                 output=gen.text)
        finally:
            if not settled and self.state.snapshot_path.is_file():
                # Ctrl-C or an error mid-way: put the files back; the saved output stays
                # "generated", so a resume verifies it again without paying for it.
                self.state.restore_snapshot(wt)
                before.restore(wt)

    def _stray_changes(self, item: _Item, gen: _Generated, before, allowed: set[str],
                       when: str) -> bool:
        """Refuse the attempt when anything besides ``allowed`` was created, changed or
        deleted since ``before``; the whole worktree is then restored from it."""
        stray = before.changes(self.worktree.path, allowed)
        if not stray:
            return False
        before.restore(self.worktree.path)
        self.state.clear_snapshot()
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        self.note(f"{item.id}: {when} {shown}; refused the attempt and restored the worktree")
        self._attempt_failed(item, gen.step, gen.attempt_id, "refused",
                             feedback.refused_feedback(
                                 f"{when} {shown} — an attempt may change only "
                                 f"{item.spec.file}; the whole worktree was restored"),
                             output=gen.text)
        return True

    def _refuse_tampered(self, item, gen, change, what: str) -> None:
        """The acceptance tests changed while ``what`` happened: undo the item's change and
        refuse this output (the tests were already restored by :meth:`_tests_intact`)."""
        from hybridcode.implement.apply import revert

        revert(self.worktree.path, change)
        self.state.clear_snapshot()
        self._attempt_failed(item, gen.step, gen.attempt_id, "refused",
                             feedback.refused_feedback(f"{what} changed the acceptance tests"),
                             output=gen.text)

    def _tests_intact(self, when: str) -> bool:
        from hybridcode.implement.acceptance import (
            check_acceptance_tests,
            write_acceptance_tests,
        )

        changed = check_acceptance_tests(self.worktree.path, self.checksums)
        if not changed:
            return True
        self.checksums = write_acceptance_tests(self.worktree.path, self.spec)
        self.note(f"acceptance tests changed {when} a test run ({', '.join(sorted(changed))}); "
                  "restored them and refused that output")
        return False

    # ------------------------------------------------------------------ outcomes

    def _pass(self, item: _Item, gen: _Generated, code_sha: str) -> None:
        self.ladder.breaker.record(gen.step.rung.index, ok=True)
        item.state = "passed"
        item.step = gen.step
        item.error = None
        self._stop_clock(item)
        self.state.settle_attempt(gen.attempt_id, "passed", item_id=item.id, item_fields={
            "state": "passed", "rung": gen.step.rung.index, "escalated": item.escalated,
            "finished_at": _now(), "error": None, "code_sha256": code_sha})
        self.emit(item, "passed")
        self.state.write_summary("implementing", self.models())

    def _attempt_failed(self, item: _Item, step: Step, attempt_id: str | None, outcome: str,
                        text: str, *, climb: bool = False, output: str | None = None) -> None:
        if attempt_id is not None:
            self.state.settle_attempt(attempt_id, outcome, text)
        if self.ladder.breaker.record(step.rung.index, ok=False):
            self.note(f"{step.rung.label} failed {self.ladder.breaker.threshold} times in a "
                      "row; switched off for the rest of this run")
        item.feedback = text
        if output is not None:
            item.previous_output = output
        item.error = feedback.headline(text) or outcome
        nxt = self.ladder.after_failure(step, climb=climb)
        if nxt is None:
            self._fail(item, item.error)
            return
        message = item.error
        if nxt.rung.index != step.rung.index:
            if climb:
                why = f"{step.rung.label} cannot serve it: {item.error}"
            elif self.ladder.breaker.is_open(step.rung.index):
                why = self._off_reason(step.rung)
            else:
                why = (f"{plural(step.attempt, 'failed attempt')} on {step.rung.label}, "
                       f"last: {item.error}")
            self._escalate(item, step.rung, nxt.rung, why)
            message = f"escalated: {why}"
        item.step = nxt
        item.state = "retrying"
        self.state.update_item(item.id, state="running", escalated=item.escalated)
        self.emit(item, "retrying", message=message)

    def _fail(self, item: _Item, error: str) -> None:
        item.state = "failed"
        item.error = error
        self._stop_clock(item)
        if not self._keep_reviewed(item, error):
            self.state.update_item(item.id, state="failed", error=error, finished_at=_now(),
                                   escalated=item.escalated)
        self.emit(item, "failed", message=error)
        self.state.write_summary("implementing", self.models())

    def _park_unfinished(self, reason: str) -> None:
        """Items not settled go back to pending; their attempts so far stay for the resume."""
        for item in self.items.values():
            if item.state in DONE_STATES or item.state == HELD:
                continue
            item.state = "pending"
            self._stop_clock(item)
            if not self._keep_reviewed(item, f"not finished: {reason}"):
                self.state.update_item(item.id, state="pending",
                                       error=f"not finished: {reason}")
            self.emit(item, "stopped", message=reason)

    def _keep_reviewed(self, item: _Item, why: str) -> bool:
        """A reworked item that passed before and not now keeps its reviewed code (its failed
        attempts were reverted), so its ledger row says passed again, with what happened.
        False when the item is not such an item (its row is the caller's to write)."""
        row = self.reviewed.get(item.id)
        if row is None:
            return False
        self.state.update_item(item.id, state="passed", rung=row.rung, attempts=row.attempts,
                               escalated=row.escalated, started_at=row.started_at,
                               finished_at=row.finished_at, code_sha256=row.code_sha256,
                               error=f"rework not accepted ({why}); the reviewed code is kept")
        return True

    # ------------------------------------------------------------------ reporting

    def note(self, message: str) -> None:
        self.messages.append(message)
        self._deliver(ItemEvent(None, "message", message=message))

    def emit(self, item: _Item, state: str, *, rung: int | None = None,
             message: str = "") -> None:
        step = item.step
        with self._lock:
            tokens = item.tokens + item.live_tokens
            elapsed = item.elapsed + (time.monotonic() - item.clock if item.clock else 0.0)
        self._deliver(ItemEvent(
            item.id, state, rung=rung if rung is not None else (step.rung.index if step else None),
            model=self._author(item), attempt=step.attempt if step else 0,
            written_in_plan=item.from_plan and step is not None and step.attempt == 0,
            tokens=tokens, elapsed_s=elapsed,
            message=message or (f"escalated: {item.escalation.split(': ', 1)[-1]}"
                                if item.escalation else "")))

    def _deliver(self, event: ItemEvent) -> None:
        if self.on_event is not None:
            with self._lock:
                self.on_event(event)

    def _start_clock(self, item: _Item) -> None:
        with self._lock:
            if item.clock is None:
                item.clock = time.monotonic()

    def _stop_clock(self, item: _Item) -> None:
        with self._lock:
            if item.clock is not None:
                item.elapsed += time.monotonic() - item.clock
                item.clock = None

    def models(self) -> dict[str, str]:
        return {i.id: self._author(i) for i in self.items.values() if i.step is not None}

    def _author(self, item: _Item) -> str:
        """Who wrote the item's current code: its rung's model, or — for code written in the
        plan, attempt 0 of its first rung — the planner (no implementer model ran)."""
        if item.step is None:
            return ""
        if item.from_plan and item.step.attempt == 0:
            return f"plan:{self.planner_model}" if self.planner_model else "plan"
        return item.step.rung.label

    def result(self, status: str, wall_s: float) -> ImplementResult:
        rows = self.ledger.query(
            "SELECT is_local, TOTAL(input_tokens + output_tokens + cache_write_tokens + "
            "cache_read_tokens) FROM calls WHERE run_id = ? GROUP BY is_local",
            (self.state.run_id,))
        tokens = {bool(row[0]): int(row[1]) for row in rows}
        outcomes = [ItemOutcome(
            i.id, i.state if i.state in DONE_STATES else "pending",
            i.step.rung.index if i.step else None, self._author(i),
            i.attempts, i.tokens, round(i.elapsed, 3), i.error, i.escalation)
            for i in sorted(self.items.values(), key=lambda i: i.pos)]
        return ImplementResult(
            plan_id=self.state.plan_id, run_id=self.state.run_id or "", status=status,
            worktree=self.worktree.path, branch=self.worktree.branch, items=outcomes,
            claude_usd=self.caller.spent, local_tokens=tokens.get(True, 0),
            claude_tokens=tokens.get(False, 0), wall_s=wall_s, messages=list(self.messages))


def _fence_tag(path: str) -> str:
    from hybridcode.context.languages import language_for_path

    return language_for_path(path) or ""


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
