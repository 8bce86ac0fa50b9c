"""Review a plan's worktree, the staged changes or a range: checks, then Claude's checklist review.

Exit codes: 0 approved, 1 changes requested or blocked, 2 usage errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from hybridcode.review.verdict import ReviewOutcome

_DECISION_STYLE = {"approved": "bold green", "changes_requested": "bold yellow",
                   "blocked": "bold red"}
_SEVERITY_STYLE = {"critical": "bold red", "major": "red", "minor": "yellow", "info": "dim"}
_GRADE_STYLE = {"good": "green", "acceptable": "yellow", "poor": "red"}


def review(
    plan: Optional[str] = typer.Argument(None, help="Plan id or unique prefix (default: the "
                                         "newest plan)."),
    staged: bool = typer.Option(False, "--staged", help="Review the staged changes instead "
                                "of a plan (what the pre-commit hook does)."),
    base: Optional[str] = typer.Option(None, "--base", metavar="REV",
                                       help="Review what HEAD (or --head) changes relative to "
                                       "REV, e.g. origin/main."),
    head: Optional[str] = typer.Option(None, "--head", metavar="REV",
                                       help="End of the range reviewed with --base "
                                       "(default HEAD)."),
    fresh: bool = typer.Option(False, "--fresh", help="Review again even when this exact "
                               "diff was already reviewed."),
    fmt: str = typer.Option("text", "--format", "-f",
                            help="text, json, markdown, sarif, github or junit."),
    ci: bool = typer.Option(False, "--ci", help="CI mode (with --base): check each generated "
                            "commit's approval against its real diff; review those without."),
    review_missing: bool = typer.Option(True, "--review-missing/--no-review",
                                        help="In CI mode, review commits lacking a valid "
                                        "approval (default) or only report them."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write the report to this file."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    from hybridcode.cli.progress import model_progress
    from hybridcode.errors import UsageError
    from hybridcode.review import service

    fmt = "json" if json_out else fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    if ci:
        if base is None or staged or plan:
            raise UsageError("--ci checks a range of commits and needs --base",
                             "e.g. hybrid review --base origin/main --head HEAD --ci")
        from hybridcode.cli.ci_cmd import run_ci_command

        raise typer.Exit(run_ci_command(base, head or "HEAD", fmt, review_missing, repo=path,
                                        output=output))
    _check_usage(plan, staged, base, head)
    quiet = fmt != "text" or output is not None
    with model_progress("reviewing", quiet=quiet) as (on_stage, _progress):
        if staged:
            outcome = service.review_staged(path, fresh=fresh, on_stage=on_stage)
        elif base is not None:
            outcome = service.review_range(path, base, head or "HEAD", fresh=fresh,
                                           on_stage=on_stage)
        else:
            outcome = service.review_plan(path, plan, fresh=fresh, on_stage=on_stage)

    if fmt == "text" and output is None:
        print_review(outcome)
    else:
        from hybridcode.review.reports import render

        text = render(outcome, "json" if fmt == "text" else fmt)
        if output is not None:
            output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            if fmt == "text":
                print_review(outcome)
        else:
            typer.echo(text)
    raise typer.Exit(service.exit_code(outcome))


FORMATS = ("text", "json", "markdown", "sarif", "github", "junit")


def _check_usage(plan: str | None, staged: bool, base: str | None, head: str | None) -> None:
    from hybridcode.errors import UsageError

    if staged and (plan or base or head):
        raise UsageError("--staged reviews the index; it takes no plan, --base or --head",
                         "run `hybrid review --staged` or `hybrid review PLAN`")
    if plan and (base or head):
        raise UsageError("a plan is reviewed against its own base commit; --base/--head do "
                         "not apply", "run `hybrid review PLAN` or `hybrid review --base REV`")
    if head and not base:
        raise UsageError("--head needs --base", "e.g. hybrid review --base origin/main "
                         "--head HEAD")


# ---------------------------------------------------------------------------- rendering

def _esc(value: Any) -> str:
    from rich.markup import escape

    return escape(str(value))


def print_review(outcome: ReviewOutcome) -> None:
    from rich.table import Table

    from hybridcode.cli.ui import console, status_mark

    out = console()
    diff = outcome.diff
    what = f"plan {outcome.plan_id}" if outcome.plan_id else diff.source
    files = len(diff.files)
    out.print(f"[bold]Review of {_esc(what)}[/] · {files} file{'s' * (files != 1)} · "
              f"diff {diff.sha256[:12]} · checklist {outcome.checklist_version}"
              + (" · [cyan]from the record[/]" if outcome.cached else ""))

    checks = Table(title="Checks", title_justify="left", show_edge=False)
    checks.add_column("check")
    checks.add_column("result")
    checks.add_column("summary", overflow="fold")
    for check in outcome.checks:
        mark = "[dim]skipped[/]" if check.skipped else status_mark(check.ok if check.ok or
                                                                   check.blocking else None)
        checks.add_row(check.name, mark, _esc(check.summary))
        for finding in check.findings[:10]:
            checks.add_row("", "", f"[dim]{_esc(finding['file'])}:{finding['line']}[/] "
                           f"{_esc(finding['message'])}")
    out.print(checks)

    verdict = outcome.verdict
    if verdict is None:
        out.print("[dim]The reviewer was not asked: the checks decided.[/]")
    else:
        _print_verdict(out, verdict, Table)
    for note in outcome.notes:
        out.print(f"[dim]note:[/] {_esc(note)}")
    style = _DECISION_STYLE[outcome.decision]
    label = outcome.decision.replace("_", " ").upper()
    by = f" by {_esc(outcome.reviewer_model)}" if outcome.reviewer_model else ""
    cost = f" · ${outcome.cost:.4f}" if outcome.cost else ""
    out.print(f"[{style}]{label}[/]{by}{cost}")


def _print_verdict(out, verdict, table_cls) -> None:
    checklist = table_cls(title="Checklist", title_justify="left", show_edge=False)
    checklist.add_column("entry")
    checklist.add_column("result")
    checklist.add_column("reasoning", overflow="fold")
    for entry in verdict.checklist:
        checklist.add_row(_esc(entry.id), "[green]pass[/]" if entry.passed else "[red]FAIL[/]",
                          _esc(entry.reasoning))
    out.print(checklist)
    if verdict.findings:
        findings = table_cls(title="Findings", title_justify="left", show_edge=False)
        findings.add_column("severity")
        findings.add_column("where")
        findings.add_column("finding", overflow="fold")
        for f in verdict.findings:
            text = f"[bold]{_esc(f.title)}[/]\n{_esc(f.explanation)}"
            if f.suggested_fix:
                text += f"\n[dim]fix:[/] {_esc(f.suggested_fix)}"
            findings.add_row(f"[{_SEVERITY_STYLE[f.severity]}]{f.severity}[/]",
                             f"{_esc(f.file)}:{f.line}" if f.line else _esc(f.file), text)
        out.print(findings)
    if verdict.grades:
        grades = table_cls(title="Grades", title_justify="left", show_edge=False)
        grades.add_column("item")
        grades.add_column("grade")
        grades.add_column("failure mode")
        for g in verdict.grades:
            grades.add_row(_esc(g.item_id), f"[{_GRADE_STYLE[g.grade]}]{g.grade}[/]",
                           _esc(g.failure_mode))
        out.print(grades)
    out.print(_esc(verdict.summary))
