"""The review checklist: the default (``prompts/checklist.md``) extended by the project's.

Both files use one line per entry, ``- <id>: <question>``; other lines (headings, prose) are
ignored. A project entry without an id gets ``project-<n>``; a project entry that reuses a
default id replaces that entry (a project may sharpen a question, not just add one).

The *checklist version* is a short SHA-256 of the combined entries as sent to the reviewer.
Approvals are bound to it as well as to the diff: after the checklist changes, an approval
given under the old questions no longer counts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import ConfigError
from hybridcode.prompts import load_prompt

if TYPE_CHECKING:
    from hybridcode.config import Settings

DEFAULT_PROJECT_CHECKLIST = Path(".hybrid") / "checklist.md"
VERSION_CHARS = 12
_ENTRY = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.+?)\s*$")
_ID = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*):\s+(.+)$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    question: str


@dataclass(frozen=True)
class Checklist:
    items: tuple[ChecklistItem, ...]
    project_file: Path | None = None

    @property
    def text(self) -> str:
        """The entries as the reviewer reads them (and as the version hashes them)."""
        return "".join(f"- {item.id}: {item.question}\n" for item in self.items)

    @property
    def version(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:VERSION_CHARS]

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]


def parse_entries(text: str, default_prefix: str = "project") -> list[ChecklistItem]:
    items: list[ChecklistItem] = []
    for line in _COMMENT.sub("", text).splitlines():
        match = _ENTRY.match(line)
        if not match:
            continue
        body = match.group(1)
        named = _ID.match(body)
        if named:
            items.append(ChecklistItem(named.group(1), named.group(2)))
        else:
            items.append(ChecklistItem(f"{default_prefix}-{len(items) + 1}", body))
    return items


def project_checklist_path(root: Path, settings: Settings | None) -> Path | None:
    """The project's checklist file, or None when there is none. A configured path that does
    not exist is an error (a typo must not silently drop the project's questions)."""
    configured = settings.checklist if settings is not None else None
    if configured is not None:
        path = configured if configured.is_absolute() else Path(root) / configured
        if not path.is_file():
            raise ConfigError(f"the review checklist {path} does not exist",
                              "fix `checklist` in the config or create the file "
                              "(one `- id: question` per line)")
        return path
    default = Path(root) / DEFAULT_PROJECT_CHECKLIST
    return default if default.is_file() else None


def load_checklist(root: Path, settings: Settings | None = None) -> Checklist:
    items = {item.id: item for item in parse_entries(load_prompt("checklist.md"), "default")}
    path = project_checklist_path(root, settings)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the review checklist {path}: {exc}",
                              "make it a readable UTF-8 Markdown file") from exc
        for item in parse_entries(text):
            items[item.id] = item  # same id: the project's wording replaces the default
    return Checklist(tuple(items.values()), path)


def checklist_version(root: Path, settings: Settings | None = None) -> str:
    """The version approvals in ``root`` are currently checked against."""
    return load_checklist(root, settings).version
