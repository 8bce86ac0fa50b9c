"""The list of commands. A command is registered here only once it works end to end."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from hybridcode.cli import doctor_cmd, init_cmd

    app.command("init", help=init_cmd.__doc__)(init_cmd.init)
    app.command("doctor", help=doctor_cmd.__doc__)(doctor_cmd.doctor)
