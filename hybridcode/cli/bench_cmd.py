"""Measure your models on a task suite: pass rate on hidden tests, Claude spend, local tokens,
wall time and escalations per mode, and the performance gap recovered (PGR, RouteLLM)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from hybridcode.bench import BenchEvent, BenchReport
    from hybridcode.bench.protocol_report import ProtocolReport

app = typer.Typer(help=__doc__, invoke_without_command=True, rich_markup_mode=None)


@app.callback()
def bench(
    ctx: typer.Context,
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
    protocol: Optional[str] = typer.Option(
        None, "--protocol", metavar="aider|pipeline",
        help="Run an imported exercise suite (`bench import-polyglot`): `aider` = instructions "
        "and stub, hidden tests, a second try with the test output (modes all-local, "
        "all-claude), as Aider's leaderboard runs; `pipeline` = Claude plans, the ladder "
        "implements, the tests score (hybrid mode)."),
    languages: list[str] = typer.Option([], "--languages", metavar="LANG",
                                        help="With --protocol: only these languages "
                                        "(python, go, javascript); repeat or comma-separate."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from hybridcode.bench import MODES, run_bench
    from hybridcode.cli.ui import print_json
    from hybridcode.config import load_settings
    from hybridcode.errors import UsageError

    if protocol is not None:
        if suite is None:
            raise UsageError("--protocol needs --suite SUITE",
                             "import one first: hybrid bench import-polyglot CHECKOUT --out SUITE")
        _run_protocol(suite, protocol, mode, tasks, _split(languages), path, json_out)
        return
    if suite is not None:
        from hybridcode.bench.exercise import is_exercise_suite

        if is_exercise_suite(suite):
            raise UsageError(f"{suite} holds whole-file exercises",
                             "run it with --protocol aider")
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


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@app.command("import-polyglot")
def import_polyglot(
    checkout: Path = typer.Argument(..., exists=True, file_okay=False,
                                    help="A local checkout of Aider-AI/polyglot-benchmark."),
    out: Path = typer.Option(..., "--out", file_okay=False, help="New folder for the suite."),
    languages: list[str] = typer.Option([], "--languages", metavar="LANG",
                                        help="python, go, javascript (default: all three); "
                                        "repeat or comma-separate."),
    check: bool = typer.Option(True, "--check/--no-check",
                               help="Self-check every task (reference passes, stub fails) "
                               "and record the exceptions in SUITE/check.json."),
    json_out: bool = typer.Option(False, "--json", help="Print the import summary as JSON."),
) -> None:
    """Turn a checkout of Aider's polyglot benchmark into a bench suite: one task per exercise
    (instructions as the request, the stub as the file to modify, the tests hidden, the example
    as the reference), then self-check it."""
    from hybridcode.bench.polyglot import import_polyglot as do_import
    from hybridcode.bench.protocols import check_suite_file
    from hybridcode.cli.ui import console, err_console, print_json

    result = do_import(checkout, out, _split(languages) or None)
    summary = result.to_dict()
    progress = err_console()
    progress.print(f"imported {sum(len(v) for v in result.imported.values())} exercises "
                   f"({', '.join(f'{k} {len(v)}' for k, v in result.imported.items())}) from "
                   f"commit {result.commit[:12]} into {out}", soft_wrap=True)
    if result.node_packages and not (out / "node_modules").exists():
        progress.print(f"JavaScript exercises run with jest and babel: run `npm install` in "
                       f"{out} (its package.json lists them); until then they are listed as "
                       "'could not run'", soft_wrap=True)
    if check:
        total = sum(len(v) for v in result.imported.values())
        done = [0]

        def show(item) -> None:
            done[0] += 1
            mark = "ok" if item.ok else f"excluded: {item.exception}"
            progress.print(f"check {done[0]}/{total} {item.task_id}: {mark}", soft_wrap=True)

        summary["check"] = check_suite_file(out, on_checked=show)
    if json_out:
        print_json(summary)
        return
    out_console = console()
    out_console.print(f"Suite {out}: {', '.join(f'{k} {len(v)}' for k, v in result.imported.items())}"
                      f" (commit {result.commit[:12]})", soft_wrap=True)
    for exercise, why in result.skipped:
        out_console.print(f"  not imported: {exercise} — {why}", soft_wrap=True)
    if check:
        record = summary["check"]
        for lang, counts in record["languages"].items():
            out_console.print(f"  {lang}: {counts['ok']} of {counts['tasks']} ready, "
                              f"{counts['excluded']} excluded", soft_wrap=True)
        for entry in record["excluded"]:
            out_console.print(f"  excluded {entry['task_id']}: {entry['why']}", soft_wrap=True)
        out_console.print(f"Self-check: {record['wall_s']:.0f}s", soft_wrap=True)


def _run_protocol(suite: Path, protocol: str, modes: list[str], tasks: list[str],
                  languages: list[str], repo: Path, json_out: bool) -> None:
    from hybridcode.bench.aider import PROTOCOL_MODES
    from hybridcode.bench.protocols import run_protocol
    from hybridcode.cli.ui import err_console, print_json
    from hybridcode.config import load_settings

    settings = load_settings(repo)
    progress = err_console()

    def on_event(event) -> None:
        if event.state == "done" and event.result is not None:
            r = event.result
            if r.could_not_run:
                mark = f"could not run ({r.could_not_run})"
            elif r.error:
                mark = f"fail ({r.error})"
            else:
                mark = {(True, True): "pass on try 1", (False, True): "pass on try 2"}.get(
                    (r.passed_try1, r.passed), "fail")
            progress.print(f"{event.mode} {event.index}/{event.total} {r.task_id}: {mark} "
                           f"({r.tests_passed}/{r.tests_total} tests; {r.wall_s:.1f}s)",
                           soft_wrap=True)

    default = ["hybrid"] if protocol == "pipeline" else list(PROTOCOL_MODES)
    report = run_protocol(suite, protocol, modes or default, settings, on_event,
                          only=tasks or None, languages=languages or None)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_protocol(report)


def _print_protocol(report: ProtocolReport) -> None:
    from rich import box
    from rich.table import Table

    from hybridcode.cli.ui import console

    out = console()
    for mode in report.modes:
        table = Table(title=f"{mode} · {report.models.get(mode, '')}", box=box.SIMPLE_HEAD,
                      pad_edge=False)
        for column in ("language", "try 1", "try 2", "Claude $", "$/solved", "local",
                       "escalated"):
            table.add_column(column, justify="left" if column == "language" else "right")
        for lang, t in report.tallies(mode).items():
            per = f"{t.claude_usd / t.try2:.4f}" if t.try2 else "-"
            table.add_row(lang, f"{t.try1}/{t.total} ({100 * t.try1 / t.total:.1f}%)",
                          f"{t.try2}/{t.total} ({100 * t.try2 / t.total:.1f}%)",
                          f"{t.claude_usd:.4f}", per, f"{t.local_solved}/{t.try2}",
                          str(t.escalated))
        out.print(table)
        for entry in report.not_run(mode):
            out.print(f"  could not run here (not counted): {entry['task_id']} — {entry['why']}",
                      soft_wrap=True)
    out.print(report.label(), soft_wrap=True)
    for entry in report.excluded:
        out.print(f"  excluded by the self-check: {entry['task_id']} — {entry['why']}",
                  soft_wrap=True)
    rows = report.leaderboard()
    if rows:
        out.print("Aider's polyglot leaderboard, same models (all 225 exercises, six "
                  "languages):", soft_wrap=True)
        for row in rows:
            first = "-" if row["pass_rate_1"] is None else f"{row['pass_rate_1']}%"
            cost = "" if not row["cost_usd"] else f", ${row['cost_usd']:.2f} a run"
            out.print(f"  {row['model']} ({row['edit_format']}, {row['date']}): try 1 {first}, "
                      f"try 2 {row['pass_rate_2']}%{cost}", soft_wrap=True)
