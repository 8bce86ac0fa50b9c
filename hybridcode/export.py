"""``hybrid export``: the local model's reviewed work as JSONL training data (docs/stats.md).

One record per graded item whose graded code a local model wrote: the prompt that local
attempt saw, its output, and the reviewer's judgment of it (grade, failure mode and the review
findings about the item). Which attempt was graded: of the item's attempts up to the grade's
time, the last one that passed its tests (else the last one). When that attempt ran on a paid
model — the item escalated — the record would teach the local model Claude's work, so it is
left out. Attempts that failed their tests are left out too: their judgment is a test log, not
a review.

Two shapes (``fmt``): ``triples`` — ``{"input", "output", "judgment", "grade", "failure_mode",
"kind", "model", "plan_id", "item_id"}``; ``chat`` — ``{"messages": [system, user, assistant],
"metadata": {…the same fields but input and output…}}``, which common fine-tuning tools read.
Every text is scrubbed of credentials (:mod:`hybridcode.ledger.redact`) and of lines that the
secret scanner flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hybridcode.errors import UsageError
from hybridcode.fsutil import atomic_write_text
from hybridcode.ledger.history import GRADES, latest_grades
from hybridcode.ledger.redact import REDACTED, redact, secret_values

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.ledger import Ledger

Format = Literal["chat", "triples"]
FORMATS: tuple[str, ...] = ("chat", "triples")
# What the implementer was asked to do, for prompts stored without their system part.
DEFAULT_SYSTEM = ("You implement exactly one item of a software spec. Answer with the code "
                  "for that item only.")
_SECRET_PASSES = 50  # the scanner reports one secret at a time; a file rarely holds more


class NothingToExport(UsageError):
    """An export that found no record; the message says why, with the counts."""

    exit_code = 1


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int
    candidates: int  # records before the --kind / --min-grade filters


def _scrub(text: str, secrets: list[str]) -> str:
    from hybridcode.context.files import find_secret, secret_scanning

    text = redact(text, secrets)
    with secret_scanning():
        for _ in range(_SECRET_PASSES):
            found = find_secret("export.txt", text)
            if found is None:
                break
            lines = text.split("\n")
            lines[found[1] - 1] = REDACTED
            text = "\n".join(lines)
    return text


def _split_prompt(prompt: str) -> tuple[str, str]:
    """(system, user). The implement stage may store the request as JSON with its parts."""
    try:
        data = json.loads(prompt)
    except ValueError:
        return DEFAULT_SYSTEM, prompt
    if isinstance(data, dict) and isinstance(data.get("system"), str):
        user = data.get("user") or data.get("prompt")
        if user is None and isinstance(data.get("messages"), list):
            user = "\n".join(str(m.get("content", "")) for m in data["messages"]
                             if isinstance(m, dict) and m.get("role") == "user")
        return data["system"] or DEFAULT_SYSTEM, str(user or "")
    return DEFAULT_SYSTEM, prompt


def _refs(entry: dict[str, Any]) -> set[str]:
    refs = {str(entry[k]) for k in ("item_id", "item", "spec_item", "id") if entry.get(k)}
    items = entry.get("items") or entry.get("item_ids")
    if isinstance(items, list):
        refs.update(str(i) for i in items)
    return refs


def _judgment(ledger: Ledger, grade: dict[str, Any], files: dict[str, str]) -> str:
    """The grade, its failure mode, and the review's words about this item: its grade entry's
    reasoning and the findings that name the item (or, failing that, its target file)."""
    lines = [f"grade: {grade['grade']}"]
    if grade["failure_mode"]:
        lines.append(f"failure mode: {grade['failure_mode']}")
    review_ids = [grade["review_id"]]
    verdicts = []
    while review_ids:
        rows = ledger.query("SELECT verdict FROM reviews WHERE id = ?", (review_ids.pop(),))
        try:
            verdict = json.loads(rows[0]["verdict"]) if rows else {}
        except ValueError:
            verdict = {}
        if not isinstance(verdict, dict):
            continue
        verdicts.append(verdict)
        answered = (verdict.get("feedback") or {}).get("answers_review")
        if answered:  # a person's feedback: also quote the review it answers
            lines.append(f"reviewer's note from the user: {verdict['feedback'].get('why')}")
            review_ids.append(answered)
    item_id, target = grade["item_id"], files.get(grade["item_id"])
    for verdict in verdicts:
        for entry in verdict.get("grades") or verdict.get("items") or []:
            if isinstance(entry, dict) and item_id in _refs(entry):
                why = entry.get("reasoning") or entry.get("why") or entry.get("summary")
                if why:
                    lines.append(f"review: {why}")
        findings = [f for f in verdict.get("findings") or [] if isinstance(f, dict)]
        named = [f for f in findings if item_id in _refs(f)]
        if not named and target:
            named = [f for f in findings if f.get("file") == target]
        for f in named:
            where = f"{f.get('file', '')}:{f.get('line', '')}".strip(":")
            text = " — ".join(str(f[k]) for k in ("title", "explanation") if f.get(k))
            fix = f" (fix: {f['suggested_fix']})" if f.get("suggested_fix") else ""
            lines.append(f"finding [{f.get('severity', '?')}] {where}: {text}{fix}")
    return "\n".join(lines)


def _target_files(root: Path, plan_id: str) -> dict[str, str]:
    """item id → target file from the plan's spec.json, when it is still there."""
    from hybridcode.plan.store import PlanStore

    try:
        data = json.loads(PlanStore(root).spec_path(plan_id).read_text(encoding="utf-8"))
        return {i["id"]: i["file"] for i in data.get("items", []) if "id" in i and "file" in i}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _graded_attempt(ledger: Ledger, grade: dict[str, Any]) -> Any:
    rows = ledger.query(
        "SELECT a.id, a.ts, a.model, a.outcome, a.prompt, a.output, c.is_local "
        "FROM attempts a LEFT JOIN calls c ON c.id = a.call_id "
        "WHERE a.plan_id = ? AND a.item_id = ? ORDER BY a.ts", (grade["plan_id"],
                                                                 grade["item_id"]))
    before = [r for r in rows if r["ts"] <= grade["ts"]] or rows
    passed = [r for r in before if r["outcome"] == "passed"]
    return (passed or before or [None])[-1]


