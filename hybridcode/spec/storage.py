"""Reading and writing ``spec.json``: structural validation (types, enums, required fields,
id format) with every problem reported as a :class:`SpecIssue`, and atomic saves."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hybridcode.errors import SpecError
from hybridcode.spec.issues import SpecIssue, fix_hint, raise_for_issues
from hybridcode.spec.migration import READABLE_VERSIONS, migrate
from hybridcode.spec.model import ID_PATTERN, SPEC_VERSION, Spec

_PYDANTIC_MESSAGES = {
    "missing": "missing (required)",
    "extra_forbidden": "unknown field; check the spelling against docs/spec.md",
    "string_pattern_mismatch": "must be a short slug of lowercase letters, digits and hyphens, "
    "e.g. ratelimit-store",
}


def _issues_from_validation(exc: ValidationError, data: Any) -> list[SpecIssue]:
    items = data.get("items") if isinstance(data, dict) else None
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        item_id, index, rest = None, None, loc
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
            index, rest = loc[1], loc[2:]
            raw = items[index] if isinstance(items, list) and index < len(items) else None
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(raw_id, str) and re.fullmatch(ID_PATTERN, raw_id):
                item_id = raw_id
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
        message = _PYDANTIC_MESSAGES.get(err["type"], err["msg"])
        issues.append(SpecIssue(item_id, field, message, index=None if item_id else index))
    return issues


def spec_from_data(data: Any) -> tuple[Spec | None, list[SpecIssue]]:
    """Validate parsed JSON into a :class:`Spec`; on failure return every structural issue."""
    if isinstance(data, dict):
        version = data.get("spec_version", SPEC_VERSION)
        if version not in READABLE_VERSIONS:
            return None, [SpecIssue(None, "spec_version", f"is {version!r}; this version of "
                                    "hybrid reads spec_version "
                                    f"{', '.join(map(str, READABLE_VERSIONS))} (upgrade "
                                    "hybridcode or re-plan)")]
        data = migrate(data)
    try:
        return Spec.model_validate(data), []
    except ValidationError as exc:
        return None, _issues_from_validation(exc, data)


def load_spec(path: Path) -> Spec:
    """Read and structurally validate a spec file. Errors name the item and field."""
    source = path.name
    plan = path.parent.name or None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(f"{path} does not exist", "run `hybrid plan` first, or check the "
                        "plan id with `hybrid status`") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {path}: {exc}", "check the file's permissions and "
                        "encoding (UTF-8)") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}", fix_hint(source, plan)) from exc
    spec, issues = spec_from_data(data)
    if spec is None:
        if isinstance(data, dict) and isinstance(data.get("plan_id"), str):
            plan = data["plan_id"]
        raise_for_issues(issues, source, plan)
        raise SpecError(f"{source} is not a valid spec", fix_hint(source, plan))
    return spec


def spec_to_json(spec: Spec) -> str:
    """Stable, pretty JSON: fields in model order, every field present, so a person sees all
    — except an item's ``sizing`` when the plan has none (a spec written by hand)."""
    data = spec.model_dump(mode="json")
    for item in data["items"]:
        if item.get("sizing") is None:
            item.pop("sizing", None)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save_spec(spec: Spec, path: Path) -> None:
    """Write atomically (temp file + rename), so an interrupted save never leaves half a spec."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(spec_to_json(spec))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
