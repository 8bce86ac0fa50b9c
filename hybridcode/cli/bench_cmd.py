"""Measure your models on a task suite: pass rate on hidden tests, Claude spend, local tokens,
wall time and escalations per mode, and the performance gap recovered (PGR, RouteLLM)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from hybridcode.bench import BenchEvent, BenchReport


def bench(
    suite: Optional[Path] = typer.Option(None, "--suite", file_okay=False,
                                         help="Folder of tasks (default: the bundled "
                                         "fixtures/bench suite)."),
    mode: list[str] = typer.Option([], "--mode", metavar="hybrid|all-claude|all-local",
                                   help="Mode to run; repeat for several (default: all three)."),
    tasks: list[str] = typer.Option([], "--tasks", metavar="ID",
                                    help="Run only these task ids; repeat for several."),
    keep: Optional[Path] = typer.Option(None, "--keep", file_okay=False,
                                        help="Leave each task's repository under this folder."),
    path: Path = typer.Option(Path("."), "--repo", help="Project whose configuration (models, "
                              "prices) is used."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    from hybridcode.bench import MODES, run_bench
    from hybridcode.cli.ui import print_json
    from hybridcode.config import load_settings
    from hybridcode.errors import UsageError

    modes = mode or list(MODES)
    for name in modes:
        if name not in MODES:
            raise UsageError(f"--mode {name} is not a bench mode", f"use {' or '.join(MODES)}")
    settings = load_settings(path)
    report = run_bench(suite, modes, settings, on_event=_progress(), only=tasks or None,
                       keep=keep)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_report(report)


def _progress():
    """One line per finished task on stderr (stdout stays clean for --json)."""
    from hybridcode.cli.ui import err_console

    console = err_console()

    def on_event(event: BenchEvent) -> None:
        if event.state == "start":
            console.print(f"[dim]{event.mode} {event.index}/{event.total} {event.task_id} …[/]",
                          soft_wrap=True)
        elif event.state == "done" and event.result is not None:
            r = event.result
            mark = "[green]pass[/]" if r.passed else "[red]fail[/]"
            hidden = f"{r.hidden_passed}/{r.hidden_total} hidden" if r.hidden_total else \
                "not scored"
            where = r.final_model or "no model answered"
            up = " · escalated" if r.escalated else ""
            console.print(f"{event.mode} {event.index}/{event.total} {r.task_id}: {mark} "
                          f"({hidden}; {where}{up}; {r.wall_s:.1f}s)", soft_wrap=True)
    return on_event


def _usd(amount: float) -> str:
    return f"${amount:.4f}" if 0 < amount < 1 else f"${amount:.2f}"


def _print_report(report: BenchReport) -> None:
    from rich import box
    from rich.table import Table

    from hybridcode.cli.ui import console

    # A light box and short headers: eight columns must fit an 80-column terminal.
    table = Table(title=f"hybrid bench · {len(report.task_ids)} tasks", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("mode", min_width=10)
    for column in ("pass rate", "Claude tok", "Claude $", "local tok", "wall", "escalated",
                   "out/acc", "spec:code"):
        table.add_column(column, justify="right", min_width=len(column))
    for name, m in report.modes.items():
        per = m.claude_output_per_accepted
        ratio = m.spec_to_code
        table.add_row(name, f"{m.pass_rate:.0%} ({m.passed}/{m.total})",
                      f"{m.claude_tokens:,}", _usd(m.claude_usd), f"{m.local_tokens:,}",
                      f"{m.wall_s:.1f}s", f"{m.escalation_rate:.0%} ({m.escalated})",
                      "-" if per is None else f"{per:,.0f}",
                      "-" if ratio is None else f"{ratio:.2f}")
    out = console()
    out.print(table)
    failed = [(name, t) for name, m in report.modes.items() for t in m.tasks if not t.passed]
    if failed:
        out.print("Failed on hidden tests: " + ", ".join(
            f"{t.task_id} ({name})" for name, t in failed), soft_wrap=True)
    out.print("out/acc: Claude output tokens per accepted item; spec:code: spec tokens over "
              "the accepted code's tokens (below 1, the spec costs less than the code)",
              soft_wrap=True)
    # soft_wrap: one line however narrow the terminal, so scripts can grep for it.
    out.print(f"PGR (performance gap recovered, RouteLLM): {report.pgr.render()}",
              soft_wrap=True)
