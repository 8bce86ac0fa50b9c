"""Grade an item yourself (poor, acceptable or good) and say why; routing learns from it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def feedback(
    item: str = typer.Argument(..., help="The spec item's id."),
    grade: str = typer.Argument(..., help="poor, acceptable or good."),
    why: str = typer.Argument("", help="Why (for poor: the failure mode, e.g. "
                                       "\"ignores empty input\")."),
    plan: Optional[str] = typer.Option(None, "--plan", help="The plan, when several have "
                                                             "an item of this id."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
) -> None:
    """Grade an item yourself (poor, acceptable or good) and say why; routing learns from it."""
    from hybridcode.cli.ui import console
    from hybridcode.config import find_project_root
    from hybridcode.errors import UsageError
    from hybridcode.feedback import record_feedback
    from hybridcode.ledger import Ledger, ledger_path

    root = find_project_root(path)
    if not ledger_path(root).is_file():
        raise UsageError(f'no item "{item}": this repository has no ledger yet',
                         "feedback grades items that hybrid implement or hybrid review recorded")
    with Ledger.open(root) as ledger:
        record = record_feedback(ledger, item, grade.strip().lower(), why, plan)
    answered = (f", answering review {record.answers_review}" if record.answers_review
                else " (no review of it yet)")
    console().print(f"recorded: {record.item_id} ({record.kind or 'unknown kind'}) graded "
                    f"{record.grade}{answered}", markup=False, soft_wrap=True)
