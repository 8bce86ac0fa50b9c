"""The reviewer call: checklist + spec items + architecture + check results + the fenced diff.

The system prompt (reviewer instructions, then the checklist) is the cached stable prefix: it
is identical for every review under the same checklist. Everything per review goes in the user
message, and the material under review — the diff and the checks' output, which quotes the
code's own test names and messages — is fenced between marker lines carrying a random token
announced at the top of that message. Text in the diff cannot close the fence early (it cannot
know the token), and the instructions say that anything inside is data, that instructions in it
are to be reported as a finding and never followed.

A diff larger than ``DIFF_TOKENS`` is reviewed in parts, file by file (a file too large on its
own is split between hunks), one call per part; the verdicts are merged: any request for
changes wins, a checklist entry passes only if it passed in every part, a spec item keeps its
worst grade. A single hunk over the budget is shown truncated, and then the review cannot
approve (``ReviewerAnswer.truncated``): nobody approves code they were not shown.

Parts are reviewed concurrently, ``review.parallel`` at a time (a backend's own limit, such as
Ollama's 4, caps it). One review makes at most ``review.max_parts`` calls and, when
``review.max_cost_usd`` is set, sends only the parts whose estimated cost fits under it; the
parts left over are listed in ``ReviewerAnswer.skipped`` and, like a cut hunk, keep the review
from approving.

A file that is not UTF-8 is shown decoded in the encoding detected from its bytes, and the
request says so (or says that its undecodable bytes show as U+FFFD).
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hybridcode.errors import BudgetExceededError, OutputFormatError
from hybridcode.models.base import Block, Message, ModelRequest
from hybridcode.models.registry import concurrency
from hybridcode.prompts import load_prompt
from hybridcode.review.verdict import GRADE_ORDER, ChecklistResult, ItemGrade, Verdict
from hybridcode.vcs.diff import display_path

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec
    from hybridcode.config import Settings
    from hybridcode.models.caller import Caller
    from hybridcode.review.checklist import Checklist
    from hybridcode.review.checks import CheckResult
    from hybridcode.models.base import ModelResult
    from hybridcode.spec import Spec, SpecItem
    from hybridcode.vcs.diff import Diff

DIFF_TOKENS = 40_000  # diff per call; the rest of the prompt is a few thousand tokens
ARCHITECTURE_TOKENS = 3_000
CHECK_DETAILS_CHARS = 2_000  # per failing check
_CHARS_PER_TOKEN = 3  # the same conservative ratio as models.base.estimate_tokens


@dataclass
class Part:
    """One reviewer call's share of the diff."""

    files: list[str]
    text: str
    truncated: bool = False
    cut_hunks: int = 0  # hunks shown only in part (over the budget on their own)
    encodings: dict[str, str] = field(default_factory=dict)  # non-UTF-8 file → how decoded
    # The diff these files really add, where ``text`` shows less (generated tests, see
    # :func:`generated_tests_shown`): what Claude would have written itself is priced from it.
    source: str = ""


@dataclass
class ReviewerAnswer:
    verdict: Verdict
    model: str
    calls: int
    truncated: bool = False
    parts: list[Part] = field(default_factory=list)  # every part, reviewed or not
    skipped: list[Part] = field(default_factory=list)  # parts over review.max_parts / cost cap
    skip_reason: str = ""

    @property
    def cut_hunks(self) -> int:
        """Hunks the reviewer was shown only in part (in the parts sent)."""
        return sum(p.cut_hunks for p in self.parts[:self.calls])


def system_prompt(checklist: Checklist, prefix: tuple[Block, ...] = ()) -> tuple[Block, ...]:
    """The reviewer's own system prompt, or — for a plan's review on Claude — the plan's shared
    prefix (which holds the reviewer's instructions) with the role and checklist after it."""
    if prefix:
        from hybridcode.plan.prefix import role_block

        return (*prefix, role_block("reviewer", checklist.text))
    return (Block(load_prompt("reviewer.md").rstrip() + "\n\n" + checklist.text, cache=True),)


