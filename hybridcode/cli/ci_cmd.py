"""CI mode (``hybrid review --base REV --ci``): judge each generated commit in a range under a
named trust policy; review what the policy does not accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

CI_FORMATS = ("text", "json", "markdown", "sarif", "github", "junit")


def _text(result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from hybridcode.cli.ui import console

    out = console()
    out.print(f"trust policy [bold]{result.policy}[/]: {escape(result.policy_meaning)} "
              f"[dim]({escape(result.policy_reason)}"
              + (f"; allowed signers from {escape(result.trust)}" if result.trust else "")
              + ")[/]")
    if not result.commits:
        out.print(f"no commits with a Hybrid-Plan trailer in {result.base}..{result.head}")
        return
    table = Table(title=f"generated commits in {result.base}..{result.head}")
    for col in ("commit", "plan", "status", "detail"):
        table.add_column(col, overflow="fold")
    from hybridcode.review.ci import COULD_NOT_RUN

    for c in result.commits:
        color = "green" if c.ok else "yellow" if c.status == COULD_NOT_RUN else "red"
        table.add_row(c.sha[:12], escape(c.plan_id), f"[{color}]{c.status}[/]", escape(c.detail))
    out.print(table)
    bad = sum(1 for c in result.commits if not c.ok and c.status != COULD_NOT_RUN)
    stuck = sum(1 for c in result.commits if c.status == COULD_NOT_RUN)
    if bad:
        out.print(f"[red]{bad} commit(s) not accepted under policy {result.policy}[/]")
    if stuck:
        out.print(f"[yellow]{stuck} commit(s) could not be judged: their tests could not run "
                  "here — fix the CI environment as the detail says, then run again[/]")
    if not bad and not stuck:
        out.print(f"[green]all generated commits accepted under policy {result.policy}[/]")


def run_ci_command(base: str, head: str = "HEAD", fmt: str = "text",
                   review_missing: bool = True, repo: Path = Path("."),
                   output: Path | None = None, policy: str | None = None,
                   cache_dir: Path | None = None) -> int:
    """Run the CI gate, print (or write to ``output``) the report; return the exit code
    (0 every commit accepted under the trust policy, 1 any rejected, 3 the tests of a commit
    could not run here and nothing was rejected)."""
    from hybridcode.errors import UsageError
    from hybridcode.review.ci import run_ci
    from hybridcode.review.hook import project_roots

    if fmt not in CI_FORMATS:
        raise UsageError(f"unknown format {fmt!r}", f"use one of: {', '.join(CI_FORMATS)}")
    _, root = project_roots(repo)
    result = run_ci(root, base, head, review_missing=review_missing, policy=policy,
                    cache_dir=cache_dir)
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
