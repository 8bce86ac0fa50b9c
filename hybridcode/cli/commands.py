"""The list of commands. A command is registered here only once it works end to end."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from hybridcode.cli import init_cmd

    app.command("init", help=init_cmd.__doc__)(init_cmd.init)
