"""Tokens, spend and the saving against all-Claude, per tier, step, task kind, day or model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import typer

from hybridcode.cli import ui
from hybridcode.text import plural

BAR_WIDTH = 32
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """``7d``, ``24h``, ``2w``, ``30m`` back from now, or an ISO date/time (UTC unless stated)."""
    from hybridcode.errors import UsageError

    if value is None:
        return None
    now = now or datetime.now(timezone.utc)
    text = value.strip().lower()
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f'--since "{value}" is neither a duration nor a date',
                         "use e.g. --since 7d, --since 24h or --since 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stats(
    since: Optional[str] = typer.Option(None, "--since",
                                        help="Only since then: 7d, 24h, 2w or a date."),
    plan: Optional[str] = typer.Option(None, "--plan", help="Only this plan's calls and items."),
    by: str = typer.Option("tier", "--by", help="Group spend by tier, step, kind, day or model."),
    routing: bool = typer.Option(False, "--routing",
                                 help="Routing history: thresholds, kinds promoted or demoted "
                                      "and why, misroutes."),
    as_json: bool = typer.Option(False, "--json", help="The same figures as JSON."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
) -> None:
    """Tokens, spend and the saving against all-Claude, per tier, step, task kind, day or model."""
    from hybridcode.config import find_project_root, load_settings
    from hybridcode.errors import UsageError
    from hybridcode.ledger import Ledger, ledger_path

    from hybridcode.ledger.stats import GROUP_BYS, compute_stats

    if by not in GROUP_BYS:
        raise UsageError(f'--by "{by}" is not one of {", ".join(GROUP_BYS)}', "e.g. --by day")
    moment = parse_since(since)
    root = find_project_root(path)
    settings = load_settings(root)
    with _open_ledger(root, ledger_path(root), Ledger) as ledger:
        if routing:
            from hybridcode.ledger.history import routing_report

            report = routing_report(ledger, settings)
            if as_json:
                ui.print_json(report)
            else:
                _render_routing(report)
            return
        result = compute_stats(ledger, settings, moment, plan, by)  # type: ignore[arg-type]
        data = result.as_dict()
        if plan is None:  # plans a coding agent wrote over MCP: their saving, estimated
            from hybridcode.ledger.calls import utc_iso
            from hybridcode.mcp_server.estimate import agent_saving

            agent = agent_saving(root, ledger, settings, utc_iso(moment) if moment else None)
            if agent.plans:
                data["agent_estimate"] = agent.model_dump()
    if as_json:
        ui.print_json(data)
    elif result.empty:
        _nothing_yet()
    else:
        render_stats(data)


@contextmanager
def _open_ledger(root: Path, path: Path, ledger_cls: Any) -> Iterator[Any]:
    """The repository's ledger; without one, an empty ledger in a temporary folder, so that
    the figures keep their shape and stats never creates ``.hybrid/`` as a side effect."""
    if path.is_file():
        with ledger_cls.open(root) as ledger:
            yield ledger
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hybrid-stats-") as tmp:
        with ledger_cls.open_file(Path(tmp) / "ledger.db") as ledger:
            yield ledger


def _nothing_yet() -> None:
    ui.console().print('no model calls recorded yet — run hybrid plan "what to build", then '
                       "hybrid implement PLAN")


# ---------------------------------------------------------------------------- rendering

def usd(amount: float | None) -> str:
    if amount is None:
        return "-"
    if amount == 0 or abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}"


def tokens(n: int) -> str:
    """Token counts short enough for an 80-column table: 9,500 / 10.5k / 1.25M."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _bars(title: str, rows: list[tuple[str, float]]) -> Any:
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(justify="left", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right")
    top = max((v for _k, v in rows), default=0.0)
    for key, value in rows:
        width = round(value / top * BAR_WIDTH) if top > 0 else 0
        bar = "█" * max(width, 1 if value > 0 else 0)
        table.add_row(key, f"[cyan]{bar}[/]", usd(value))
    return table


def render_stats(data: dict[str, Any]) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    con = ui.console()
    t = data["totals"]
    by = data["filters"]["by"]
    table = Table(title=f"spend by {by}", box=box.SIMPLE_HEAD, collapse_padding=True)
    rows = []
    for g in [*data["groups"], t]:
        # an unpriced call's cost is unknown, not $0: mark the figure as a lower bound
        cost = usd(g["cost_usd"]) + ("+?" if g["unpriced_calls"] else "")
        rows.append([escape(g["key"]), str(g["calls"]), tokens(g["input_tokens"]),
                     tokens(g["output_tokens"]), tokens(g["cache_write_tokens"]),
                     tokens(g["cache_read_tokens"]), cost, usd(g["counterfactual_usd"])])
    _figure_table(table, [by, "calls", "in", "out", "cache w", "cache r", "cost", "all-Claude"],
                  rows, bold_last=True)
    con.print(table)
    for line in savings_lines(data):
        con.print(line)
    agent = data.get("agent_estimate")
    if agent:
        from hybridcode.ledger.stats import saving_outcome

        if saving_outcome(agent["saving_usd"]) == "cost_more":
            figure = f"estimated to cost [red]{usd(-agent['saving_usd'])} more[/] than"
        else:
            figure = f"estimated saving {usd(agent['saving_usd'])} against"
        con.print(f"plans a coding agent wrote over MCP ({agent['plans']}): {figure} Claude "
                  "writing the code directly")
        con.print(f"[dim]{escape(agent['basis'])} ({escape(agent['model'])}); the agent's own "
                  "Claude tokens are invisible to hybrid.[/]")
    if t["unpriced_calls"]:
        models = ", ".join(data["unpriced_models"])
        unpriced = t["unpriced_calls"]
        have = "has" if unpriced == 1 else "have"
        con.print(f"[yellow]+? {plural(unpriced, 'call')} {have} no price ({escape(models)}): left "
                  "out of the cost and the counterfactual — add \\[prices.\"<model>\"] to the "
                  "config[/]")
    if data["budget_stops"]:
        stops = data["budget_stops"]
        were = "was" if stops == 1 else "were"
        con.print(f"{plural(stops, 'call')} {were} stopped by a budget before being made")
    cache = data["cache"]
    if cache["anthropic_calls"]:
        con.print(f"Claude prompt-cache hit rate {_pct(cache['hit_rate'])} "
                  f"({cache['cache_read_tokens']:,} of {cache['input_tokens']:,} input tokens "
                  "read from the cache)")
    for miss in cache.get("not_cached", []):
        con.print(f"[yellow]{miss['model']}: {miss['short_breakpoints']} cache breakpoints "
                  f"could not cache (prefix under the model's minimum of "
                  f"{miss['min_cache_tokens']:,} tokens); {miss['calls_without_cache']} of "
                  f"{miss['calls']} calls cached nothing — the API does not say so[/]")
    con.print(_bars("spend by day (UTC)", [(g["key"], g["cost_usd"]) for g in data["by_day"]]))
    con.print(_bars("spend by tier", [(g["key"], g["cost_usd"]) for g in data["by_tier"]]))
    _render_kinds(data["kinds"])
    _render_quality(data)


def saving_phrase(saving_usd: float, saving_pct: float | None) -> str:
    """A saving as rich markup that cannot be misread: "saved $X (Y%)" in green, a loss as
    "cost $X more (Y% more)" in red — never "saved $-X" — and a wash as "no difference"."""
    from hybridcode.ledger.stats import saving_outcome

    outcome = saving_outcome(saving_usd)
    if outcome == "even":
        return "no difference"
    if outcome == "saved":
        pct = "" if saving_pct is None else f" ({saving_pct:.1f}%)"
        return f"saved [bold green]{usd(saving_usd)}{pct}[/]"
    pct = "" if saving_pct is None else f" ({-saving_pct:.1f}% more)"
    return f"cost [red]{usd(-saving_usd)} more{pct}[/]"


def savings_lines(data: dict[str, Any]) -> list[str]:
    """Spent and saved against both counterfactuals (also the demo's last screen)."""
    cf = data["counterfactual"]
    lines = []
    direct = data.get("direct") or {}
    if direct.get("direct_usd") is not None:
        lines.append(f"against Claude implementing it directly {usd(direct['direct_usd'])}: "
                     f"spent {usd(direct['actual_usd'])}, "
                     f"{saving_phrase(direct['saving_usd'], direct['saving_pct'])}")
        if direct.get("escalation_usd"):
            lines.append(f"  of the spend, {usd(direct['escalation_usd'])} went to Claude "
                         "rescuing items routed local (escalations)")
        lines.append(f"[dim]estimate (direct): {direct['method']}.[/]")
    lines.append(f"against the same pipeline all on Claude {usd(cf['counterfactual_usd'])}: "
                 f"spent {usd(cf['actual_usd'])}, "
                 f"{saving_phrase(cf['saving_usd'], cf['saving_pct'])}")
    lines.append(f"[dim]estimate (all-Claude): {cf['method']}.[/]")
    return lines


def _figure_table(table: Any, headers: list[str], rows: list[list[str]],
                  bold_last: bool = False) -> None:
    """A key column that folds, then figures that are never cut: each figure column is as
    wide as its widest figure (rich would otherwise turn $0.2017 into $0.2…)."""
    ui.add_text_column(table, headers[0])
    for n, header in enumerate(headers[1:], start=1):
        table.add_column(header, justify="right", no_wrap=True,
                         min_width=max(len(header), *(len(r[n]) for r in rows)))
    for i, row in enumerate(rows):
        table.add_row(*row, style="bold" if bold_last and i == len(rows) - 1 else None)


def _render_kinds(kinds: list[dict[str, Any]]) -> None:
    if not kinds:
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="task kinds", box=box.SIMPLE_HEAD, collapse_padding=True)
    rows = []
    for k in kinds:
        g = k["grades"]
        rows.append([escape(k["kind"]), str(k["items"]),
                     "-" if k["attempts_per_item"] is None else f"{k['attempts_per_item']:.1f}",
                     _pct(k["escalation_rate"]), str(g["poor"]), str(g["acceptable"]),
                     str(g["good"]), _pct(k["acceptance_rate"]),
                     "-" if k["avg_tokens"] is None else tokens(round(k["avg_tokens"]))])
    _figure_table(table, ["kind", "items", "tries", "esc.", "poor", "ok", "good", "acc.",
                          "tokens"], rows)
    ui.console().print(table)


