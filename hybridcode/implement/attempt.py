"""One item's attempt lifecycle: prompt → answer → place → judge → feedback → escalate.

:class:`Attempts` knows nothing of the DAG, the thread pool or the budget — that is the
scheduler's (:mod:`.schedule`). It builds an item's prompt for its current rung, makes the call
(on a worker thread), has the answer placed and judged (:mod:`.judging`, on the run's main
thread, one item at a time), and settles the outcome: passed, or a failure whose feedback goes
into the next attempt while the ladder (:mod:`.ladder`) says whether that attempt is on the same
rung, the next one up, or none (the item has failed). A Claude rung taking over a failing
attempt answers with edits to it (:mod:`.escalation`), applied here before the answer is judged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hybridcode.errors import ContextOverflowError, HybridError, ModelError, UsageError
from hybridcode.implement import ladder as feedback
from hybridcode.implement.events import Events, Item, models, now
from hybridcode.implement.judging import Judging
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
    text: str  # the answer; for an edit answer, once applied: the whole item it made
    edit: str | None = None  # "applied" once an edit answer made ``text`` (see .escalation)


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
        self.judging = Judging(worktree, state, spec, judge)
        # Ledger rows of reworked items that had passed: put back when the rework does not pass.
        self.reviewed: dict[str, ItemRow] = {}
        self.unavailable: dict[int, str] = {}  # rung index → why it is off (missing model)
        # Test runner (judge adapter name) → (item id, cause) once its tests could not start:
        # the run's other items judged by it stop before any call (see :meth:`environment`).
        self.stuck: dict[str, tuple[str, str]] = {}
        self.started: set[str] = set()  # test runners whose tests started in this run
        self.planner_model = ""  # names the code an item's plan carried (attempt "model")

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
        None when the item failed or climbs instead (already settled here).

        A Claude rung taking over a failing attempt gets the short escalation prompt and
        answers with edits to it (:mod:`.escalation`); any other Claude call gets the
        implementer's prompt without cache breakpoints (it is single-shot too)."""
        from hybridcode.implement.escalation import attempt_code, build_escalation_request
        from hybridcode.implement.prompt import build_item_request

        output_tokens = min(OUTPUT_TOKENS, step.rung.spec.max_output_tokens)
        claude = step.rung.is_claude
        if claude and item.feedback is not None:
            code = attempt_code(item.previous_output, item.spec)
            if code is not None:
                return build_escalation_request(
                    item.spec, self.spec, code, item.feedback, review=item.review,
                    problem=item.edit_problem, whole=item.whole, output_tokens=output_tokens)
        window = self.settings.ollama.num_ctx_max if step.rung.spec.backend == "ollama" else None
        try:
            return build_item_request(item.spec, self.spec, self.architecture,
                                      self.worktree.path,
                                      feedback=item.feedback,
                                      previous_output=item.previous_output,
                                      review=item.review,
                                      window_tokens=window,
                                      output_tokens=output_tokens, cache=not claude)
        except UsageError:
            raise
        except ContextOverflowError as exc:  # too big for this rung's window: climb
            self.attempt_failed(item, step, None, "model_error",
                                feedback.error_feedback(exc), climb=True)
        except HybridError as exc:  # no model can work without its context
            self.fail(item, f"cannot build the prompt: {exc}")
        return None

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
        """Judge a saved answer (:mod:`.judging`) and settle the attempt."""
        from hybridcode.implement.edits import has_edits
        from hybridcode.implement.parse import OutputParseError, parse_code

        item = self.items[gen.item_id]
        item.state = "verifying"
        self.events.emit(item, "verifying", rung=gen.step.rung.index)
        if gen.step.rung.is_claude and has_edits(gen.text):  # only Claude rungs are asked
            whole = self._apply_edits(item, gen)
            if whole is None:
                return  # settled: malformed, refused, or the whole item is asked for next
            gen = Generated(gen.item_id, gen.step, gen.attempt_id, whole, "applied")
        try:
            parsed = parse_code(gen.text, item.spec)
        except OutputParseError as exc:
            self.attempt_failed(item, gen.step, gen.attempt_id, "syntax_error",
                                feedback.parse_feedback(exc.message), output=gen.text,
                                edit=gen.edit)
            return
        passed = [i.id for i in sorted(self.items.values(), key=lambda i: i.pos)
                  if i.state == "passed"]
        judged = self.judging.judge_answer(
            item.spec, parsed, gen.attempt_id, passed,
            on_pass=lambda: self._pass(item, gen, sha256_text(parsed.code)))
        if judged.run is not None and not judged.run.could_not_run:
            self.started.add(runner_of(item) or "")
        if judged.note:
            self.events.note(judged.note)
        if judged.outcome == COULD_NOT_RUN:
            self._could_not_run(item, gen, judged.run)
        elif not judged.ok:
            self.attempt_failed(item, gen.step, gen.attempt_id, judged.outcome,
                                judged.feedback, output=gen.text, edit=gen.edit)

    def _apply_edits(self, item: Item, gen: Generated) -> str | None:
        """The whole item an edit answer makes of the failing code, as an answer the parser
        reads; None when the attempt was settled instead (see :mod:`.edits`)."""
        from hybridcode.implement.edits import (
            EditMismatch,
            EditParseError,
            EditRefused,
            apply_edits,
            parse_edits,
        )
        from hybridcode.implement.escalation import attempt_code, fenced

        base = attempt_code(item.previous_output, item.spec) if item.feedback else None
        if base is None:
            self.attempt_failed(item, gen.step, gen.attempt_id, "syntax_error",
                                feedback.parse_feedback(
                                    "the answer holds edit blocks, but there is no earlier "
                                    "code to edit: return the whole item in one fenced code "
                                    "block"), output=gen.text)
            return None
        try:
            code = apply_edits(base, parse_edits(gen.text), item.spec.file,
                               self._elsewhere(item))
        except EditParseError as exc:
            self.attempt_failed(item, gen.step, gen.attempt_id, "syntax_error",
                                feedback.parse_feedback(exc.message), edit="malformed")
        except EditRefused as exc:
            self.events.note(f"{item.id}: refused its edits ({exc})")
            self.attempt_failed(item, gen.step, gen.attempt_id, "refused",
                                feedback.refused_feedback(str(exc)), edit="refused")
        except EditMismatch as exc:
            self.attempt_failed(item, gen.step, gen.attempt_id, "placement_error",
                                feedback.trim(f"Your edits could not be applied: {exc}"),
                                edit="fell back")
        else:
            return fenced(code, item.spec)
        return None

    def _elsewhere(self, item: Item) -> dict[str, str]:
        """What an edit must not aim at, by name: the item's file around the item, and the
        acceptance tests."""
        from hybridcode.context.extract import source_of
        from hybridcode.errors import ContextError

        wt = self.worktree.path
        out: dict[str, str] = {}
        target = wt / item.spec.file
        if target.is_file() and item.spec.symbol:
            text = target.read_text(encoding="utf-8", errors="replace")
            try:
                text = text.replace(source_of(target, item.spec.symbol).text, "")
            except ContextError:
                pass  # not there yet (a created item): all of the file is around it
            out[item.spec.file] = text
        for path in self.judging.test_files():
            test = wt / path
            if test.is_file():
                out[path] = test.read_text(encoding="utf-8", errors="replace")
        return out

    # ------------------------------------------------------------------ outcomes

    def _pass(self, item: Item, gen: Generated, code_sha: str) -> None:
        self.ladder.breaker.record(gen.step.rung.index, ok=True)
        item.state = "passed"
        item.step = gen.step
        item.error = None
        self.events.stop_clock(item)
        self.state.settle_attempt(gen.attempt_id, "passed", item_id=item.id, edit=gen.edit,
                                  item_fields={"state": "passed", "rung": gen.step.rung.index,
                                               "escalated": item.escalated,
                                               "finished_at": now(), "error": None,
                                               "code_sha256": code_sha})
        self.events.emit(item, "passed")
        self.state.write_summary("implementing", models(self.items.values()))

    def attempt_failed(self, item: Item, step: Step, attempt_id: str | None, outcome: str,
                       text: str, *, climb: bool = False, output: str | None = None,
                       edit: str | None = None) -> None:
        """Settle a failed attempt; the ladder says where the next one runs, if anywhere.
        ``edit``: what became of an edit answer. Edits that were not used leave the failing
        code and its feedback as they were: the next attempt works on them again, told why
        (and, when they did not apply, asked for the whole item)."""
        if attempt_id is not None:
            self.state.settle_attempt(attempt_id, outcome, text, edit=edit)
        if self.ladder.breaker.record(step.rung.index, ok=False):
            self.events.note(f"{step.rung.label} failed {self.ladder.breaker.threshold} times "
                             "in a row; switched off for the rest of this run")
        if edit in ("fell back", "refused", "malformed"):
            item.edit_problem = text
            item.whole = item.whole or edit == "fell back"
        else:
            item.feedback = text
            if output is not None:
                item.previous_output = output
            item.edit_problem, item.whole = None, False
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
