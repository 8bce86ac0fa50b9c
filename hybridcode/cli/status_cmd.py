"""Plans and their state; for one plan, each item's state."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def status(
    plan: Optional[str] = typer.Argument(None, help="Plan id or unique prefix."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    from hybridcode.cli.ui import console, print_json
    from hybridcode.plan.status import plan_status, plans_overview

    if plan is None:
        rows = plans_overview(path)
        if json_out:
            print_json({"plans": rows})
            return
        if not rows:
            console().print('no plans yet — create one with: hybrid plan "what to build"')
            return
        from rich.table import Table

        table = Table(title="plans")
        for col in ("plan", "status", "items", "local/claude", "created", "title"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["plan_id"], r["status"], str(r["items"]),
                          f"{r['routes'].get('local', 0)}/{r['routes'].get('claude', 0)}",
                          r["created_at"], r["title"])
        console().print(table)
        return
    data = plan_status(path, plan)
    if json_out:
        print_json(data)
        return
    from rich.table import Table

    table = Table(title=f"{data['plan_id']} · {data['status']} · {data['title']}")
    for col in ("item", "kind", "target", "route", "state", "depends on"):
        table.add_column(col)
    for item in data["items"]:
        table.add_row(item["id"], item["kind"], item["target"], item["route"] or "-",
                      item["state"], ", ".join(item["depends_on"]))
    console().print(table)