# ---------------------------------------------------------------------------- splitting

def _hunks(patch: str) -> tuple[str, list[str]]:
    """A file's patch as its header and its hunks."""
    lines = patch.splitlines(keepends=True)
    header: list[str] = []
    hunks: list[list[str]] = []
    for line in lines:
        if line.startswith("@@"):
            hunks.append([line])
        elif hunks:
            hunks[-1].append(line)
        else:
            header.append(line)
    return "".join(header), ["".join(h) for h in hunks]


def _truncate(text: str, budget_chars: int) -> str:
    kept = text[:budget_chars]
    kept = kept[:kept.rfind("\n") + 1] or kept
    hidden = text[len(kept):].count("\n") + 1
    return kept + f"[… {hidden} more lines of this hunk not shown: over the review budget …]\n"


def split_diff(diff: Diff, budget_tokens: int = DIFF_TOKENS,
               shown: dict[str, str] | None = None,
               written: dict[str, str] | None = None) -> list[Part]:
    """Files packed in order into parts of at most ``budget_tokens``. ``shown``: path → the
    text to show instead of that file's patch (see :func:`generated_tests_shown`);
    ``written``: path → what Claude would have written for that file itself (a part's
    ``source``, which prices the direct floor), where it differs from the patch."""
    budget = budget_tokens * _CHARS_PER_TOKEN
    shown = shown or {}
    written = written or {}
    units: list[tuple[str, str, int]] = []  # (file, text, hunks cut)
    encodings = {c.path: c.encoding for c in diff.files
                 if not c.binary and c.encoding != "utf-8"}
    # each counted once, in its first part
    sources = {c.path: written.get(c.path, c.patch) for c in diff.files}
    for change in diff.files:
        patch = shown.get(change.path, change.patch)
        if len(patch) <= budget:
            units.append((change.path, patch, 0))
            continue
        header, hunks = _hunks(patch)
        piece, cut = header, 0
        for hunk in hunks:
            over = len(hunk) + len(header) > budget
            if over:
                hunk = _truncate(hunk, budget - len(header))
            if len(piece) + len(hunk) > budget and piece != header:
                units.append((change.path, piece, cut))
                piece, cut = header, 0
            piece += hunk
            cut += over
        units.append((change.path, piece, cut))
    parts: list[Part] = []
    for path, text, cut in units:
        if not parts or len(parts[-1].text) + len(text) > budget:
            parts.append(Part([], ""))
        part = parts[-1]
        if path not in part.files:
            part.files.append(path)
            part.source += sources.pop(path, "")
            if path in encodings:
                part.encodings[path] = encodings[path]
        part.text += text
        part.cut_hunks += cut
        part.truncated = part.truncated or cut > 0
    return parts or [Part([], "")]


def generated_tests_shown(diff: Diff, spec: Spec | None) -> dict[str, tuple[str, list[str]]]:
    """Path → (what the reviewer is shown, the items it was generated for) for each new
    acceptance-test file that holds exactly the bytes the tool generates from the spec
    (:func:`hybridcode.implement.acceptance.acceptance_files`). Shown: the file's header and
    any test code of the spec's own; the tests generated from the examples are not repeated —
    the examples and their setup are in the spec items the reviewer reads beside the diff, so
    sending them again as pytest code would pay for the same tokens twice. The user message
    says so outside the fence (text inside it is the reviewed data, which cannot vouch for
    itself). A file with anything else in it, or changed rather than added, is shown whole."""
    if spec is None:
        return {}
    from hybridcode.spec.examples import example_tests
    from hybridcode.implement.acceptance import acceptance_files

    files = acceptance_files(spec)
    shown: dict[str, tuple[str, list[str]]] = {}
    for change in diff.files:
        expected = files.get(change.path)
        if expected is None or change.status != "added" or change.binary or not change.added:
            continue
        if "".join(text + "\n" for _, text in change.added).encode("utf-8") != expected:
            continue
        items = [i for i in spec.items if i.test_path == change.path]
        generated = [i.id for i in items if example_tests(i) is not None]
        if not generated:
            continue
        written = [line for i in items if i.tests is not None
                   for line in i.tests.code.strip().splitlines()]
        lines = "".join(f"+{line}\n" for line in written)
        hunk = f"@@ -0,0 +1,{len(written)} @@\n" if written else ""
        shown[change.path] = (_hunks(change.patch)[0] + hunk + lines, generated)
    return shown


