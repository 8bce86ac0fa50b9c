"""Inspect and check a plan's spec."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hybridcode.text import plural

app = typer.Typer(help="Inspect and check a plan's spec.", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command("check")
def check(
    plan: Optional[str] = typer.Argument(None, help="Plan id or unique prefix (default: newest)."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Print the issues as JSON."),
) -> None:
    """Re-validate spec.json (or the kept draft, spec.invalid.json) after an edit; every
    problem names the item and field."""
    from hybridcode.cli.ui import console, print_json
    from hybridcode.plan.check import check_plan

    result = check_plan(path, plan)
    if json_out:
        print_json({"plan_id": result.plan_id, "ok": result.ok, "checked": result.checked,
                    "promoted": result.promoted,
                    "items": len(result.spec.items) if result.spec else None,
                    "issues": [{"item": i.item_id, "field": i.field, "message": i.message,
                                "severity": i.severity} for i in result.issues]})
    else:
        out = console()
        for issue in result.issues:
            color = "red" if issue.is_error else "yellow"
            out.print(f"[{color}]{issue.severity}[/] {issue.render()}")
        if result.ok:
            items = plural(len(result.spec.items), "item")
            out.print(f"spec of {result.plan_id} is valid ({items})")
            if result.promoted:
                out.print(f"wrote spec.json from {result.checked}; next: hybrid implement "
                          f"{result.plan_id}")
        else:
            errors = sum(1 for i in result.issues if i.is_error)
            out.print(f"[red]spec of {result.plan_id} has {plural(errors, 'error')}[/] — fix "
                      f"{result.checked} and run this again")
    if not result.ok:
        raise typer.Exit(1)
