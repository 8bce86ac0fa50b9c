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
    from hybridcode.cli.ui import add_text_column, add_whole_column, console, print_json
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
        add_whole_column(table, "plan", [r["plan_id"] for r in rows])
        add_whole_column(table, "status", [r["status"] for r in rows])
        for col in ("items", "local/claude"):
            add_text_column(table, col)
        add_whole_column(table, "created", [r["created_at"] for r in rows])
        add_text_column(table, "title")
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
    items = data["items"]
    add_whole_column(table, "item", [i["id"] for i in items])
    add_whole_column(table, "kind", [i["kind"] for i in items])
    add_text_column(table, "target")
    add_whole_column(table, "route", [i["route"] or "-" for i in items])
    add_whole_column(table, "state", [i["state"] for i in items])
    add_text_column(table, "depends on")
    for item in items:
        table.add_row(item["id"], item["kind"], item["target"], item["route"] or "-",
                      item["state"], "\n".join(item["depends_on"]))
    console().print(table)