def examples_written(spec: Spec | None, item_ids: list[str]) -> str:
    """The examples (and their setup) of ``item_ids`` as added lines: a test file the tool
    generated from examples is what Claude working directly would have written as these few
    lines, so the direct floor counts it at their size, not at the generated file's."""
    if spec is None:
        return ""
    lines: list[str] = []
    for item in spec.items:
        if item.id not in item_ids:
            continue
        lines += (item.example_setup or "").strip().splitlines()
        lines += [f"{e.input} == {e.expected}" for e in item.examples]
    return "".join(f"+{line}\n" for line in lines)


# ---------------------------------------------------------------------------- the request

def items_for(spec: Spec | None, files: list[str]) -> list[SpecItem]:
    """Spec items whose target or acceptance tests are among ``files``."""
    if spec is None:
        return []
    wanted = set(files)
    return [i for i in spec.items if i.file in wanted or i.test_path in wanted]


def _item_text(item: SpecItem) -> str:
    data = item.model_dump(mode="json", exclude={"tests", "route", "route_reason",
                                                 "route_overridden", "context", "risk", "code"},
                           exclude_defaults=True)
    data["acceptance_tests"] = item.test_path
    return json.dumps(data, ensure_ascii=False)


def _checks_text(checks: list[CheckResult]) -> str:
    lines = []
    for check in checks:
        state = "skipped" if check.skipped else ("pass" if check.ok else "FAIL")
        lines.append(f"- {check.name}: {state} — {check.summary}")
        for finding in check.findings[:20]:
            lines.append(f"  - {finding['file']}:{finding['line']}: {finding['message']}")
        if not check.ok and check.details:
            lines.append("  output:\n" + check.details[-CHECK_DETAILS_CHARS:])
    return "\n".join(lines)


def _fence(label: str, nonce: str, body: str) -> str:
    return (f"<<<UNTRUSTED-{label}-{nonce} BEGIN>>>\n{body.rstrip()}\n"
            f"<<<UNTRUSTED-{label}-{nonce} END>>>")


def diff_tokens(text: str) -> int:
    """Tokens Claude would write to produce ``text`` itself: the added lines only, at the
    direct floor's characters-a-token convention (:func:`hybridcode.models.pricing.
    written_tokens`)."""
    from hybridcode.models.pricing import written_tokens

    return written_tokens(text)


def new_nonce(*texts: str) -> str:
    """A token that occurs in none of ``texts`` (so no fenced text can fake a marker)."""
    while True:
        nonce = secrets.token_hex(8)
        if not any(nonce in t for t in texts):
            return nonce


