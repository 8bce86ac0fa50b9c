"""The list of commands. A command is registered here only once it works end to end."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from hybridcode.cli import doctor_cmd, init_cmd

    app.command("init", help=init_cmd.__doc__)(init_cmd.init)
    app.command("doctor", help=doctor_cmd.__doc__)(doctor_cmd.doctor)
    from hybridcode.cli import plan_cmd, spec_cmd, status_cmd

    app.command("plan", help=plan_cmd.__doc__)(plan_cmd.plan)
    app.add_typer(spec_cmd.app, name="spec")
    app.command("status", help=status_cmd.__doc__)(status_cmd.status)
    from hybridcode.cli import map_cmd

    app.command("map", help=map_cmd.__doc__)(map_cmd.map_command)
