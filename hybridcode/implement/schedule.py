"""The scheduler: which item runs when — dependency order, the parallel pool, stop and resume.

Items whose dependencies have passed are *generated* at the same time on a thread pool
(``--parallel N``; a backend at most :data:`~hybridcode.models.registry.BACKEND_LIMITS`), but
*placed and judged one at a time* on the run's main thread, earliest in dependency order first —
so every prompt sees a settled worktree and tests never race each other. What happens inside one
attempt is :class:`~hybridcode.implement.attempt.Attempts`'.

A failed item's dependents are skipped; independent items go on. A call that could cross the
budget is not made: the run stops with status ``budget``. Ctrl-C and ``cancel`` stop it the same
way; unfinished items are parked as pending for a resume, which :meth:`Scheduler._load` picks up
from the ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hybridcode.errors import BackendUnavailableError, BudgetExceededError
from hybridcode.implement import ladder as feedback
from hybridcode.implement.attempt import (
    AttemptFailed,
    Attempts,
    Generated,
    RunCancelled,
    runner_of,
)
from hybridcode.implement.escalation import replay
from hybridcode.implement.events import HELD, Events, Item, models, now
from hybridcode.implement.ladder import NO_RETRY_ERRORS, CircuitBreaker, Ladder, Step
from hybridcode.implement.result import ImplementResult, ItemEvent, ItemOutcome
from hybridcode.implement.state import COULD_NOT_RUN, DONE_STATES, GENERATED, RunState
from hybridcode.models.registry import BACKEND_LIMITS  # concurrent calls per backend

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.judge import JudgeConfig
    from hybridcode.ledger import Ledger
    from hybridcode.models.caller import Caller
    from hybridcode.spec import Spec, SpecItem
    from hybridcode.vcs.worktree import Worktree


@dataclass
class _Job:
    item_id: str
    step: Step


class Scheduler:
    def __init__(self, settings: Settings, ledger: Ledger, caller: Caller, state: RunState,
                 spec: Spec, order: list[SpecItem], worktree: Worktree, architecture: str,
                 parallel: int, on_event: Callable[[ItemEvent], None] | None, *,
                 rework: Mapping[str, str] | None = None, judge: JudgeConfig | None = None,
                 only: frozenset[str] | None = None,
                 cancel: threading.Event | None = None,
                 allow_missing_local: bool = False) -> None:
        from hybridcode.judge import JudgeConfig
        from hybridcode.plan.routing import task_kind

        self.ledger = ledger
        self.caller = caller
        self.state = state
        self.spec = spec
        self.worktree = worktree
        self.parallel = parallel
        self.ladder = Ladder.from_settings(settings, CircuitBreaker())
        self.items = {item.id: Item(item, pos) for pos, item in enumerate(order)}
        self.kinds = {item.id: task_kind(item) for item in order}
        self.in_flight: dict[Future[Generated], _Job] = {}
        self.busy: dict[str, int] = {}
        self.queued: list[Generated] = []
        self.stopping: str | None = None
        self.cancel = cancel if cancel is not None else threading.Event()
        self.only = only
        self.allow_missing_local = allow_missing_local
        self.rework = dict(rework) if rework is not None else None
        self.events = Events(on_event)
        self.attempts = Attempts(
            settings, caller, state, spec, worktree, architecture, self.ladder,
            judge or JudgeConfig.from_settings(settings, worktree.path), self.events,
            self.items, step_name="implement" if rework is None else "fix", cancel=self.cancel)

    def note(self, message: str) -> None:
        self.events.note(message)

    # ------------------------------------------------------------------ the run

    def execute(self, had_worktree: bool) -> str:
        self.state.sync_items(self.spec, self.kinds)
        rows = self.state.items()
        if self.rework is not None:
            self.attempts.reviewed = {i: rows[i] for i in self.rework
                                      if rows[i].state == "passed"}
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
        self.attempts.judging.write_tests()
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
            return "budget" if self.stopping == "budget" else "interrupted"
        states = {item.state for item in self.items.values()}
        if states == {"passed"}:
            return "implemented"
        # Nothing failed on its merits; what did not pass could not be judged here.
        return COULD_NOT_RUN if COULD_NOT_RUN in states and "failed" not in states else "failed"

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
                self.attempts.verify(self.queued.pop(0))
                continue
            if changed:
                continue  # a state moved: look again before waiting
            if not self.in_flight:
                return
            self._collect(block=True)

    def _load(self, rows: dict) -> None:
        """Each item's starting point from the ledger (see "Resume" in :mod:`.runner`)."""
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
                self.events.emit(item, "passed", message="passed in an earlier run")
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
            if last.outcome in (GENERATED, COULD_NOT_RUN) and last.output is not None:
                # Saved, or never judged (its tests could not start): judge it, no new call.
                item.saved = (last.id, last.output)
                item.step = Step(self.ladder.rungs[last.rung], last.attempt)
            else:
                item.step = self.ladder.resume_step(item.spec, last.rung, last.attempt)
                if item.step is None:
                    item.started_at = None
            # The failing code and why, as the last run left them (an edit answer's code is
            # rebuilt from the code it edited).
            settled = history[:-1] if item.saved is not None else history
            item.previous_output, item.feedback, item.edit_problem, item.whole = replay(
                settled, item.spec)

    # ------------------------------------------------------------------ scheduling

    def _waiting(self) -> list[Item]:
        return sorted((i for i in self.items.values() if i.state in ("pending", "retrying")),
                      key=lambda i: i.pos)

    def _skip_dependents(self) -> bool:
        skipped = False
        for item in self._waiting():  # dependency order: a skip cascades in one pass
            blocked = [d for d in item.spec.depends_on
                       if self.items[d].state in ("failed", "skipped", HELD, COULD_NOT_RUN)]
            if blocked:
                dep = blocked[0]
                what = self.items[dep].state
                item.error = f"depends on {dep}, which " + (
                    "is not implemented" if what == HELD else "could not run"
                    if what == COULD_NOT_RUN else what)
                item.state = "skipped"
                if not self.attempts.keep_reviewed(item, item.error):
                    self.state.update_item(item.id, state="skipped", error=item.error,
                                           finished_at=now())
                self.events.emit(item, "skipped", message=item.error)
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
                self._queue(item, Generated(item.id, item.step, attempt_id, text),
                            "verifying the output saved by the last run")
                changed = True
                continue
            stuck = self.attempts.environment(item)
            if stuck is not None:  # its tests cannot start either: no call that cannot help
                self.attempts.stop(item, stuck)
                changed = True
                continue
            planned = self.attempts.planned(item)
            if planned is not None:
                self._queue(item, planned, "verifying the code written in the plan")
                changed = True
                continue
            step = self.attempts.current_step(item)
            if step is None:
                self.attempts.fail(item, "no rung of the implementer ladder is left on in "
                                   "this run (the circuit breaker switched them off)")
                changed = True
                continue
            backend = step.rung.spec.backend
            limit = min(self.parallel, BACKEND_LIMITS.get(backend, self.parallel))
            if self.busy.get(backend, 0) >= limit or self._paid_call_waits(item, step):
                continue
            request = self.attempts.request(item, step)
            changed = True
            if request is None:
                continue  # failed, or climbing to another rung
            self.busy[backend] = self.busy.get(backend, 0) + 1
            if item.started_at is None:
                item.started_at = now()
            self.state.update_item(item.id, state="running", started_at=item.started_at,
                                   run_id=self.state.run_id, error=None)
            item.state = "generating"
            self.events.start_clock(item)
            self.in_flight[pool.submit(self.attempts.generate, item, step, request)] = \
                _Job(item.id, step)
            self.events.emit(item, "generating")
        return changed

    def _paid_call_waits(self, item: Item, step: Step) -> bool:
        """A paid call waits until the run has seen its item's test runner start: while
        another item judged by the same runner is being generated or judged, or a local item
        of that runner is ready to go first — its verdict tells whether the tests can start
        here at all. (Tests that cannot start make every answer "could not run", and a paid
        answer cannot help that.) At most one paid call goes first when no local item can."""
        if not step.rung.is_claude:
            return False
        runner = runner_of(item)
        if runner is None or runner in self.attempts.started:
            return False
        for other in self.items.values():
            if other is item or runner_of(other) != runner:
                continue
            if other.state in ("generating", "queued", "verifying"):
                return True
            ready = other.state in ("pending", "retrying") and all(
                self.items[d].state == "passed" for d in other.spec.depends_on)
            nxt = other.step.rung if other.step is not None else \
                self.ladder.live_from(self.ladder.first_index(other.spec))
            if ready and nxt is not None and not nxt.is_claude:
                return True
        return False

    def _queue(self, item: Item, generated: Generated, message: str) -> None:
        """An answer that needs no call (saved by the last run, or written in the plan)."""
        self.events.start_clock(item)
        self.queued.append(generated)
        item.state = "queued"
        self.events.emit(item, "queued", message=message)

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
            except AttemptFailed as failed:
                if isinstance(failed.error, BackendUnavailableError) and \
                        not job.step.rung.is_claude:
                    self._unreachable(item, job.step, failed.error)
                    continue
                self.attempts.attempt_failed(item, job.step, None, "model_error",
                                             feedback.error_feedback(failed.error),
                                             climb=isinstance(failed.error, NO_RETRY_ERRORS))
            else:
                self.queued.append(generated)
                item.state = "queued"
                self.events.emit(item, "queued")

    def _unreachable(self, item: Item, step: Step, error: BackendUnavailableError) -> None:
        """A local server that stopped answering mid-run ("cannot reach Ollama at …") is not
        the model failing: it is said as it is, not counted three times until the breaker
        "switches the rung off". As before the run (:mod:`.preflight`), its items go to the
        next rung up only when the user accepts that (``--allow-missing-local``); otherwise the
        run stops, and ``--resume`` continues once the server is back."""
        from hybridcode.implement.preflight import ALLOW_FLAG

        rung = step.rung
        why = str(error)
        if self.allow_missing_local:
            if rung.index not in self.attempts.unavailable:
                self.attempts.unavailable[rung.index] = f"{rung.label}: {error.message}"
                self.ladder.breaker.switch_off(rung.index)
                self.note(f"{why}; {rung.label}'s items go to the next rung up ({ALLOW_FLAG})")
            self.attempts.attempt_failed(item, step, None, "model_error",
                                         feedback.error_feedback(error), climb=True)
            return
        item.attempts -= 1  # nothing was answered: the resume tries this attempt again
        self._wait_again(item, "pending")
        if not self.stopping:
            self.stopping = error.message
            self.note(f"stopped: {why}; then hybrid implement {self.state.plan_id} --resume "
                      f"(or pass {ALLOW_FLAG} to send its items to the next rung up, paid if "
                      "that is Claude)")

    def _wait_again(self, item: Item, state: str) -> None:
        item.state = state
        self.events.stop_clock(item)
        self.events.emit(item, "stopped" if self.stopping else state)

    def _park_unfinished(self, reason: str) -> None:
        """Items not settled go back to pending; their attempts so far stay for the resume."""
        for item in self.items.values():
            if item.state in DONE_STATES or item.state == HELD:
                continue
            item.state = "pending"
            self.events.stop_clock(item)
            if not self.attempts.keep_reviewed(item, f"not finished: {reason}"):
                self.state.update_item(item.id, state="pending",
                                       error=f"not finished: {reason}")
            self.events.emit(item, "stopped", message=reason)

    # ------------------------------------------------------------------ reporting

    def models(self) -> dict[str, str]:
        return models(self.items.values())

    def result(self, status: str, wall_s: float) -> ImplementResult:
        rows = self.ledger.query(
            "SELECT is_local, TOTAL(input_tokens + output_tokens + cache_write_tokens + "
            "cache_read_tokens) FROM calls WHERE run_id = ? GROUP BY is_local",
            (self.state.run_id,))
        tokens = {bool(row[0]): int(row[1]) for row in rows}
        outcomes = [ItemOutcome(
            i.id, i.state if i.state in DONE_STATES else "pending",
            i.step.rung.index if i.step else None, i.author,
            i.attempts, i.tokens, round(i.elapsed, 3), i.error, i.escalation)
            for i in sorted(self.items.values(), key=lambda i: i.pos)]
        return ImplementResult(
            plan_id=self.state.plan_id, run_id=self.state.run_id or "", status=status,
            worktree=self.worktree.path, branch=self.worktree.branch, items=outcomes,
            claude_usd=self.caller.spent, local_tokens=tokens.get(True, 0),
            claude_tokens=tokens.get(False, 0), wall_s=wall_s,
            messages=list(self.events.messages))
