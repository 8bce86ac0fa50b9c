"""Review reports for machines and pull requests: JSON, Markdown, SARIF 2.1.0, GitHub
annotations and JUnit XML.

:func:`render` takes either one :class:`~hybridcode.review.verdict.ReviewOutcome` (``hybrid
review``) or a :class:`~hybridcode.review.ci.CIResult` (``hybrid review --ci``, several commits).
The terminal view is the CLI's rich rendering, not this module's.

Each format follows its consumer's rules:

- Locations: a result is located only in a file of the diff. A path the reviewer model wrote
  that the diff does not change (``/etc/passwd``, ``../../x``) is never put in a SARIF ``uri`` or
  a ``file=`` property: the result becomes one about the whole change, and its message names
  the path given. Results that concern the change as a whole (a failed checklist entry, a
  tampered approval) point at line 1 of the first changed file whose new version has lines
  (:func:`~hybridcode.vcs.diff.anchor_file`; never an emptied or 0-byte renamed file), since
  GitHub code scanning wants every result in a file.
- Paths: bytes that are not UTF-8 are shown as git shows them (``caf\\351.py``, see
  :func:`~hybridcode.vcs.diff.display_path`) in every text a person reads; a SARIF ``uri``
  percent-encodes the real bytes, and an annotation's ``file=`` names the file as the runner
  reads the checkout's name (:func:`~hybridcode.vcs.diff.checkout_name`). Every report is
  valid UTF-8.
- SARIF: ``partialFingerprints`` hash the rule, file and title — not the line — so an alert
  survives code moving above it.
- GitHub workflow commands: ``%``, CR and LF are escaped in the message, and additionally
  ``:`` and ``,`` in properties (the runner's ``escapeData``/``escapeProperty``).
- Markdown: text from models and tools is HTML-escaped outside code (``Promise<Response>``
  stays visible on GitHub); their code spans and blocks are kept, and a table cell shows a
  block line by line, never a ``<br>`` inside code.
- JUnit: one testcase per deterministic check and per checklist entry; a failure carries the
  reasoning; tests that could not run are an ``<error>``, not a failure.
- "Could not run" (the tests never started: an environment problem, see
  :attr:`~hybridcode.review.verdict.ReviewOutcome.could_not_run`) is its own result in every
  format: rule ``check/could-not-run``, the title "could not run", the cause and the fix in the
  message, CI status ``could-not-run`` and exit code 3 (docs/ci.md). Characters XML 1.0 forbids (terminal escapes in test output) are dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hybridcode.vcs.diff import (
    anchor_file,
    checkout_name,
    display_path,
    git_quoted,
    path_readings,
)

if TYPE_CHECKING:
    from hybridcode.review.ci import CIResult
    from hybridcode.review.verdict import ReviewOutcome
    from hybridcode.vcs.diff import Diff

FORMATS = ("json", "markdown", "sarif", "github", "junit")

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "hybridcode"
TOOL_URI = "https://pypi.org/project/hybridcode/"

RULE_FINDING = "review/finding"
RULE_APPROVAL = "gate/approval"
RULE_COULD_NOT_RUN = "check/could-not-run"
COULD_NOT_RUN = "could not run"

# Severity → SARIF level and GitHub annotation command.
_SARIF_LEVEL = {"critical": "error", "major": "error", "minor": "warning", "info": "note"}
_GITHUB_LEVEL = {"critical": "error", "major": "error", "minor": "warning", "info": "notice"}
_DECISION_TITLE = {"approved": "✅ approved", "changes_requested": "❌ changes requested",
                   "blocked": "⛔ blocked", "nothing_to_review": "➖ nothing to review",
                   "could_not_run": "⚠️ could not run"}
# A PR comment holds at most 65,536 characters; leave room for the truncation note.
MARKDOWN_LIMIT = 60_000


@dataclass
class _Item:
    """One located problem, whatever produced it."""

    rule: str
    level: str  # error / warning / note
    title: str
    message: str
    file: str | None
    line: int
    severity: str = ""
    fix: str = ""


def render(result: ReviewOutcome | CIResult, fmt: str) -> str:
    """``result`` in ``fmt`` (one of :data:`FORMATS`)."""
    from hybridcode.errors import UsageError

    renderers = {"json": _json, "markdown": markdown, "sarif": _sarif_text,
                 "github": github_annotations, "junit": junit}
    if fmt not in renderers:
        raise UsageError(f"unknown report format {fmt!r}",
                         f"use one of: text, {', '.join(FORMATS)}")
    return _valid_utf8(renderers[fmt](result))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_utf8(text: str) -> str:
    """Lone surrogates (a model's ``"\\udce9"``, an undecodable byte nothing spelled) as
    ``\\udce9``: whatever reached a report, it prints and parses as UTF-8."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _outcomes(result: Any) -> list[tuple[str | None, ReviewOutcome]]:
    """(commit sha or None, outcome) for every review inside ``result``."""
    if _is_ci(result):
        return [(c.sha, c.outcome) for c in result.commits if c.outcome is not None]
    return [(None, result)]


def _is_ci(result: Any) -> bool:
    return hasattr(result, "commits") and hasattr(result, "base")


# ---------------------------------------------------------------------- problems

class _Places:
    """Where a result may point: the files of one diff (see the module docstring)."""

    def __init__(self, diff: Diff | None) -> None:
        files = diff.files if diff is not None else []
        self.known: dict[str, str] = {}  # a spelling a model or tool may use → the real path
        for change in files:
            for path in (change.path, change.old_path):
                if path:
                    for spelling in (path, display_path(path), git_quoted(path)):
                        self.known.setdefault(spelling, change.path)
        self.deleted = {c.path for c in files if c.status == "deleted"}
        self.anchor = anchor_file(files)

    def real(self, claimed: str | None) -> str | None:
        """The diff's path ``claimed`` names, or None."""
        if not claimed:
            return None
        for candidate in path_readings(claimed):
            if candidate in self.known:
                return self.known[candidate]
        return None

    def locate(self, claimed: str | None, line: Any) -> tuple[str | None, int, str]:
        """(file, line, note): the file and line to point at, and what to add to the message
        when the claimed place is not one of the diff's."""
        real = self.real(claimed)
        if real is None:
            note = (f" (reported at {display_path(str(claimed))}, which this diff does not change)"
                    if claimed else "")
            return self.anchor, 1, note
        try:
            number = int(line or 1)
        except (TypeError, ValueError):
            number = 1
        return real, 1 if real in self.deleted else max(1, number), ""


def _check_items(check: Any, places: _Places) -> Iterator[_Item]:
    """A failed check's findings (``{file, line, message}``), or one item with its summary."""
    rule = f"check/{check.name}"
    level = "error" if check.blocking else "warning"
    if getattr(check, "could_not_run", False):
        yield _Item(RULE_COULD_NOT_RUN, "error", COULD_NOT_RUN, check.summary, places.anchor, 1)
        return
    found = False
    for f in check.findings or []:
        if not isinstance(f, dict):
            continue
        found = True
        message = str(f.get("message") or check.summary or check.name)
        file, line, note = places.locate(f.get("file"), f.get("line"))
        yield _Item(rule, level, f"{check.name}: {message.splitlines()[0] if message else ''}",
                    message + note, file, line)
    if not found:
        yield _Item(rule, level, f"check {check.name} failed", check.summary or check.name,
                    places.anchor, 1)


def problems(outcome: ReviewOutcome) -> list[_Item]:
    """Everything that argues against the diff: failed checks, failed checklist entries and
    the reviewer's findings."""
    places = _Places(outcome.diff)
    items: list[_Item] = []
    for check in outcome.checks:
        if not check.ok:
            items.extend(_check_items(check, places))
    verdict = outcome.verdict
    if verdict is not None:
        for entry in verdict.checklist:
            if not entry.passed:
                items.append(_Item(f"checklist/{entry.id}", "error", entry.question,
                                   entry.reasoning, places.anchor, 1))
        for f in verdict.findings:
            file, line, note = places.locate(f.file, f.line)
            items.append(_Item(RULE_FINDING, _SARIF_LEVEL.get(f.severity, "warning"), f.title,
                               f.explanation + note, file, line, f.severity,
                               f.suggested_fix or ""))
    return items


def _ci_items(result: CIResult) -> list[_Item]:
    items: list[_Item] = []
    for c in result.commits:
        if not c.ok and not _stuck(c):  # could not run: the review's own item says it
            anchor = _Places(c.outcome.diff).anchor if c.outcome is not None else c.anchor
            items.append(_Item(RULE_APPROVAL, "error", f"{c.status} approval in {c.sha[:12]}",
                               f"commit {c.sha[:12]} (plan {c.plan_id}, policy {c.policy}): "
                               f"{c.detail}",
                               anchor, 1))
        if c.outcome is not None:
            items.extend(problems(c.outcome))
    return items


def _stuck(commit: Any) -> bool:
    from hybridcode.review.ci import COULD_NOT_RUN as STATUS

    return commit.status == STATUS


def _title(outcome: ReviewOutcome) -> str:
    key = "could_not_run" if outcome.could_not_run is not None else outcome.decision
    return _DECISION_TITLE.get(key, outcome.decision)


# ---------------------------------------------------------------------- JSON

def _json(result: Any) -> str:
    if _is_ci(result):
        data = result.to_dict()
        for commit in data.get("commits", []):
            commit["files"] = [display_path(f) for f in commit.get("files") or []]
        return json.dumps(data, indent=2, ensure_ascii=False)
    from hybridcode.review.service import outcome_to_dict

    return json.dumps(outcome_to_dict(result), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------- Markdown

_CODE = re.compile(r"```[^\n`]*\n(?P<block>.*?)(?:\n[ \t]*```|\Z)"
                   r"|(?P<tick>`+)(?P<span>.+?)(?<!`)(?P=tick)(?!`)", re.DOTALL)


def _segments(text: str) -> Iterator[tuple[str, str]]:
    """``text`` as ("text" | "span" | "block", content): prose, inline code, fenced code."""
    pos = 0
    for m in _CODE.finditer(text):
        if m.start() > pos:
            yield "text", text[pos:m.start()]
        if m.group("block") is not None:
            yield "block", m.group("block")
        else:
            yield "span", m.group("span")
        pos = m.end()
    if pos < len(text):
        yield "text", text[pos:]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """A code span showing ``text`` literally (a fence longer than any backtick run in it)."""
    text = text.replace("\n", " ")
    if not text.strip():
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: Any, *, table: bool = True) -> str:
    """Model or tool text on one line (a table cell): prose HTML-escaped with ``<br>`` for its
    line breaks; a code block becomes one code span per line, the ``<br>`` between them."""
    out = []
    for kind, part in _segments(str(text if text is not None else "").replace("\r", "")):
        if kind == "text":
            out.append(_html(part).replace("\n", "<br>" if table else " "))
        elif kind == "span":
            out.append(_code(part))
        else:
            spans = [c for c in (_code(line) for line in part.split("\n")) if c]
            out.append(("<br>" if table else " ").join(spans))
    joined = "".join(out).strip()
    return joined.replace("|", "\\|") if table else joined


def _block(text: Any, indent: str = "  ") -> str:
    """Model or tool text over several lines (a list item, a quote): prose HTML-escaped, code
    spans and fenced blocks kept as they are; lines after the first start with ``indent``."""
    out = []
    for kind, part in _segments(str(text if text is not None else "").replace("\r", "")):
        if kind == "text":
            out.append(_html(part))
        elif kind == "span":
            out.append(_code(part))
        else:
            fence = "`" * max(3, max((len(r) for r in re.findall("`+", part)), default=0) + 1)
            out.append(f"\n{fence}\n{part.rstrip()}\n{fence}\n")
    lines = "".join(out).strip().split("\n")
    return ("\n" + indent).join(line.rstrip() for line in lines).replace(
        "\n" + indent + "\n", "\n" + indent.rstrip() + "\n")


def reviewer_share(outcome: ReviewOutcome) -> str:
    """"3 reviewer calls for 3 parts of the diff, 1 hunk cut" — or "" when none was asked."""
    if not outcome.calls and not outcome.parts:
        return ""
    calls, parts = outcome.calls, outcome.parts
    text = (f"{calls} reviewer call{'s' * (calls != 1)} for "
            f"{parts} part{'s' * (parts != 1)} of the diff")
    if outcome.parts_skipped:
        text += f", {outcome.parts_skipped} not reviewed"
    if outcome.cut_hunks:
        text += f", {outcome.cut_hunks} hunk{'s' * (outcome.cut_hunks != 1)} cut"
    return text


def _finding_md(f: Any, places: _Places) -> str:
    real = places.real(f.file)
    if real is not None:
        line = f":{f.line}" if f.line > 0 and real not in places.deleted else ""
        where = _code(display_path(real) + line)
    elif f.file:
        where = f"whole change (reported at {_code(display_path(f.file))}, not in this diff)"
    else:
        where = "whole change"
    text = f"- **{f.severity}** {where} — **{_cell(f.title, table=False)}**: " \
           f"{_block(f.explanation)}"
    if f.suggested_fix:
        text += f"\n\n  _Fix:_ {_block(f.suggested_fix)}"
    return text


def _outcome_md(outcome: ReviewOutcome, heading: str = "##") -> list[str]:
    lines = [f"{heading} hybridcode review: {_title(outcome)}", ""]
    verdict = outcome.verdict
    if verdict is not None and verdict.summary:
        lines += [f"> {_block(verdict.summary, indent='> ')}", ""]
    facts = [f"diff `{outcome.diff.sha256[:12]}`", f"{len(outcome.diff.files)} file(s)"]
    if outcome.reviewer_model:
        facts.append(f"reviewer {_code(outcome.reviewer_model)}")
    share = reviewer_share(outcome)
    if share:
        facts.append(share)
    if outcome.checklist_version:
        facts.append(f"checklist `{str(outcome.checklist_version)[:12]}`")
    if outcome.cost:
        facts.append(f"cost ${outcome.cost:.4f}")
    if outcome.cached:
        facts.append("answered from the approval record" if outcome.approved else
                     "answered from the record of an earlier review of this diff")
    lines += [" · ".join(facts), ""]
    if outcome.notes:
        lines += [f"- {_block(note)}" for note in outcome.notes] + [""]
    if outcome.checks:
        lines += [f"{heading}# Deterministic checks", "", "| Check | Result | Summary |",
                  "|---|---|---|"]
        for c in outcome.checks:
            state = "✅ pass" if c.ok else ("❌ fail (blocking)" if c.blocking else "⚠️ fail")
            if c.could_not_run:
                state = "⚠️ could not run"
            elif c.skipped:
                state = "⏭ skipped"
            lines.append(f"| {_cell(c.name)} | {state} | {_cell(c.summary)} |")
        lines.append("")
    if verdict is not None:
        if verdict.checklist:
            lines += [f"{heading}# Checklist", "", "| | Entry | Reasoning |", "|---|---|---|"]
            for e in verdict.checklist:
                lines.append(f"| {'✅' if e.passed else '❌'} | {_cell(e.question)} | "
                             f"{_cell(e.reasoning)} |")
            lines.append("")
        if verdict.findings:
            places = _Places(outcome.diff)
            lines += [f"{heading}# Findings", ""]
            lines += [_finding_md(f, places) for f in verdict.findings]
            lines.append("")
        if verdict.grades:
            lines += [f"{heading}# Grades per spec item", "", "| Item | Grade | Failure mode |",
                      "|---|---|---|"]
            for g in verdict.grades:
                lines.append(f"| {_cell(g.item_id)} | {_cell(g.grade)} | "
                             f"{_cell(g.failure_mode or '')} |")
            lines.append("")
    return lines


def markdown(result: Any) -> str:
    """A PR comment or ``$GITHUB_STEP_SUMMARY`` section."""
    if not _is_ci(result):
        lines = _outcome_md(result)
    else:
        from hybridcode.review.service import EXIT_COULD_NOT_RUN

        verdict = ("✅ all approved" if result.exit_code == 0 else "⚠️ tests could not run "
                   "here (fix the CI environment)" if result.exit_code == EXIT_COULD_NOT_RUN
                   else "❌ needs attention")
        lines = [f"## hybridcode CI gate: {verdict}", "",
                 (f"Range `{result.base}..{result.head}` · {len(result.commits)} generated "
                  "commit(s)"), "",
                 f"Trust policy: **`{result.policy}`** — {_cell(result.policy_meaning)} "
                 f"({_cell(result.policy_reason)})", ""]
        if result.commits:
            lines += ["| Commit | Plan | Status | Detail |", "|---|---|---|---|"]
            for c in result.commits:
                lines.append(f"| `{c.sha[:12]}` | {_cell(c.plan_id)} | {_cell(c.status)} | "
                             f"{_cell(c.detail)} |")
            lines.append("")
        else:
            lines += ["No commits with a `Hybrid-Plan` trailer in this range.", ""]
        for c in result.commits:
            if c.outcome is not None:
                lines += [f"### Review of `{c.sha[:12]}` ({_cell(c.plan_id)})", ""]
                lines += _outcome_md(c.outcome, heading="####")
    text = "\n".join(lines).rstrip() + "\n"
    if len(text) > MARKDOWN_LIMIT:
        text = text[:MARKDOWN_LIMIT].rsplit("\n", 1)[0] + (
            "\n\n_Report truncated; run with `--format json` for everything._\n")
    return text


# ---------------------------------------------------------------------- SARIF

def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _rules(outcomes: Iterable[ReviewOutcome], ci: bool) -> list[dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}

    def add(rule_id: str, name: str, text: str, level: str, help_text: str) -> None:
        rules.setdefault(rule_id, {
            "id": rule_id, "name": name,
            "shortDescription": {"text": text or rule_id},
            "defaultConfiguration": {"level": level},
            "help": {"text": help_text or text or rule_id},
        })

    add(RULE_FINDING, "ReviewFinding", "A finding of the reviewer model", "warning",
        "The reviewer found a problem in the generated change; see the message for the fix.")
    if ci:
        add(RULE_APPROVAL, "ApprovalMismatch",
            "Generated commit without a valid approval of its exact diff", "error",
            "Under the run's trust policy the commit is not accepted: no good signature by an "
            "allowed key over its recomputed diff hash, a changed diff, a file outside its "
            "plan's spec, or no review by this CI. Review it with `hybrid review`.")
    if any(c.could_not_run for o in outcomes for c in o.checks):
        add(RULE_COULD_NOT_RUN, "CouldNotRun", "The tests could not run here", "error",
            "The tests never started (a test dependency, a generated file or the Go module "
            "cache missing, a runner not installed): an environment problem, not a judgement "
            "of the code. The message gives the cause and the fix; see docs/troubleshooting.md.")
    for outcome in outcomes:
        for check in outcome.checks:
            add(f"check/{check.name}", _pascal(f"check {check.name}"),
                f"Deterministic check: {check.name}",
                "error" if check.blocking else "warning",
                "A deterministic check (zero tokens) run before the review.")
        if outcome.verdict is not None:
            for entry in outcome.verdict.checklist:
                add(f"checklist/{entry.id}", _pascal(f"checklist {entry.id}"), entry.question,
                    "error", f"Review checklist entry: {entry.question}")
    return list(rules.values())


def _pascal(text: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", text) if w)


def _sarif_result(item: _Item, rule_index: dict[str, int]) -> dict[str, Any]:
    text = item.title if not item.message or item.message == item.title else \
        item.message if item.message.startswith(item.title) else f"{item.title}: {item.message}"
    if item.fix:
        text += f" Suggested fix: {item.fix}"
    res: dict[str, Any] = {
        "ruleId": item.rule,
        "level": item.level,
        "message": {"text": text},
        "partialFingerprints": {
            "hybridcodeFinding/v1": _fingerprint(item.rule, display_path(item.file or ""),
                                                 item.title)},
    }
    if item.rule in rule_index:
        res["ruleIndex"] = rule_index[item.rule]
    if item.file:
        res["locations"] = [{"physicalLocation": {
            # the real bytes, percent-encoded: a name that is not UTF-8 still names its file
            "artifactLocation": {"uri": quote(os.fsencode(item.file), safe="/"),
                                 "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": item.line},
        }}]
    props = {k: v for k, v in (("severity", item.severity), ("suggestedFix", item.fix)) if v}
    if props:
        res["properties"] = props
    return res


def sarif(result: Any) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of the ``hybridcode`` tool."""
    from hybridcode import __version__

    ci = _is_ci(result)
    outcomes = [o for _, o in _outcomes(result)]
    rules = _rules(outcomes, ci)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    items = _ci_items(result) if ci else problems(result)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL_NAME, "version": __version__,
                            "informationUri": TOOL_URI, "rules": rules}},
        "automationDetails": {"id": "hybridcode/review/"},
        "invocations": [{"executionSuccessful": True}],
        "results": [_sarif_result(item, index) for item in items],
    }
    if ci:
        run["properties"] = {"base": result.base, "head": result.head,
                             "exitCode": result.exit_code, "policy": result.policy,
                             "policyMeaning": result.policy_meaning}
    else:
        run["properties"] = {"decision": result.decision, "diffSha256": result.diff.sha256,
                             "reviewerModel": result.reviewer_model or "",
                             "checklistVersion": str(result.checklist_version or ""),
                             "reviewerCalls": result.calls, "diffParts": result.parts,
                             "diffPartsNotReviewed": result.parts_skipped,
                             "cutHunks": result.cut_hunks}
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _sarif_text(result: Any) -> str:
    return json.dumps(sarif(result), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------- GitHub annotations

def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, file: str | None = None, line: int | None = None,
               title: str | None = None) -> str:
    """One ``::level file=…,line=…,title=…::message`` workflow command."""
    props = []
    if file:
        name = checkout_name(file)
        props.append(f"file={escape_property(name)}")
        if name != display_path(file):  # U+FFFD stands for a byte: say which file it is
            message += f" (in {display_path(file)})"
        if line:
            props.append(f"line={int(line)}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"


def github_annotations(result: Any) -> str:
    items = _ci_items(result) if _is_ci(result) else problems(result)
    lines = []
    for item in items:
        level = _GITHUB_LEVEL.get(item.severity, {"note": "notice"}.get(item.level, item.level))
        text = item.message or item.title
        if item.fix:
            text += f"\nSuggested fix: {item.fix}"
        lines.append(annotation(level, text, item.file, item.line, item.title))
    if _is_ci(result):
        from hybridcode.review.service import EXIT_COULD_NOT_RUN

        ok = result.exit_code == 0
        summary = (f"{len(result.commits)} generated commit(s) in {result.base}..{result.head} "
                   f"under trust policy {result.policy} ({result.policy_meaning}): "
                   + ("all accepted" if ok else "tests could not run here (exit "
                      f"{EXIT_COULD_NOT_RUN}): fix the CI environment"
                      if result.exit_code == EXIT_COULD_NOT_RUN else "some not accepted"))
    else:
        ok = result.decision in ("approved", "nothing_to_review")
        stuck = result.could_not_run if hasattr(result, "could_not_run") else None
        summary = (f"review {result.decision.replace('_', ' ')} for diff "
                   f"{result.diff.sha256[:12]}" if stuck is None else
                   f"review of diff {result.diff.sha256[:12]}: {stuck.summary}")
        share = reviewer_share(result)
        if share:
            summary += f" ({share})"
        if result.decision == "nothing_to_review" and result.notes:
            summary = result.notes[0]
    lines.append(annotation("notice" if ok else "error", summary, title="hybridcode"))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- JUnit XML

_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: Any) -> str:
    return _XML_BAD.sub("", str(text if text is not None else ""))


def _suite(parent: Any, name: str, outcome: ReviewOutcome | None,
           extra_cases: list[tuple[str, str, str | None]],
           policy: str | None = None) -> tuple[int, int]:
    """A testsuite for one review; ``extra_cases`` are (classname, name, failure or None)."""
    import xml.etree.ElementTree as ET

    suite = ET.SubElement(parent, "testsuite", name=_x(name))
    cases: list[tuple[str, str, str | None, str]] = [(c, n, f, "gate") for c, n, f in extra_cases]
    props = ET.SubElement(suite, "properties") if outcome is not None or policy else None
    if policy:
        ET.SubElement(props, "property", name="trust_policy", value=_x(policy))
    if outcome is not None:
        for key, value in (("decision", outcome.decision), ("diff_sha256", outcome.diff.sha256),
                           ("reviewer_model", outcome.reviewer_model or ""),
                           ("checklist_version", outcome.checklist_version or ""),
                           ("reviewer_calls", outcome.calls), ("diff_parts", outcome.parts),
                           ("diff_parts_not_reviewed", outcome.parts_skipped),
                           ("cut_hunks", outcome.cut_hunks)):
            ET.SubElement(props, "property", name=key, value=_x(value))
        for c in outcome.checks:
            failure = None if c.ok or not c.blocking else "\n\n".join(
                part for part in (c.summary or "failed", c.details) if part)
            cases.append(("hybridcode.checks", c.name, failure,
                          "skipped" if c.skipped else "could-not-run" if c.could_not_run
                          else "check"))
        if outcome.verdict is not None:
            for e in outcome.verdict.checklist:
                cases.append(("hybridcode.checklist", f"{e.id}: {e.question}",
                              None if e.passed else e.reasoning, "checklist"))
    failures = skipped = errors = 0
    for classname, case_name, failure, kind in cases:
        case = ET.SubElement(suite, "testcase", classname=_x(classname), name=_x(case_name))
        if kind == "skipped" and failure is None:
            skipped += 1
            ET.SubElement(case, "skipped")
        elif failure is not None and kind == "could-not-run":
            errors += 1  # JUnit's "error": the test could not run, as opposed to it failing
            first = failure.strip().splitlines()[0] if failure.strip() else COULD_NOT_RUN
            node = ET.SubElement(case, "error", message=_x(first[:300]), type=kind)
            node.text = _x(failure)
        elif failure is not None:
            failures += 1
            first = failure.strip().splitlines()[0] if failure.strip() else "failed"
            node = ET.SubElement(case, "failure", message=_x(first[:200]), type=kind)
            node.text = _x(failure)
    if outcome is not None:
        out = [f"decision: {outcome.decision}"]
        if outcome.verdict is not None:
            out.append(f"summary: {outcome.verdict.summary}")
            out += [f"[{f.severity}] {display_path(f.file)}:{f.line} {f.title} — "
                    f"{f.explanation}" for f in outcome.verdict.findings]
        out += [f"check {c.name}: {'ok' if c.ok else 'FAILED'} {c.summary}"
                for c in outcome.checks if not c.ok and not c.blocking]
        ET.SubElement(suite, "system-out").text = _x("\n".join(out))
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return len(cases), failures, errors


def junit(result: Any) -> str:
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name=TOOL_NAME)
    tests = failures = errors = 0
    if _is_ci(result):
        for c in result.commits:
            # A commit whose tests could not run is settled by its review's own error case.
            case = ("hybridcode.approval", f"{c.sha[:12]} ({c.plan_id})",
                    None if c.ok or _stuck(c) else
                    f"{c.status} under policy {c.policy}: {c.detail}")
            t, f, e = _suite(root, f"hybridcode commit {c.sha[:12]}", c.outcome, [case],
                             policy=result.policy)
            tests, failures, errors = tests + t, failures + f, errors + e
    else:
        tests, failures, errors = _suite(root, f"hybridcode review {result.diff.sha256[:12]}",
                                         result, [])
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
