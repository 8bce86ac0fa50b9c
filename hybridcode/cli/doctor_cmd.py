"""Check git, the API key, Ollama, the local models, GPU memory and the grammars."""

from __future__ import annotations

from pathlib import Path

import typer


def doctor(
    path: Path = typer.Argument(Path("."), help="Repository whose configuration to check."),
    online: bool = typer.Option(False, "--online",
                                help="Also ping each Claude model (a 1-token call, billed)."),
    json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    ci: bool = typer.Option(False, "--ci", help="Check what a CI job reviewing generated "
                            "commits needs: git, the sandbox, and what the tests of each "
                            "language need here (the package importable from a fresh checkout, "
                            "the Go module cache, the JavaScript runners). Exit 1 when "
                            "something is missing."),
) -> None:
    from rich.markup import escape
    from rich.table import Table

    from hybridcode.cli.ui import add_text_column, console, print_json, status_mark
    from hybridcode.doctor import checks_as_json, run_checks

    checks = run_checks(path, online=online, ci=ci)
    report = checks_as_json(checks)
    if json_out:
        print_json(report)
    else:
        table = Table(title="hybrid doctor", show_lines=False)
        for col in ("check", "status", "detail", "what to do"):
            add_text_column(table, col)
        for c in checks:
            mark = status_mark(True if c.ok else (None if not c.required else False))
            # Text, not markup: a detail names config sections ([approvals], [checks]).
            table.add_row(escape(c.name), mark, escape(c.detail),
                          escape(c.hint or "") if not c.ok else "")
        console().print(table)
    if not report["ok"]:
        raise typer.Exit(1)
