"""Write the local model's reviewed work as JSONL training data (chat messages or triples)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def export(
    out: Path = typer.Option(..., "--out", "-o", help="The JSONL file to write."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only this task kind, e.g. "
                                                             "crud/function."),
    min_grade: str = typer.Option("poor", "--min-grade",
                                  help="Lowest grade to include: poor, acceptable or good."),
    fmt: str = typer.Option("chat", "--format", help="chat (messages for fine-tuning tools) "
                                                     "or triples."),
    plan: Optional[str] = typer.Option(None, "--plan", help="Only this plan's items."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
) -> None:
    """Write the local model's reviewed work as JSONL training data (chat messages or triples)."""
    from hybridcode.cli.ui import console
    from hybridcode.config import find_project_root, load_settings
    from hybridcode.export import NothingToExport, export_jsonl
    from hybridcode.ledger import Ledger, ledger_path

    root = find_project_root(path)
    settings = load_settings(root)
    if not ledger_path(root).is_file():
        raise NothingToExport("nothing to export: no reviews yet (this repository has no "
                              "ledger)", 'run hybrid plan "…", hybrid implement and hybrid '
                              "review first")
    with Ledger.open(root) as ledger:
        result = export_jsonl(ledger, settings, root, out, kind=kind, min_grade=min_grade,
                              fmt=fmt, plan_id=plan)  # type: ignore[arg-type]
    left_out = result.candidates - result.records
    note = f" ({left_out} left out by the filters)" if left_out else ""
    console().print(f"wrote {result.records} records to {result.path}{note}", markup=False,
                    soft_wrap=True)
