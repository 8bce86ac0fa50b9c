"""CI mode: check that each generated commit in a range is still the diff its review approved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

CI_FORMATS = ("text", "json", "markdown", "sarif", "github", "junit")


def _text(result: Any) -> None:
    from rich.table import Table

    from hybridcode.cli.ui import console

    out = console()
    if not result.commits:
        out.print(f"no commits with a Hybrid-Plan trailer in {result.base}..{result.head}")
        return
    table = Table(title=f"generated commits in {result.base}..{result.head}")
    for col in ("commit", "plan", "status", "detail"):
        table.add_column(col, overflow="fold")
    colors = {"valid": "green", "reviewed-approved": "green"}
    for c in result.commits:
        color = colors.get(c.status, "red")
        table.add_row(c.sha[:12], c.plan_id, f"[{color}]{c.status}[/]", c.detail)
    out.print(table)
    bad = sum(1 for c in result.commits if c.status not in ("valid", "reviewed-approved"))
    out.print("[green]all generated commits carry a valid approval[/]" if not bad else
              f"[red]{bad} commit(s) without a valid approval[/]")


def run_ci_command(base: str, head: str = "HEAD", fmt: str = "text",
                   review_missing: bool = True, repo: Path = Path("."),
                   output: Path | None = None) -> int:
    """Run the CI gate, print (or write to ``output``) the report; return the exit code
    (0 every commit valid or approved on review, 1 otherwise)."""
    from hybridcode.errors import UsageError
    from hybridcode.review.ci import run_ci
    from hybridcode.review.hook import project_roots

    if fmt not in CI_FORMATS:
        raise UsageError(f"unknown format {fmt!r}", f"use one of: {', '.join(CI_FORMATS)}")
    _, root = project_roots(repo)
    result = run_ci(root, base, head, review_missing=review_missing)
    if fmt == "text" and output is None:
        _text(result)
        return result.exit_code
    from hybridcode.review.reports import render

    text = render(result, "markdown" if fmt == "text" else fmt)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)
    return result.exit_code


def ci(
    base: str = typer.Option(..., "--base", help="Start of the range, e.g. origin/main."),
    head: str = typer.Option("HEAD", "--head", help="End of the range."),
    fmt: str = typer.Option("text", "--format",
                            help="text, json, markdown, sarif, github or junit."),
    review_missing: bool = typer.Option(True, "--review-missing/--no-review",
                                        help="Review commits without a valid approval."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                          help="Write the report to this file."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
) -> None:
    """CI mode: check that each generated commit in a range is still the diff its review approved."""
    code = run_ci_command(base, head, fmt, review_missing, repo=path, output=output)
    raise typer.Exit(code)
