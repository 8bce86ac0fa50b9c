"""One item's attempt lifecycle: prompt → answer → place → judge → feedback → escalate.

:class:`Attempts` knows nothing of the DAG, the thread pool or the budget — that is the
scheduler's (:mod:`.schedule`). It builds an item's prompt for its current rung, makes the call
(on a worker thread), places the answer in the worktree and judges it (on the run's main
thread, one item at a time), and settles the outcome: passed, or a failure whose feedback goes
into the next attempt while the ladder (:mod:`.ladder`) says whether that attempt is on the same
rung, the next one up, or none (the item has failed).

Model-written code is hostile: an attempt may change only its item's file. Anything else it
creates, changes or deletes — while being placed or while its tests run — refuses the attempt
and restores the whole worktree; the acceptance tests' checksums are checked before and after
every test run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hybridcode.errors import (
    ContextOverflowError,
    HybridError,
    ModelError,
    PlacementError,
    UsageError,
)
from hybridcode.implement import ladder as feedback
from hybridcode.implement.events import Events, Item, models, now
from hybridcode.implement.ladder import Ladder, Rung, Step
from hybridcode.implement.state import COULD_NOT_RUN, ItemRow, RunState, sha256_text
from hybridcode.models.base import Usage
from hybridcode.text import plural

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.implement.preflight import MissingRung
    from hybridcode.judge import JudgeConfig
    from hybridcode.models.base import ModelRequest, Progress
    from hybridcode.models.caller import Caller
    from hybridcode.spec import Spec
    from hybridcode.vcs.worktree import Worktree

# Output allowance for one item's code: enough for a class with its methods, and what the
# budget estimate reserves per Claude call.
OUTPUT_TOKENS = 4096


class RunCancelled(HybridError):
    """Raised inside a streaming call's progress callback to stop it when the run is cancelled."""


