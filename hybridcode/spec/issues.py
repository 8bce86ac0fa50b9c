"""Problems found in a spec, located by item and field, and how they are shown and raised."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hybridcode.errors import SpecError
from hybridcode.spec.model import Severity

@dataclass(frozen=True)
class SpecIssue:
    """One problem, located by item (id, or 0-based ``index`` when the id is unusable) and field."""

    item_id: str | None
    field: str
    message: str
    severity: Severity = "error"
    index: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self, source: str = "spec.json") -> str:
        where = []
        if self.item_id is not None:
            where.append(f'item "{self.item_id}"')
        elif self.index is not None:
            where.append(f"item #{self.index + 1}")
        if self.field:
            where.append(f'field "{self.field}"')
        prefix = f"{source}: " + (" ".join(where) + ": " if where else "")
        suffix = " (warning)" if self.severity == "warning" else ""
        return prefix + self.message + suffix


def render_issues(issues: Iterable[SpecIssue], source: str = "spec.json") -> str:
    """A bullet list, for the repair prompt and for ``hybrid spec check``."""
    return "\n".join(f"- {issue.render(source)}" for issue in issues)


def raise_for_issues(issues: list[SpecIssue], source: str = "spec.json",
                     plan: str | None = None) -> None:
    """Raise :class:`SpecError` for the first error-severity issue; warnings pass."""
    errors = [i for i in issues if i.is_error]
    if not errors:
        return
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise SpecError(errors[0].render(source) + more, fix_hint(source, plan))


def fix_hint(source: str, plan: str | None) -> str:
    return f"fix {source} and run `hybrid spec check {plan or '<plan>'}`"
