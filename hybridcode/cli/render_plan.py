"""Terminal and JSON renderings of a plan."""

from __future__ import annotations

from typing import Any


def plan_summary_json(result) -> dict[str, Any]:
    estimates = {e.item_id: e for e in result.estimates}
    return {
        "plan_id": result.plan_id,
        "path": str(result.path),
        "title": result.spec.title,
        "base_commit": result.meta.base_commit,
        "planner_model": result.meta.planner_model,
        "plan_cost_usd": result.meta.cost_usd,
        "delegation": result.delegation,
        "items": [
            {
                "id": item.id, "kind": item.kind, "action": item.action,
                "target": item.target, "route": item.route, "route_reason": item.route_reason,
                "overridden": item.route_overridden, "depends_on": item.depends_on,
                "spec_tokens": item.spec_size(), "code_tokens": item.code_size(),
                "sizing": result.decisions[item.id].evidence.get("sizing")
                if item.id in result.decisions else None,
                "estimated_input_tokens": estimates[item.id].input_tokens,
                "estimated_output_tokens": estimates[item.id].output_tokens,
                "estimated_cost_usd": round(estimates[item.id].cost_usd, 6),
            }
            for item in result.spec.items
        ],
        "warnings": [w.render() for w in result.warnings],
        "toolchain_warnings": _toolchain_warnings(result),
        "excluded_from_context": result.excluded,
    }


def print_plan_summary(result) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from hybridcode.cli.ui import add_text_column, add_whole_column, console

    out = console()
    estimates = {e.item_id: e for e in result.estimates}
    # Light rules and two-line cells (file / symbol, route / reason) keep the table inside 80
    # columns without cutting an id: the ids are what `hybrid implement` and `status` take.
    table = Table(title=f"plan {result.plan_id}: {result.spec.title}", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False,
                  caption="tokens and cost: the implement step's estimate per item")
    items = result.spec.items
    add_whole_column(table, "item", [item.id for item in items])
    add_whole_column(table, "kind", [item.kind for item in items])
    add_text_column(table, "target")
    add_text_column(table, "route · reason")
    for col in ("tokens", "cost"):
        table.add_column(col, justify="right", no_wrap=True)
    for item in items:
        est = estimates[item.id]
        route = f"[cyan]{item.route}[/]" if item.route == "local" else f"[magenta]{item.route}[/]"
        if item.route_overridden:
            route += " (override)"
        target = item.file + (f"\n::{item.symbol}" if item.symbol else "")
        table.add_row(item.id, item.kind, target,
                      f"{route} · ~{item.spec_size():,} spec tokens\n[dim]{item.route_reason}[/]",
                      f"{est.input_tokens + est.output_tokens:,}", f"${est.cost_usd:.4f}")
    out.print(table)
    if result.delegation:
        out.print(f"delegation: {result.delegation}")
    cost = result.meta.cost_usd
    out.print(f"planning cost: ${cost:.4f}" if cost is not None else "planning cost: unknown")
    for warning in result.warnings:
        out.print(f"[yellow]warning[/] {warning.render()}")
    for warning in _toolchain_warnings(result):
        out.print(f"[yellow]warning[/] {escape(warning)}")
    out.print(f"wrote {result.path} (architecture.md, spec.json, plan.md)")
    out.print(f"next: review spec.json, then `hybrid spec check {result.plan_id}`")



def _toolchain_warnings(result) -> list[str]:
    """Toolchain problems that would stop this plan's items from being judged here."""
    from hybridcode.judge.toolchains import plan_warnings

    return plan_warnings(result.path.parent.parent.parent, result.spec)