def collect(ledger: Ledger, settings: Settings, root: Path, *, kind: str | None = None,
            min_grade: str = "poor", fmt: Format = "chat",
            plan_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """(records after the filters, records before them). Raises :class:`NothingToExport`
    with the reason and the counts when there is nothing to write."""
    if fmt not in FORMATS:
        raise UsageError(f'--format "{fmt}" is not one of {", ".join(FORMATS)}',
                         "use --format chat (messages) or --format triples")
    if min_grade not in GRADES:
        raise UsageError(f'--min-grade "{min_grade}" is not one of {", ".join(GRADES)}',
                         "e.g. --min-grade acceptable")
    local_models = {s.model for s in settings.tiers.implementer if s.is_local}
    secrets = secret_values(settings)
    grades = latest_grades(ledger, plan_id)
    files: dict[str, dict[str, str]] = {}
    candidates = []
    for grade in grades.values():
        attempt = _graded_attempt(ledger, grade)
        if attempt is None or attempt["output"] is None or attempt["prompt"] is None:
            continue
        is_local = (bool(attempt["is_local"]) if attempt["is_local"] is not None
                    else attempt["model"] in local_models)
        if not is_local:
            continue
        if grade["plan_id"] not in files:
            files[grade["plan_id"]] = _target_files(root, grade["plan_id"])
        system, user = _split_prompt(attempt["prompt"])
        candidates.append({
            "system": _scrub(system, secrets), "input": _scrub(user, secrets),
            "output": _scrub(attempt["output"], secrets),
            "judgment": _scrub(_judgment(ledger, grade, files[grade["plan_id"]]), secrets),
            "grade": grade["grade"], "failure_mode": _scrub(grade["failure_mode"] or "", secrets)
            or None, "kind": grade["kind"], "model": attempt["model"],
            "plan_id": grade["plan_id"] or None, "item_id": grade["item_id"]})
    floor = GRADES.index(min_grade)
    chosen = [c for c in candidates if (kind is None or c["kind"] == kind)
              and c["grade"] in GRADES and GRADES.index(c["grade"]) >= floor]
    if not chosen:
        raise NothingToExport(*_why_empty(ledger, plan_id, len(grades), candidates, kind,
                                          min_grade))
    return [_shape(c, fmt) for c in chosen], len(candidates)


def _shape(c: dict[str, Any], fmt: Format) -> dict[str, Any]:
    meta = {k: c[k] for k in ("judgment", "grade", "failure_mode", "kind", "model", "plan_id",
                              "item_id")}
    if fmt == "triples":
        return {"input": c["input"], "output": c["output"], **meta}
    return {"messages": [{"role": "system", "content": c["system"]},
                         {"role": "user", "content": c["input"]},
                         {"role": "assistant", "content": c["output"]}],
            "metadata": meta}


def _why_empty(ledger: Ledger, plan_id: str | None, graded: int,
               candidates: list[dict[str, Any]], kind: str | None,
               min_grade: str) -> tuple[str, str]:
    scope = f" in plan {plan_id}" if plan_id else ""
    if graded == 0:
        return (f"nothing to export: no reviews yet{scope} (0 graded items)",
                "run hybrid review PLAN, or grade items with hybrid feedback")
    if not candidates:
        sql = ("SELECT COUNT(*) FROM attempts a LEFT JOIN calls c ON c.id = a.call_id "
               "WHERE COALESCE(c.is_local, 1) = 1" + (" AND a.plan_id = ?" if plan_id else ""))
        local = ledger.query(sql, [plan_id] if plan_id else [])[0][0]
        return (f"nothing to export: none of the {graded} graded items{scope} was written by "
                f"a local model ({local} local attempts recorded)",
                "route items local (hybrid plan … --route ITEM=local) and review them")
    kinds = sorted({c["kind"] for c in candidates})
    spread = ", ".join(f"{g} {sum(c['grade'] == g for c in candidates)}" for g in GRADES)
    filters = " ".join(f for f in (f"--kind {kind}" if kind else "",
                                   f"--min-grade {min_grade}") if f)
    return (f"nothing to export: the filter is too strict ({filters}): {len(candidates)} "
            f"records before it, by grade {spread}",
            f"kinds with records: {', '.join(kinds)}")


def export_jsonl(ledger: Ledger, settings: Settings, root: Path, out: Path, *,
                 kind: str | None = None, min_grade: str = "poor", fmt: Format = "chat",
                 plan_id: str | None = None) -> ExportResult:
    records, candidates = collect(ledger, settings, root, kind=kind, min_grade=min_grade,
                                  fmt=fmt, plan_id=plan_id)
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}",
                         "choose a writable path with --out") from exc
    return ExportResult(out, len(records), candidates)