def user_message(part: Part, index: int, total: int, spec: Spec | None, architecture: str,
                 checks: list[CheckResult], nonce: str, in_prefix: bool = False,
                 generated: dict[str, list[str]] | None = None) -> str:
    items = items_for(spec, part.files)
    arch_chars = ARCHITECTURE_TOKENS * _CHARS_PER_TOKEN
    excerpt = architecture.strip()
    if len(excerpt) > arch_chars:
        excerpt = excerpt[:arch_chars].rstrip() + "\n[… rest of the architecture note omitted …]"
    sections = [f"Fence token for this review: {nonce}"]
    if total > 1:
        sections.append(f"This is part {index + 1} of {total} of the diff; it covers: "
                        f"{', '.join(display_path(f) for f in part.files)}. Judge only these "
                        "files; grade only the items listed here.")
    if part.encodings:
        sections.append("## Encodings\n\n" + "\n".join(
            f"- {display_path(path)} is not UTF-8: " + (
                f"its lines are shown decoded as {enc} (detected from its bytes)." if enc else
                "no encoding fits its bytes; those that are not UTF-8 are shown as U+FFFD (�).")
            for path, enc in part.encodings.items()))
    sections.append("## Spec items\n\n" + ("\n\n".join(_item_text(i) for i in items) if items
                                           else "(none: review against the checklist alone)"))
    if in_prefix:
        sections.append("## Architecture\n\n(the plan's architecture note is in the system "
                        "prompt)")
    else:
        sections.append("## Architecture excerpt\n\n" + (excerpt or "(none)"))
    mine = {path: ids for path, ids in (generated or {}).items() if path in part.files}
    if mine:
        sections.append(
            "## Generated tests, not repeated in the diff\n\nThese new files hold exactly the "
            "tests hybrid generates from the examples (and example_setup) of the items named, "
            "then the spec's own test code, which the diff shows:\n" + "\n".join(
                f"- {display_path(path)} ({', '.join(ids)})" for path, ids in mine.items()))
    sections.append("## Check results\n\n" + _fence("CHECKS", nonce, _checks_text(checks)))
    sections.append("## Diff\n\n" + _fence("DIFF", nonce, part.text))
    sections.append("Review the diff between the DIFF markers against the checklist and answer "
                    "with the verdict.")
    return "\n\n".join(sections) + "\n"


def build_requests(diff: Diff, checklist: Checklist, spec: Spec | None, architecture: str,
                   checks: list[CheckResult], budget_tokens: int = DIFF_TOKENS,
                   prefix: tuple[Block, ...] = (),
                   ) -> tuple[list[ModelRequest], list[Part]]:
    generated = generated_tests_shown(diff, spec)
    parts = split_diff(diff, budget_tokens, {path: text for path, (text, _) in generated.items()},
                       {path: text + examples_written(spec, ids)
                        for path, (text, ids) in generated.items()})
    nonce = new_nonce(diff.text, _checks_text(checks), architecture)
    system = system_prompt(checklist, prefix)
    in_prefix = any("# Architecture note of this plan" in b.text for b in prefix)
    requests = [
        ModelRequest(messages=(Message("user", user_message(
            part, n, len(parts), spec, architecture, checks, nonce, in_prefix,
            {path: ids for path, (_, ids) in generated.items()})),),
            system=system, schema=Verdict)
        for n, part in enumerate(parts)
    ]
    return requests, parts


# ---------------------------------------------------------------------------- merging

def _with_questions(verdict: Verdict, checklist: Checklist) -> Verdict:
    """The reviewer leaves each entry's question empty (copying it costs output tokens for
    nothing); the report shows the checklist's own text."""
    questions = {entry.id: entry.question for entry in checklist.items}
    entries = [c if c.question.strip() else c.model_copy(update={
        "question": questions.get(c.id, "")}) for c in verdict.checklist]
    return verdict.model_copy(update={"checklist": entries})


def merge_verdicts(verdicts: list[Verdict], checklist: Checklist) -> Verdict:
    if len(verdicts) == 1:
        return verdicts[0]
    merged: list[ChecklistResult] = []
    for entry in checklist.items:
        answers = [(n + 1, c) for n, v in enumerate(verdicts) for c in v.checklist
                   if c.id == entry.id]
        if not answers:
            continue
        failed = [(n, c) for n, c in answers if not c.passed]
        reasons = failed or answers
        merged.append(ChecklistResult(
            id=entry.id, question=entry.question, passed=not failed,
            reasoning="\n".join(f"[part {n}] {c.reasoning}" for n, c in reasons)))
    grades: dict[str, ItemGrade] = {}
    for verdict in verdicts:
        for grade in verdict.grades:
            held = grades.get(grade.item_id)
            if held is None or GRADE_ORDER[grade.grade] < GRADE_ORDER[held.grade]:
                grades[grade.item_id] = grade
    decision = ("request_changes" if any(v.decision == "request_changes" for v in verdicts)
                else "approve")
    return Verdict(
        checklist=merged, findings=[f for v in verdicts for f in v.findings],
        grades=list(grades.values()), decision=decision,
        summary=" ".join(f"Part {n + 1}: {v.summary}" for n, v in enumerate(verdicts)))


