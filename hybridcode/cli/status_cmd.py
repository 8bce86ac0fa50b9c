"""Plans and their state; for one plan, each item's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

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
        console().print(_plans_table(rows))
        return
    data = plan_status(path, plan)
    if json_out:
        print_json(data)
        return
    console().print(_items_table(data, console().width))


def _when(iso: str) -> str:
    """``2026-12-07 04:02`` (UTC) from the stored ISO time."""
    return iso[:16].replace("T", " ")


def _plans_table(rows: list[dict]) -> Any:
    """Each plan on two lines — id and title, status and creation time — so that the id stays
    whole and nothing shrinks to nothing at 80 columns."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from hybridcode.cli.ui import add_whole_column, add_words_column

    table = Table(title="plans", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    add_whole_column(table, "plan", [r["plan_id"] for r in rows])
    add_whole_column(table, "status", [r["status"] for r in rows] + ["2026-01-01 00:00"])
    counts = [f"{r['items']} ({r['routes'].get('local', 0)} local, "
              f"{r['routes'].get('claude', 0)} claude)" for r in rows]
    add_words_column(table, "items", counts)
    for r, count in zip(rows, counts):
        table.add_row(f"{r['plan_id']}\n[dim]{escape(r['title'])}[/]",
                      f"{r['status']}\n[dim]{_when(r['created_at'])}[/]", count)
    return table


def _model(label: str | None) -> str:
    """``claude-sonnet-5-5 (anthropic)``: the model first, and a space a narrow column can wrap
    at instead of breaking the name."""
    if not label:
        return ""
    backend, _, model = label.partition(":")
    return f"{model} ({backend})" if model else label


def _items_table(data: dict, width: int) -> Any:
    """One plan's items: what each is, its route, and where implement got to — state, rung
    and model of the latest attempt, attempts — readable at 80 columns: ids whole, model
    names wrapped between words (never inside one), the target folding into what is left."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from hybridcode.cli.ui import add_whole_column

    items = data["items"]
    table = Table(title=f"{data['plan_id']} · {data['status']} · {escape(data['title'])}",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    ids = [i["id"] for i in items] + [f"← {d}" for i in items for d in i["depends_on"]]
    states = [i["state"] for i in items] + [i["route"] or "-" for i in items] + ["escalated"]
    models = [_made_by(i) for i in items]
    targets = [f"{i['kind']} {i['target']}" for i in items]
    # Rich shrinks wrapping columns below their minimum when the row is too wide, so the two
    # that wrap get explicit widths: the model column what its words need, the target the rest.
    content = width - 3 * 3  # four columns: a separator and a space each side between them
    fixed = max(map(len, ids)) + max(len("escalated"), *map(len, states))
    model_min = max(len("attempts"), *(len(w) for m in models for w in m.split()))
    target_w, model_w = _share(content - fixed, (10, max(map(len, targets))),
                               (model_min, max(model_min, *map(len, models))))
    add_whole_column(table, "item", ids)
    table.add_column("kind · target", overflow="fold", width=target_w)
    add_whole_column(table, "state\nroute", states)
    table.add_column("rung · model\n· attempts", overflow="fold", width=model_w)
    for item, model, target in zip(items, models, targets):
        deps = "".join(f"\n[dim]← {d}[/]" for d in item["depends_on"])
        state = (f"{item['state']}\n[dim]{item['route'] or '-'}[/]"
                 + ("\n[yellow]escalated[/]" if item["escalated"] else ""))
        table.add_row(f"{item['id']}{deps}", escape(target), state, escape(model))
    return table


def _share(room: int, *columns: tuple[int, int]) -> list[int]:
    """Widths for columns given as (minimum, natural): each its natural width when all fit,
    else its minimum plus a share of what is left in proportion to what it lacks."""
    lows = [low for low, _ in columns]
    wants = [max(0, high - low) for low, high in columns]
    spare = max(0, room - sum(lows))
    if spare >= sum(wants):
        return [high for _, high in columns]
    return [low + spare * want // max(1, sum(wants)) for low, want in zip(lows, wants)]


def _made_by(item: dict) -> str:
    """``2 · claude-sonnet-5-5 (anthropic) · 3 tries``; code written in the plan names no
    implementer model, since none ran."""
    n = item["attempts"]
    tries = f" · {n} {'try' if n == 1 else 'tries'}" if n else ""
    if (item["model"] or "").split(":")[0] == "plan":
        return f"written in the plan{tries}"
    if item["rung"] is None:
        return "-"
    return f"{item['rung'] + 1} · {_model(item['model'])}{tries}"
