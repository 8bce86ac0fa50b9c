"""The list of commands. A command is registered here only once it works end to end."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
