"""``hybrid bench --protocol aider``: exercises run the way Aider's polyglot harness runs them.

Per exercise and model: the prompt is the exercise's instructions and its stub
(``prompts/bench_aider.md``); the model answers with the whole file; the exercise's own tests
(hidden from the model) judge it. A failing first try gets the first 50 lines of the test
output (``prompts/bench_aider_retry.md``) in the same conversation and a second try. Pass rates
after try 1 and try 2 are the figures Aider's leaderboard publishes, so an ``all-local`` or
``all-claude`` run here lines up with a leaderboard row for the same model (whole-file format).

Every call goes through the one model door (:class:`hybridcode.models.caller.Caller`: secrets
vetted, priced, recorded) into a ledger of the run's own, so a bench never touches the user's
spend figures. The tests run through the judge, in the sandbox, counted test by test.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridcode.bench.exercise import ExerciseTask, score_exercise
from hybridcode.errors import HybridError, UsageError

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings

__all__ = ["PROTOCOL_MODES", "ExerciseResult", "ProtocolEvent", "run_aider_protocol"]

PROTOCOL_MODES = ("all-local", "all-claude")
TRIES = 2
_FENCES = {"python": "python", "go": "go", "javascript": "javascript"}


@dataclass
class ExerciseResult:
    task_id: str
    language: str
    mode: str
    model: str = ""
    tries: list[bool] = field(default_factory=list)  # outcome of each try, in order
    tests_passed: int = 0
    tests_total: int = 0
    claude_usd: float = 0.0
    claude_tokens: int = 0
    local_tokens: int = 0
    wall_s: float = 0.0
    error: str | None = None  # no answer could be had (the model failed, a parse error …)
    could_not_run: str | None = None  # the tests could not start here (not the model's fault)
    last_output: str | None = None  # the test output of the last failing try
    escalated: bool = False  # an item climbed the ladder (pipeline)
    solved_locally: bool = False  # passed with no paid model writing its code

    @property
    def passed_try1(self) -> bool:
        return bool(self.tries) and self.tries[0]

    @property
    def passed(self) -> bool:
        return any(self.tries)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "language": self.language, "mode": self.mode,
                "model": self.model, "tries": self.tries, "passed_try1": self.passed_try1,
                "passed": self.passed, "tests_passed": self.tests_passed,
                "tests_total": self.tests_total, "claude_usd": round(self.claude_usd, 6),
                "claude_tokens": self.claude_tokens, "local_tokens": self.local_tokens,
                "wall_s": round(self.wall_s, 3), "error": self.error,
                "could_not_run": self.could_not_run, "escalated": self.escalated,
                "solved_locally": self.solved_locally, "last_output": self.last_output}


@dataclass(frozen=True)
class ProtocolEvent:
    mode: str
    task_id: str
    index: int
    total: int
    state: str  # start, try, done
    result: ExerciseResult | None = None
    detail: str = ""


def model_for(settings: Settings, mode: str) -> ModelSpec:
    """The one model a mode measures: the ladder's first local rung (all-local) or its first
    Claude rung (all-claude) — Aider's harness runs one model."""
    if mode not in PROTOCOL_MODES:
        raise UsageError(f"--protocol aider runs one model per mode; {mode} is not one of them",
                         f"use --mode {' or --mode '.join(PROTOCOL_MODES)}; "
                         "--protocol pipeline measures hybrid mode")
    ladder = settings.tiers.implementer
    found = ([s for s in ladder if s.is_local] if mode == "all-local"
             else [s for s in ladder if s.backend == "anthropic"])
    if not found:
        what = "local" if mode == "all-local" else "Claude (anthropic)"
        raise UsageError(f"mode {mode} needs a {what} rung in tiers.implementer, and the "
                         "configured ladder has none",
                         f"add one to [tool.hybrid.tiers] implementer, or drop --mode {mode}")
    return found[0]


