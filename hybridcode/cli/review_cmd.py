"""Review a plan's worktree, the staged changes or a range: checks, then Claude's checklist review.

With --fix, a plan that is not approved goes back to the implementer: the findings are sent to
the spec items they concern, those items are implemented again (their tests must pass), and the
new diff is reviewed; up to --rounds times. Nothing is committed.

Exit codes: 0 approved, 1 changes requested or blocked, 2 usage errors, 3 the tests could not
run here (an environment problem: the cause and the fix are printed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from hybridcode.review.fix import FixResult
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
    policy: Optional[str] = typer.Option(None, "--policy", metavar="POLICY",
                                         help="In CI mode, the trust policy: signed, reviewed "
                                         "or hash (default: signed when the base revision "
                                         "has an allowed-signers file, else reviewed)."),
    cache: Optional[Path] = typer.Option(None, "--cache", metavar="DIR",
                                         help="In CI mode, where this CI keeps its own "
                                         "verdicts (default ~/.cache/hybridcode/ci-verdicts)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write the report to this file."),
    fix: bool = typer.Option(False, "--fix", help="When a plan is not approved, send the "
                             "findings back to the implementer ladder (only the items they "
                             "concern), re-run the checks and review again; never commits."),
    rounds: Optional[int] = typer.Option(None, "--rounds", metavar="N",
                                         help="With --fix: at most N fix rounds (default 2)."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    from hybridcode.cli.progress import model_progress
    from hybridcode.errors import UsageError
    from hybridcode.review import service

    fmt = "json" if json_out else fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    _check_fix_usage(fix, rounds, staged, base, head, ci)
    if fix:
        _fix(path, plan, rounds, fresh, fmt, output)
    if ci:
        if base is None or staged or plan:
            raise UsageError("--ci checks a range of commits and needs --base",
                             "e.g. hybrid review --base origin/main --head HEAD --ci")
        from hybridcode.cli.ci_cmd import run_ci_command

        raise typer.Exit(run_ci_command(base, head or "HEAD", fmt, review_missing, repo=path,
                                        output=output, policy=policy, cache_dir=cache))
    if (policy or cache) and not ci:
        raise UsageError("--policy and --cache apply to CI mode", "add --ci (with --base)")
    _check_usage(plan, staged, base, head)
    if base is None:  # a plan's or the staged diff: its approval is signed here
        _warn_if_unsigned(path, staged)
    quiet = fmt != "text" or output is not None
    with model_progress("reviewing", quiet=quiet) as (on_stage, _progress):
        if staged:
            outcome = service.review_staged(path, fresh=fresh, on_stage=on_stage)
        elif base is not None:
            outcome = service.review_range(path, base, head or "HEAD", fresh=fresh,
                                           on_stage=on_stage)
        else:
            outcome = service.review_plan(path, plan, fresh=fresh, on_stage=on_stage)

    from hybridcode.review.reports import render

    _emit(fmt, output, lambda: print_review(outcome), lambda kind: render(outcome, kind))
    raise typer.Exit(service.exit_code(outcome))


FORMATS = ("text", "json", "markdown", "sarif", "github", "junit")


def _warn_if_unsigned(path: Path, staged: bool) -> None:
    """Before the review is paid for: say when its approval could not be committed (no key to
    sign it, or an allowed-signers file that would not trust it), with the commands to fix it —
    found out after the review, it costs a second one."""
    from rich.markup import escape

    from hybridcode.cli.ui import err_console
    from hybridcode.config import load_settings
    from hybridcode.errors import HybridError
    from hybridcode.review.approvals import signing_readiness

    try:
        if staged:
            from hybridcode.review.hook import project_roots

            root = project_roots(path)[1]
        else:
            from hybridcode.vcs import repo as gitrepo

            root = gitrepo.repo_root(path)
        ready = signing_readiness(root, load_settings(root))
    except HybridError:
        return  # the review itself reports what is wrong
    if not ready.ok:  # soft-wrapped: the command stays one line, to copy
        err_console().print(f"[yellow]warning:[/] {escape(ready.problem)}, so hybrid commit "
                            f"will refuse an approval from this review — first: "
                            f"{escape(ready.fix)}", soft_wrap=True)


def _check_fix_usage(fix: bool, rounds: int | None, staged: bool, base: str | None,
                     head: str | None, ci: bool) -> None:
    from hybridcode.errors import UsageError

    if rounds is not None and not fix:
        raise UsageError("--rounds counts fix rounds and needs --fix",
                         "e.g. hybrid review PLAN --fix --rounds 3")
    if not fix:
        return
    if staged or base or head or ci:
        raise UsageError("--fix reworks a plan's items in its worktree; it does not apply to "
                         "--staged, --base/--head or --ci", "run `hybrid review PLAN --fix`")
    if rounds is not None and rounds < 1:
        raise UsageError(f"--rounds {rounds}: a fix needs at least one round",
                         "use --rounds 1 or more (default 2)")


def _fix(path: Path, plan: str | None, rounds: int | None, fresh: bool, fmt: str,
         output: Path | None) -> None:
    from hybridcode.cli.progress import model_progress
    from hybridcode.review import fix, service

    quiet = fmt != "text" or output is not None
    with model_progress("reviewing", quiet=quiet) as (on_stage, _progress):
        result = fix.fix_plan(path, plan, rounds=rounds or fix.DEFAULT_ROUNDS, fresh=fresh,
                              on_stage=on_stage)
    _emit(fmt, output, lambda: print_fix(result), lambda kind: _fix_report(result, kind))
    raise typer.Exit(service.exit_code(result.outcome))


def _emit(fmt: str, output: Path | None, show: Callable[[], None],
          report: Callable[[str], str]) -> None:
    """Text goes to the terminal; any other format to ``--output`` or stdout (with ``-o`` and
    text, the file gets JSON and the terminal the text)."""
    if fmt == "text" and output is None:
        show()
        return
    text = report("json" if fmt == "text" else fmt)
    if output is None:
        typer.echo(text)
        return
    output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    if fmt == "text":
        show()


def _fix_report(result: FixResult, fmt: str) -> str:
    """JSON carries the rounds; the other formats report the final review, as a plain review
    would (a SARIF or JUnit consumer gates on the outcome, not on how it was reached)."""
    import json

    from hybridcode.review.fix import fix_to_dict
    from hybridcode.review.reports import render

    if fmt == "json":
        return json.dumps(fix_to_dict(result), indent=2, ensure_ascii=False)
    return render(result.outcome, fmt)


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
    """Model and tool text, printable: not rich markup, and valid UTF-8 (a path's undecodable
    bytes as git's octal escapes, as in every report)."""
    import re

    from rich.markup import escape

    from hybridcode.vcs.diff import display_path

    text = re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}",
                  display_path(str(value)))
    return escape(text)