class AttemptFailed(Exception):
    """A call that failed with a model error (its feedback is already saved as the attempt)."""

    def __init__(self, error: ModelError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Generated:
    """An answer saved in the ledger (outcome "generated"), waiting to be placed and judged."""

    item_id: str
    step: Step
    attempt_id: str
    text: str


class Attempts:
    def __init__(self, settings: Settings, caller: Caller, state: RunState, spec: Spec,
                 worktree: Worktree, architecture: str, ladder: Ladder, judge: JudgeConfig,
                 events: Events, items: dict[str, Item], *, step_name: str,
                 cancel: threading.Event) -> None:
        self.settings = settings
        self.caller = caller
        self.state = state
        self.spec = spec
        self.worktree = worktree
        self.architecture = architecture
        self.ladder = ladder
        self.judge = judge
        self.events = events
        self.items = items
        self.step_name = step_name  # the calls' ledger step: "implement", or "fix" in a rework
        self.cancel = cancel
        self.checksums: dict[str, str] = {}  # acceptance test file → sha256, as written
        # Ledger rows of reworked items that had passed: put back when the rework does not pass.
        self.reviewed: dict[str, ItemRow] = {}
        self.unavailable: dict[int, str] = {}  # rung index → why it is off (missing model)
        # Test runner (judge adapter name) → (item id, cause) once its tests could not start:
        # the run's other items judged by it stop before any call (see :meth:`environment`).
        self.stuck: dict[str, tuple[str, str]] = {}
        self.started: set[str] = set()  # test runners whose tests started in this run
        self.planner_model = ""  # names the code an item's plan carried (attempt "model")
        self._shared_prefix: tuple | None = None

    def switch_off(self, missing: list[MissingRung]) -> None:
        """Rungs found not ready before the run (allowed by --allow-missing-local): off for
        the whole run, said once here and again by every item that starts above them."""
        from hybridcode.implement.preflight import ALLOW_FLAG

        for rung in missing:
            self.ladder.breaker.switch_off(rung.index)
            self.unavailable[rung.index] = f"{rung.label} is not ready ({rung.reason})"
            self.events.note(f"{rung.label} is not ready ({rung.reason}); its items start on "
                             f"the next rung up ({ALLOW_FLAG})")

    # ------------------------------------------------------------------ the step to take

    def current_step(self, item: Item) -> Step | None:
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

    def planned(self, item: Item) -> Generated | None:
        """An item written in the plan: its code is the first attempt, verified like a model's
        answer but with no call. It counts as attempt 0 of the item's first rung, so when it
        fails, that rung's attempts follow with the test output as feedback."""
        code = item.spec.code
        if item.spec.route != "plan" or not (code or "").strip() or item.step is not None:
            return None
        rung = self.ladder.live_from(self.ladder.first_index(item.spec))
        if rung is None:
            return None
        item.step = Step(rung, 0)
        item.attempts += 1
        if item.started_at is None:
            item.started_at = now()
        self.state.update_item(item.id, state="running", started_at=item.started_at,
                               run_id=self.state.run_id, error=None)
        text = f"```{_fence_tag(item.spec.file)}\n{code.strip()}\n```\n"
        label = f"plan:{self.planner_model}" if self.planner_model else "plan"
        item.plan_label = label
        attempt_id = self.state.save_output(item.id, rung.index, 0, label, text, "", 0)
        return Generated(item.id, item.step, attempt_id, text)

    # ------------------------------------------------------------------ prompt and answer

    def request(self, item: Item, step: Step) -> ModelRequest | None:
        """Build the prompt on the main thread, so it reads a worktree no one is writing.
        None when the item failed or climbs instead (already settled here)."""
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
            self.attempt_failed(item, step, None, "model_error",
                                feedback.error_feedback(exc), climb=True)
        except HybridError as exc:  # no model can work without its context
            self.fail(item, f"cannot build the prompt: {exc}")
        return None

    def _prefix(self):
        """The plan's shared prompt prefix (built once), for Claude rungs."""
        if self._shared_prefix is None:
            from hybridcode.plan.prefix import plan_prefix

            self._shared_prefix = plan_prefix(self.state.dir, self.architecture)
        return self._shared_prefix

    def generate(self, item: Item, step: Step, request: ModelRequest) -> Generated:
        """The call, on a worker thread; its answer is saved before it is judged, so a resume
        judges it without paying again. Raises :class:`AttemptFailed` on a model error."""
        if self.cancel.is_set():
            raise RunCancelled("the run was interrupted")
        rung = step.rung

        def on_progress(progress: Progress) -> None:
            if self.cancel.is_set():
                raise RunCancelled("the run was interrupted")
            self.events.live_tokens(item, progress.output_tokens)

        started = time.monotonic()
        prompt = self.caller.vet(request)[0].prompt_text()  # what is sent, secrets removed
        try:
            result = self.caller.call(rung.spec, request, step=self.step_name,
                                      tier="implementer", item_id=item.id, rung=rung.index,
                                      on_progress=on_progress)
        except ModelError as exc:
            usage = exc.usage
            if isinstance(usage, Usage):  # what the failed call still consumed
                self.events.add_tokens(item, usage.total_input + usage.output_tokens)
            self.state.save_model_error(item.id, rung.index, step.attempt, rung.label,
                                        feedback.error_feedback(exc), prompt,
                                        int((time.monotonic() - started) * 1000))
            raise AttemptFailed(exc) from exc
        finally:
            self.events.end_live(item)
        self.events.add_tokens(item, result.usage.total_input + result.usage.output_tokens)
        attempt_id = self.state.save_output(item.id, rung.index, step.attempt, rung.label,
                                            result.text, prompt,
                                            int((time.monotonic() - started) * 1000))
        return Generated(item.id, step, attempt_id, result.text)

    # ------------------------------------------------------------------ place and judge

    def verify(self, gen: Generated) -> None:
        from hybridcode.implement.apply import RefusedOutputError, apply_item, revert
        from hybridcode.implement.parse import OutputParseError, parse_code
        from hybridcode.implement.verify import verify_item
        from hybridcode.judge import Snapshot

        item = self.items[gen.item_id]
        item.state = "verifying"
        self.events.emit(item, "verifying", rung=gen.step.rung.index)
        try:
            parsed = parse_code(gen.text, item.spec)
        except OutputParseError as exc:
            self.attempt_failed(item, gen.step, gen.attempt_id, "syntax_error",
                                feedback.parse_feedback(exc.message), output=gen.text)
            return
        wt = self.worktree.path
        self.state.save_snapshot(wt, item.id, gen.attempt_id, [item.spec.file])
        # The whole worktree as it was: an attempt may change only its item's file.
        before = Snapshot.take(wt)
        target = wt / item.spec.file
        original = target.read_bytes() if target.is_file() else None  # doc items compare
        allowed = {item.spec.file}
        change = None
        settled = False
        try:
            try:
                change = apply_item(wt, item.spec, parsed, set(self.checksums))
            except RefusedOutputError as exc:
                self.state.restore_snapshot(wt)
                settled = True
                self.attempt_failed(item, gen.step, gen.attempt_id, "refused",
                                    feedback.refused_feedback(str(exc)), output=gen.text)
                return
            except PlacementError as exc:
                self.state.restore_snapshot(wt)
                settled = True
                self.attempt_failed(item, gen.step, gen.attempt_id, "placement_error",
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
            result = verify_item(wt, item.spec, self.spec, passed, self.judge,
                                 before=original)
            if result.run is not None and not result.run.could_not_run:
                self.started.add(runner_of(item) or "")
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
            run = result.run
            if run is not None and run.blames_environment({item.spec.file}):
                self._could_not_run(item, gen, run)
                return
            outcome = "syntax_error" if result.stage == "syntax" else "test_failed"
            self.attempt_failed(item, gen.step, gen.attempt_id, outcome,
                                feedback.test_feedback(result.stage, result.output),
                                output=gen.text)
        finally:
            if not settled and self.state.snapshot_path.is_file():
                # Ctrl-C or an error mid-way: put the files back; the saved output stays
                # "generated", so a resume verifies it again without paying for it.
                self.state.restore_snapshot(wt)
                before.restore(wt)

    def _stray_changes(self, item: Item, gen: Generated, before, allowed: set[str],
                       when: str) -> bool:
        """Refuse the attempt when anything besides ``allowed`` was created, changed or
        deleted since ``before``; the whole worktree is then restored from it."""
        stray = before.changes(self.worktree.path, allowed)
        if not stray:
            return False
        before.restore(self.worktree.path)
        self.state.clear_snapshot()
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        self.events.note(f"{item.id}: {when} {shown}; refused the attempt and restored the "
                         "worktree")
        self.attempt_failed(item, gen.step, gen.attempt_id, "refused",
                            feedback.refused_feedback(
                                f"{when} {shown} — an attempt may change only "
                                f"{item.spec.file}; the whole worktree was restored"),
                            output=gen.text)
        return True

    def _refuse_tampered(self, item: Item, gen: Generated, change, what: str) -> None:
        """The acceptance tests changed while ``what`` happened: undo the item's change and
        refuse this output (the tests were already restored by :meth:`_tests_intact`)."""
        from hybridcode.implement.apply import revert

        revert(self.worktree.path, change)
        self.state.clear_snapshot()
        self.attempt_failed(item, gen.step, gen.attempt_id, "refused",
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
        self.events.note(f"acceptance tests changed {when} a test run "
                         f"({', '.join(sorted(changed))}); restored them and refused that output")
        return False

    # ------------------------------------------------------------------ outcomes

    def _pass(self, item: Item, gen: Generated, code_sha: str) -> None:
        self.ladder.breaker.record(gen.step.rung.index, ok=True)
        item.state = "passed"
        item.step = gen.step
        item.error = None
        self.events.stop_clock(item)
        self.state.settle_attempt(gen.attempt_id, "passed", item_id=item.id, item_fields={
            "state": "passed", "rung": gen.step.rung.index, "escalated": item.escalated,
            "finished_at": now(), "error": None, "code_sha256": code_sha})
        self.events.emit(item, "passed")
        self.state.write_summary("implementing", models(self.items.values()))

    def attempt_failed(self, item: Item, step: Step, attempt_id: str | None, outcome: str,
                       text: str, *, climb: bool = False, output: str | None = None) -> None:
        """Settle a failed attempt; the ladder says where the next one runs, if anywhere."""
        if attempt_id is not None:
            self.state.settle_attempt(attempt_id, outcome, text)
        if self.ladder.breaker.record(step.rung.index, ok=False):
            self.events.note(f"{step.rung.label} failed {self.ladder.breaker.threshold} times "
                             "in a row; switched off for the rest of this run")
        item.feedback = text
        if output is not None:
            item.previous_output = output
        item.error = feedback.headline(text) or outcome
        nxt = self.ladder.after_failure(step, climb=climb)
        if nxt is None:
            self.fail(item, item.error)
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
        self.events.emit(item, "retrying", message=message)

    def _could_not_run(self, item: Item, gen: Generated, run) -> None:
        """The tests could not start, and not because of the answer (see
        :meth:`~hybridcode.judge.TestRun.blames_environment`): the item stops here with the
        cause and the fix. No other attempt, no climb to a paid rung, no failure counted against
        the rung (the breaker) or the kind (routing history reads the state); the answer is
        kept, so ``--resume`` judges it again, without a call, once the environment is fixed."""
        cause = run.cause()
        self.state.settle_attempt(gen.attempt_id, COULD_NOT_RUN, run.feedback())
        runner = runner_of(item)
        if runner is not None:
            self.stuck.setdefault(runner, (item.id, cause))
        self.stop(item, cause)

    def environment(self, item: Item) -> str | None:
        """Why ``item`` cannot be judged in this run: another item's tests, run by the same
        runner, could not start. None when nothing is known against it."""
        runner = runner_of(item)
        found = self.stuck.get(runner) if runner is not None else None
        if found is None or found[0] == item.id:
            return None
        return f"{found[1]} (found while judging {found[0]}; the same test runner judges it)"

    def stop(self, item: Item, cause: str) -> None:
        """Settle ``item`` as could-not-run with ``cause`` (a "could not run: …" line)."""
        item.state = COULD_NOT_RUN
        item.error = cause
        self.events.stop_clock(item)
        if not self.keep_reviewed(item, cause):
            self.state.update_item(item.id, state=COULD_NOT_RUN, error=cause, finished_at=now(),
                                   escalated=item.escalated)
        self.events.emit(item, COULD_NOT_RUN, message=cause)
        self.state.write_summary("implementing", models(self.items.values()))

    def fail(self, item: Item, error: str) -> None:
        item.state = "failed"
        item.error = error
        self.events.stop_clock(item)
        if not self.keep_reviewed(item, error):
            self.state.update_item(item.id, state="failed", error=error, finished_at=now(),
                                   escalated=item.escalated)
        self.events.emit(item, "failed", message=error)
        self.state.write_summary("implementing", models(self.items.values()))

    def keep_reviewed(self, item: Item, why: str) -> bool:
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

    def _off_reason(self, rung: Rung) -> str:
        return self.unavailable.get(rung.index) or (
            f"{rung.label} is switched off for this run "
            f"({self.ladder.breaker.threshold} failures in a row)")

    def _escalate(self, item: Item, frm: Rung, to: Rung, why: str) -> None:
        """Every climb says why, in the run's messages (and so the live table) and the ledger."""
        item.escalated = True
        item.escalation = f"{frm.label} → {to.label}: {why}"
        self.events.note(f"{item.id}: escalating from {frm.label} to {to.label} — {why}")
        self.state.update_item(item.id, escalated=True, escalation=item.escalation)


def runner_of(item: Item) -> str | None:
    """The judge adapter that runs ``item``'s tests (None: it has none the judge runs)."""
    from hybridcode.judge import adapter_for

    adapter = adapter_for(item.spec.test_path or "")
    return adapter.name if adapter is not None else None


def _fence_tag(path: str) -> str:
    from hybridcode.context.languages import language_for_path

    return language_for_path(path) or ""
