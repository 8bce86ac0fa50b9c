"""What a Claude rung reads and writes when it takes over a failing attempt.

A Claude rung pays for every token it reads and writes, so it gets the short prompt its job needs
— the role (``prompts/escalation.md``), the item, the failing code and why it failed — and not
the planner's instructions and schema. It answers with SEARCH/REPLACE edits to the failing code
(:mod:`.edits`), which turn a one-token fix into a one-line answer; when its edits do not apply,
the next attempt asks for the whole item and says what did not match
(``prompts/escalation_whole.md``).

The call is single-shot: every attempt gets a fresh prompt built from the newest failing code,
never a continued conversation, so nothing in it is ever read again and it sets no cache
breakpoint (a breakpoint writes the prefix at 1.25× the input price for a read that never comes).

:func:`attempt_code` is the edits' base: the code the failing answer placed (imports, then the
item's code), as the parser read it — the same text the prompt shows, so a SEARCH section copied
from the prompt matches it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from hybridcode.context.languages import language_for_path
from hybridcode.implement.edits import (
    DIVIDER_MARK,
    HEAD_MARK,
    UPDATED_MARK,
    EditMismatch,
    EditParseError,
    EditRefused,
    apply_edits,
    parse_edits,
)
from hybridcode.implement.parse import OutputParseError, parse_code
from hybridcode.implement.prompt import _fence, _render_item, _trim
from hybridcode.models.base import Block, Message, ModelRequest
from hybridcode.prompts import load_prompt, render_prompt
from hybridcode.implement.state import COULD_NOT_RUN, GENERATED, AttemptRow
from hybridcode.spec import Spec, SpecItem

__all__ = ["attempt_code", "build_escalation_request", "fenced", "replay"]


def attempt_code(output: str | None, item: SpecItem) -> str | None:
    """The code of a failing answer that edits can apply to; None when it holds none."""
    if not output or not output.strip():
        return None
    try:
        parsed = parse_code(output, item)
    except OutputParseError:
        return None
    code = parsed.code.strip("\n")
    if parsed.imports:
        code = "\n".join(parsed.imports) + "\n\n\n" + code
    return code


def fenced(code: str, item: SpecItem) -> str:
    """Code as an answer in the whole-item form (what the parser reads)."""
    return _fence(code, _tag(item)) + "\n"


def build_escalation_request(item: SpecItem, spec: Spec, code: str, feedback: str, *,
                             review: str | None = None, problem: str | None = None,
                             whole: bool = False, output_tokens: int = 4096) -> ModelRequest:
    """Edits to ``code`` (the failing attempt), or with ``whole`` the whole item. ``problem``
    says why the rung's last edits were not used (with ``whole``: what did not match). No cache
    breakpoints: see the module docstring."""
    tag = _tag(item)
    values = {
        "item": _render_item(item, spec, tag),
        "review": ("\n" + render_prompt("review_feedback.md", findings=_trim(review)).strip()
                   + "\n") if review else "",
        "attempt": _fence(code, tag),
        "feedback": _trim(feedback),
        "tag": tag,
    }
    if not whole:
        text = render_prompt("escalation_edits.md", **values, head=HEAD_MARK,
                             divider=DIVIDER_MARK, updated=UPDATED_MARK, problem=(
            f"\n## Your last edits were not used\n\n{_trim(problem)}\n" if problem else ""))
    else:
        what = f"the complete {item.kind} `{item.symbol}`" if item.symbol else \
            f"the complete content of `{item.file}`"
        if language_for_path(item.file):
            what += " with the imports it needs at the top"
        text = render_prompt("escalation_whole.md", **values,
                             mismatch=_trim(problem or "(no reason recorded)"), what=what)
    return ModelRequest(messages=(Message("user", (Block(text.strip()),)),),
                        system=(Block(load_prompt("escalation.md").strip()),),
                        max_tokens=output_tokens)


def replay(history: list[AttemptRow], item: SpecItem) -> tuple[str | None, str | None,
                                                               str | None, bool]:
    """(previous output, feedback, edit problem, whole) as a run left them after ``history``,
    the item's settled attempts oldest first — what a resume continues from. The ledger keeps
    an edit answer as the model wrote it; the code it made is rebuilt by applying it again."""
    output = feedback = problem = None
    whole = False
    for row in history:
        if row.outcome in (GENERATED, COULD_NOT_RUN):
            continue  # never judged: says nothing about the code
        if row.edit in ("fell back", "refused", "malformed"):
            problem, whole = row.feedback, whole or row.edit == "fell back"
            continue
        if row.edit == "applied":
            base = attempt_code(output, item)
            try:
                if base is None:
                    raise EditParseError("no base")
                output = fenced(apply_edits(base, parse_edits(row.output or ""), item.file, {}),
                                item)
            except (EditParseError, EditMismatch, EditRefused):
                pass  # cannot happen for an edit that applied; keep the last code
        elif row.output is not None:
            output = row.output
        feedback, problem, whole = row.feedback, None, False
    return output, feedback, problem, whole


def _tag(item: SpecItem) -> str:
    return language_for_path(item.file) or PurePosixPath(item.file).suffix.lstrip(".") or "text"