def print_review(outcome: ReviewOutcome) -> None:
    from rich.table import Table

    from hybridcode.cli.ui import console, status_mark
    from hybridcode.review.reports import reviewer_share

    out = console()
    diff = outcome.diff
    if outcome.decision == "nothing_to_review":
        out.print(f"[bold]{_esc(outcome.notes[0] if outcome.notes else 'nothing to review')}[/]")
        return
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
        if check.could_not_run:
            mark = "[bold yellow]could not run[/]"
        checks.add_row(_esc(check.name), mark, _esc(check.summary))
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
    stuck = outcome.could_not_run
    if stuck is not None:
        style, label = "bold yellow", "COULD NOT RUN"
        out.print(f"[yellow]{_esc(stuck.summary)}[/]")
    by = f" by {_esc(outcome.reviewer_model)}" if outcome.reviewer_model else ""
    cost = f" · ${outcome.cost:.4f}" if outcome.cost else ""
    share = reviewer_share(outcome)
    out.print(f"[{style}]{label}[/]{by}{cost}" + (f" · {share}" if share else ""))


def _print_verdict(out, verdict, table_cls) -> None:
    checklist = table_cls(title="Checklist", title_justify="left", show_edge=False)
    checklist.add_column("entry", overflow="fold")
    checklist.add_column("result")
    checklist.add_column("reasoning", overflow="fold")
    for entry in verdict.checklist:
        checklist.add_row(_esc(entry.id), "[green]pass[/]" if entry.passed else "[red]FAIL[/]",
                          _esc(entry.reasoning))
    out.print(checklist)
    if verdict.findings:
        findings = table_cls(title="Findings", title_justify="left", show_edge=False)
        findings.add_column("severity")
        findings.add_column("where", overflow="fold")  # a path: never cut
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
        grades.add_column("item", overflow="fold")
        grades.add_column("grade")
        grades.add_column("failure mode")
        for g in verdict.grades:
            grades.add_row(_esc(g.item_id), f"[{_GRADE_STYLE[g.grade]}]{g.grade}[/]",
                           _esc(g.failure_mode))
        out.print(grades)
    out.print(_esc(verdict.summary))