# ---------------------------------------------------------------------------- the call

def _within_caps(caller: Caller, settings: Settings, reviewer: ModelSpec,
                 requests: list[ModelRequest]) -> tuple[int, str]:
    """How many parts, in order, this review sends; and why the rest are not sent."""
    limit = settings.review.max_parts
    count, reason = min(len(requests), limit), ""
    if count < len(requests):
        reason = f"review.max_parts is {limit}"
    cap = settings.review.max_cost_usd
    if cap is None or reviewer.is_local:
        return count, reason
    total = 0.0
    for n, request in enumerate(requests[:count]):
        estimate = caller.estimate_usd(reviewer, request)
        if total + estimate > cap:
            if n == 0:
                raise BudgetExceededError(
                    f"reviewing even the first part of this diff (~${estimate:.4f}) would cross "
                    f"review.max_cost_usd (${cap:.4f})",
                    "raise review.max_cost_usd in .hybrid/config.toml, or split the change")
            return n, f"review.max_cost_usd is ${cap:.4f} (~${total:.4f} estimated for these)"
        total += estimate
    return count, reason


def _verdict_of(result: ModelResult) -> Verdict:
    verdict = result.parsed
    if isinstance(verdict, Verdict):
        return verdict
    try:  # a backend without schema support
        return Verdict.model_validate_json(result.text)
    except ValueError as exc:
        raise OutputFormatError(
            "the reviewer did not return a verdict",
            "re-run hybrid review; if it repeats, check the reviewer model",
            raw=result.text) from exc


def review_diff(caller: Caller, settings: Settings, diff: Diff, checklist: Checklist,
                spec: Spec | None, architecture: str, checks: list[CheckResult],
                budget_tokens: int = DIFF_TOKENS, reviewer: ModelSpec | None = None,
                prefix: tuple[Block, ...] = ()) -> ReviewerAnswer:
    """One reviewer call per part of the diff, ``review.parallel`` at a time; the merged
    verdict. ``reviewer`` overrides the configured reviewer (reviewer tiering, see
    hybridcode.review.sampling). ``prefix``: the plan's shared prompt prefix
    (hybridcode.plan.prefix), for a plan reviewed on Claude.

    Each call records the size of its share of the diff (``diff_tokens``): ``hybrid stats``
    prices Claude writing that diff itself (the *direct* counterfactual) from it."""
    requests, parts = build_requests(diff, checklist, spec, architecture, checks, budget_tokens,
                                     prefix)
    reviewer = reviewer or settings.tiers.reviewer
    sent, reason = _within_caps(caller, settings, reviewer, requests)
    workers = concurrency(reviewer.backend, min(settings.review.parallel, sent))

    def one(request: ModelRequest, part: Part) -> tuple[str, Verdict]:
        result = caller.call(reviewer, request, step="review", tier="reviewer",
                             extra={"diff_tokens": diff_tokens(part.source)})
        return result.model, _with_questions(_verdict_of(result), checklist)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="review-part") as pool:
        futures = [pool.submit(one, request, part)
                   for request, part in zip(requests[:sent], parts)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            for future in futures:  # parts not started yet are not paid for
                future.cancel()
            raise failed.exception()  # type: ignore[misc]
        answers = [future.result() for future in futures]
    verdicts = [verdict for _, verdict in answers]
    model = answers[-1][0] if answers else reviewer.model
    return ReviewerAnswer(merge_verdicts(verdicts, checklist), model, sent,
                          any(p.truncated for p in parts[:sent]), parts,
                          skipped=parts[sent:], skip_reason=reason)
