"""Lenient JSON extraction, strict validation: shared by the local backends.

Small local models wrap JSON in ```json fences or add a sentence before or after it even when
the server constrains the format. We strip that packaging, then validate the object strictly with
pydantic; a failure raises :class:`OutputFormatError` carrying the raw text and pydantic's exact
message, so the caller can feed it back to the model (we never loop here).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from hybridcode.errors import OutputFormatError

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T", bound="BaseModel")

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_MAX_STARTS = 20  # candidate "{" / "[" positions tried before giving up on prose-wrapped JSON


def extract_json(text: str) -> str | None:
    """The JSON value inside ``text`` (fences and surrounding prose removed), or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        candidate = candidate.strip()
        if not candidate:
            continue
        try:
            json.loads(candidate)
            return candidate
        except ValueError:
            pass
        found = _first_embedded_value(candidate)
        if found is not None:
            return found
    return None


def _first_embedded_value(text: str) -> str | None:
    """The first complete JSON object or array that starts somewhere inside ``text``."""
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch in "{["][:_MAX_STARTS]
    for start in starts:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, (dict, list)):
            return text[start:end]
    return None


def parse_output(schema: type[T], text: str, model: str, usage: object = None) -> T:
    """Validate ``text`` against ``schema``; raise OutputFormatError(raw=text) on any failure.
    ``usage`` rides on the error so the failed call is still costed."""
    payload = extract_json(text)
    hint = "send the error back to the model and ask for output that matches the schema"
    if payload is None:
        raise OutputFormatError(
            f"{model} returned no JSON object for {schema.__name__}", hint, raw=text, usage=usage)
    try:
        return schema.model_validate_json(payload)
    except ValidationError as exc:
        raise OutputFormatError(
            f"{model} returned JSON that does not match {schema.__name__}: {exc}", hint,
            raw=text, usage=usage) from exc