_NEXT = {
    "rounds": "run `hybrid review {plan} --fix` for more rounds, or edit the code in "
              ".hybrid/worktrees/{plan} or the spec and run `hybrid review {plan}`",
    "nothing-to-fix": "fix these by hand in .hybrid/worktrees/{plan} (or edit the spec), then "
                      "run `hybrid review {plan}`",
    "unchanged": "see why each rework failed above; edit the spec or the code in "
                 ".hybrid/worktrees/{plan}, then run `hybrid review {plan}`",
    "budget": "raise `budget_usd` and run `hybrid review {plan} --fix` again",
}


def print_fix(result: FixResult) -> None:
    """Each round (findings sent, items reworked, the new decision), then the final review."""
    from hybridcode.cli.ui import console

    out = console()
    for fix_round in result.rounds:
        review = fix_round.review
        sent = fix_round.assignment.items
        count = sum(len(work.findings) + work.poor for work in sent)
        out.print(f"[bold]Fix round {fix_round.number}[/] · "
                  f"[{_DECISION_STYLE[review.decision]}]{_label(review.decision)}[/] · "
                  f"{count} finding{'s' * (count != 1)} sent to "
                  f"{_esc(', '.join(fix_round.assignment.item_ids))}")
        for work in sent:
            for f in work.findings:
                out.print(f"  {_esc(work.item_id)} ← {_esc(f.where)} "
                          f"[{_SEVERITY_STYLE[f.severity]}]{f.severity}[/] {_esc(f.title)}")
            if work.poor:
                mode = f" ({_esc(work.failure_mode)})" if work.failure_mode else ""
                out.print(f"  {_esc(work.item_id)} ← graded [red]poor[/]{mode}")
        for entry in fix_round.assignment.unassigned:
            _print_unassigned(out, entry)
        sent_ids = set(fix_round.assignment.item_ids)
        for item in fix_round.implement.items:
            if item.item_id not in sent_ids:
                continue
            how = f" · {_esc(item.model)}" if item.model else ""
            tries = f" · {item.attempts} attempt{'s' * (item.attempts != 1)}"
            why = f" — {_esc(item.error)}" if item.error and item.state != "passed" else ""
            style = "green" if item.state == "passed" else "red"
            out.print(f"  reworked {_esc(item.item_id)}: [{style}]{item.state}[/]{how}{tries}"
                      f"{why}")
        after = fix_round.after
        if after is None:
            out.print("  → not reviewed again: the code did not change")
        else:
            out.print(f"  → [{_DECISION_STYLE[after.decision]}]{_label(after.decision)}[/]")
    if result.rounds:
        out.print()
    print_review(result.outcome)
    if result.unassigned:
        out.print("[bold]Findings no spec item owns[/] (not sent to the implementer):")
        for entry in result.unassigned:
            _print_unassigned(out, entry)
    if not result.approved and result.message:
        out.print(f"[bold]{_esc(result.message)}[/]")
        advice = _NEXT.get(result.stopped)
        if advice:
            out.print(f"next: {_esc(advice.format(plan=result.plan_id))}")


def _print_unassigned(out, entry) -> None:
    f = entry.finding
    where = _esc(f.where) if f.file else "(no file)"
    out.print(f"  [dim]not sent:[/] {where} [{_SEVERITY_STYLE[f.severity]}]{f.severity}[/] "
              f"{_esc(f.title)} [dim]— {_esc(entry.reason)}[/]")


def _label(decision: str) -> str:
    return decision.replace("_", " ").upper()
