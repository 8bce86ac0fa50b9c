"""The git pre-commit gate: install it, or run the check git calls on every commit."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="The git pre-commit gate: install it, or run the check git calls on "
                  "every commit.", no_args_is_help=True, rich_markup_mode=None)


@app.command("install")
def install(
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
) -> None:
    """Write .git/hooks/pre-commit (core.hooksPath respected); an existing hook runs first."""
    from hybridcode.review.hook import install_hook

    result = install_hook(path)
    verb = "installed" if result.updated else "already installed"
    typer.echo(f"{verb}: {result.path}")
    if result.chained:
        typer.echo(f"your previous hook runs first: {result.chained}")
    typer.echo("skip the gate for one commit with: git commit --no-verify")


@app.command("run")
def run(
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
) -> None:
    """Check the staged changes (what git's pre-commit hook calls); exit 1 blocks the commit."""
    # Only the hook module: this runs on every commit and must stay well under 0.3 s, so no
    # rich, no settings model, no SDKs (tests/bench/bench_hook.py measures it).
    from hybridcode.review.hook import hook_check

    result = hook_check(path)
    if not result.ok:
        typer.echo(f"hybrid gate: {result.message}", err=True)
        raise typer.Exit(1)
    if result.reason == "approved":
        typer.echo(f"hybrid gate: {result.message}", err=True)