def run_aider_protocol(tasks: list[ExerciseTask], modes: list[str], settings: Settings,
                       on_event: Callable[[ProtocolEvent], None] | None = None,
                       ) -> dict[str, list[ExerciseResult]]:
    """Every task in every mode; results per mode, in task order."""
    specs = {mode: model_for(settings, mode) for mode in modes}  # refuse before any work
    results: dict[str, list[ExerciseResult]] = {}
    for mode in modes:
        results[mode] = []
        for index, task in enumerate(tasks, 1):
            if on_event:
                on_event(ProtocolEvent(mode, task.id, index, len(tasks), "start"))
            result = run_exercise(task, mode, specs[mode], settings, on_try=(
                None if on_event is None else
                lambda detail, m=mode, t=task, i=index: on_event(
                    ProtocolEvent(m, t.id, i, len(tasks), "try", detail=detail))))
            results[mode].append(result)
            if on_event:
                on_event(ProtocolEvent(mode, task.id, index, len(tasks), "done", result))
    return results


def run_exercise(task: ExerciseTask, mode: str, spec: ModelSpec, settings: Settings,
                 on_try: Callable[[str], None] | None = None) -> ExerciseResult:
    """One exercise, up to two tries, in a scratch folder with its own ledger."""
    from hybridcode.ledger import Ledger
    from hybridcode.models.caller import Caller

    result = ExerciseResult(task.id, task.language, mode, model=spec.model)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix=f"hybrid-aider-{task.id}-"))
    try:
        with Ledger.open(scratch) as ledger:
            run_id = ledger.start_run("bench --protocol aider", settings=settings)
            caller = Caller(settings, ledger, run_id=run_id, plan_id=task.id, root=scratch,
                            budget_usd=settings.budget_usd)
            try:
                _tries(task, spec, caller, settings, result, on_try)
            finally:
                caller.close()
            ledger.finish_run(run_id, "done")
            _costs(result, ledger, run_id)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.wall_s = time.monotonic() - started
    return result


def _tries(task: ExerciseTask, spec: ModelSpec, caller: Any, settings: Settings,
           result: ExerciseResult, on_try: Callable[[str], None] | None) -> None:
    """The conversation: the first prompt, then the failing tests' output (or the exact parse
    error of an answer that held no file) for the second try."""
    from hybridcode.implement.parse import OutputParseError
    from hybridcode.models.base import Message, ModelRequest
    from hybridcode.prompts import render_prompt

    fence = _FENCES.get(task.language, "")
    messages = [Message("user", render_prompt(
        "bench_aider.md", instructions=task.request, file=task.file, fence=fence,
        stub=task.stub().rstrip("\n")))]
    for attempt in range(1, TRIES + 1):
        if on_try:
            on_try(f"try {attempt}")
        try:
            answer = caller.call(spec, ModelRequest(tuple(messages)), step="bench",
                                 tier="implementer", item_id=task.id, rung=0)
        except HybridError as exc:  # the model could not be reached or answered nothing
            result.error = f"try {attempt}: {exc.message}"
            result.tries.append(False)
            return
        try:
            run = score_exercise(task, _code(answer.text, task), settings.test_timeout_s)
            feedback = run.feedback()
        except OutputParseError as exc:
            run, feedback = None, exc.message
        if run is not None:
            result.tests_passed, result.tests_total = run.passed, run.total
            if run.could_not_run:
                result.could_not_run = run.could_not_run
                return
        passed = run is not None and run.ok
        result.tries.append(passed)
        result.solved_locally = passed and spec.is_local
        result.last_output = None if passed else feedback
        if passed:
            return
        messages += [Message("assistant", answer.text), Message("user", render_prompt(
            "bench_aider_retry.md", output=feedback, file=task.file, fence=fence))]


def _code(answer: str, task: ExerciseTask) -> str:
    """The whole file in the answer (lenient about prose and fences; the exact parse error
    otherwise)."""
    from hybridcode.implement.parse import parse_code
    from hybridcode.spec import SpecItem

    item = SpecItem(id=task.id, title=task.title[:200] or task.id, kind="module",
                    category="other", file=task.file, symbol=None, action="modify",
                    signature="", description="The exercise's whole file.")
    return parse_code(answer, item).code


def _costs(result: ExerciseResult, ledger: Any, run_id: str) -> None:
    rows = ledger.query(
        "SELECT is_local, TOTAL(cost_usd), TOTAL(input_tokens + output_tokens + "
        "cache_write_tokens + cache_read_tokens) FROM calls WHERE run_id = ? GROUP BY is_local",
        (run_id,))
    for is_local, cost, tokens in rows:
        if is_local:
            result.local_tokens += int(tokens)
        else:
            result.claude_usd += float(cost)
            result.claude_tokens += int(tokens)
