"""The ``hybrid`` command: a thin typer shell over the core library.

Exactly one place turns exceptions into exit codes (:class:`HybridGroup.invoke`):
project errors → ``Error: <what> — <what to do>`` on stderr, exit 1 (2 for usage and
configuration); Ctrl-C → one line, exit 130; anything unexpected → one line pointing at
``HYBRID_DEBUG=1``, which re-raises so the traceback shows.

Start-up stays light: command modules import their core code inside the command function.
"""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from hybridcode import __version__


def _debug() -> bool:
    return os.environ.get("HYBRID_DEBUG", "") not in ("", "0", "false", "no")


class HybridGroup(TyperGroup):
    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        from hybridcode.errors import HybridError

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors etc.: typer's own handling
            raise
        except HybridError as exc:
            if _debug():
                raise
            typer.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("Interrupted — nothing half-applied; re-run the command to continue.",
                       err=True)
            ctx.exit(130)
        except Exception as exc:  # the last line of defence: never a traceback by default
            if _debug():
                raise
            name = type(exc).__name__
            typer.echo(f"Error: unexpected {name}: {exc} — re-run with HYBRID_DEBUG=1 for the "
                       "traceback and report it", err=True)
            ctx.exit(1)


app = typer.Typer(
    cls=HybridGroup,
    name="hybrid",
    help="Claude plans and reviews, a local model implements, a gate guards every commit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click-style) help: typer's rich help imports markdown, syntax and traceback
    # renderers, about 170 ms — tripling start-up (tests/bench/bench_startup.py).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hybrid {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Claude plans and reviews, a local model implements, a gate guards every commit."""


def _register() -> None:
    from hybridcode.cli import commands

    commands.register(app)


_register()


def main() -> None:
    argv = sys.argv[1:]
    if argv[:2] == ["hook", "run"] and not set(argv[2:]) & {"-h", "--help"}:
        # The pre-commit gate runs on every commit and must answer in < 0.3 s; building the
        # typer app alone costs ~0.2 s, so `hybrid hook run [--repo DIR]` skips it.
        from hybridcode.review.hook import main as hook_main

        rest = argv[2:]
        if rest[:1] == ["--repo"]:
            rest = rest[1:]
        sys.exit(hook_main(rest))
    try:
        app()
    except KeyboardInterrupt:  # raised outside a command (e.g. during start-up)
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