def _render_quality(data: dict[str, Any]) -> None:
    from rich.markup import escape

    con = ui.console()
    for c in data["finetune_candidates"]:
        ex = c["example"]
        con.print(f"[magenta]LoRA candidate[/] {escape(c['kind'])}: {c['count']} poor grades "
                  f"for \"{escape(c['failure_mode'])}\" — e.g. {escape(ex['item_id'])}: "
                  f"{escape(ex['excerpt'])}")
    for trip in data["breaker_trips"]:
        errors = escape("; ".join(f"{e['item_id']}: {e['outcome']} {e['error']}".strip()
                                  for e in trip["errors"]))
        con.print(f"[red]breaker[/] rung {trip['rung']} ({trip['model']}) switched off in run "
                  f"{trip['run_id']} at {trip['at']}: {errors}")
    if data["misroutes"]:
        misrouted = plural(len(data["misroutes"]), "item")
        con.print(f"{misrouted} routed local escalated to Claude — "
                  "see hybrid stats --routing")


def _render_routing(report: dict[str, Any]) -> None:
    from rich.table import Table

    con = ui.console()
    th = report["thresholds"]
    con.print(f"promote: ≥{th['promote_min_reviewed']} reviewed local uses and "
              f"≥{th['promote_min_good_rate']:.0%} acceptable or good; demote: "
              f"≥{th['demote_min_uses']} local uses and ≥{th['demote_escalation_rate']:.0%} "
              f"escalated; more than {th['max_local_constraints']} constraints → Claude")
    if not report["kinds"]:
        con.print("no routing history yet — it grows as hybrid implement and hybrid review run")
        return
    table = Table(title="routing history per task kind")
    for col in ("kind", "reviewed", "acceptable+", "local uses", "escalated", "status", "why"):
        ui.add_text_column(table, col)
    for k in report["kinds"]:
        table.add_row(k["kind"], str(k["reviewed"]), str(k["acceptable_or_good"]),
                      str(k["local_uses"]), str(k["escalated"]), k["status"], k["why"])
    con.print(table)
    if report["misroutes"]:
        table = Table(title="misroutes: routed local, escalated")
        ui.add_text_column(table, "plan")
        ui.add_whole_column(table, "item", [m["item_id"] for m in report["misroutes"]])
        for col in ("kind", "state", "rung", "attempts"):
            ui.add_text_column(table, col)
        for m in report["misroutes"]:
            table.add_row(m["plan_id"], m["item_id"], m["kind"], m["state"],
                          "-" if m["rung"] is None else str(m["rung"]), str(m["attempts"]))
        con.print(table)
    else:
        con.print("no misroutes: no item routed local had to escalate")
