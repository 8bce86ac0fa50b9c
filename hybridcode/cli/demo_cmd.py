"""See the whole flow offline: plan, implement, review and commit a change to a bundled sample
repository, then the stats — with sample model responses recorded in advance (no key, no
network, no GPU)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from typer.core import TyperCommand

from hybridcode.text import plural

if TYPE_CHECKING:
    import click

    from hybridcode.demo import Demo, DemoResult


class DemoCommand(TyperCommand):
    """``hybrid demo``'s help ends with the bundled scenarios, found when the help is shown:
    finding them reads the fixtures, which every other command's start-up should not."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from hybridcode.demo import DEFAULT_SCENARIO, scenarios

        rows = [(s.name, s.title + (" (the default)" if s.name == DEFAULT_SCENARIO else ""))
                for s in scenarios()]
        if rows:
            with formatter.section("Scenarios (what each asks for)"):
                formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


def demo(
    scenario: Optional[str] = typer.Option(
        None, "--scenario", metavar="NAME",
        help="The story to run: one of the scenarios listed below. Default: the first."),
    keep: Optional[Path] = typer.Option(
        None, "--keep", metavar="PATH", file_okay=False,
        help="Create the sample repository at PATH (new or empty) and leave it there, with its "
        ".hybrid/ folder, to inspect. Default: a temporary directory, removed afterwards."),
    json_out: bool = typer.Option(False, "--json", help="Print the run's figures as JSON "
                                  "instead of the stage-by-stage display."),
) -> None:
    from hybridcode.demo import DEFAULT_SCENARIO, Demo

    name = scenario or DEFAULT_SCENARIO
    if json_out:
        from hybridcode.cli.ui import print_json

        with Demo(keep, scenario=name) as run:
            result = _run_quietly(run)
        print_json(result.figures())
        return
    with Demo(keep, scenario=name) as run:
        result = _run_shown(run)
    _print_ending(result)


def _run_quietly(run: Demo) -> DemoResult:
    run.prepare()
    run.plan()
    run.implement()
    run.review()
    run.commit()
    return run.result(run.stats())


def _run_shown(run: Demo) -> DemoResult:
    from hybridcode.cli.implement_cmd import Board, print_summary
    from hybridcode.cli.progress import model_progress
    from hybridcode.cli.render_plan import print_plan_summary
    from hybridcode.cli.review_cmd import print_review
    from hybridcode.cli.ui import console
    from rich.markup import escape

    from hybridcode.demo import LABEL, scenarios

    out = console()
    out.print("[bold]hybrid demo[/] — plan → implement → review → commit → stats on a sample "
              "repository")
    out.print(f"[bold yellow]{LABEL}[/] [dim](no key, no network, no GPU; everything "
              "else — worktree, tests, feedback, ladder, checks, gate, ledger — is real)[/]")
    request = run.scenario.title
    out.print(f"scenario [bold]{run.scenario.name}[/]: {escape(request)}")
    for line in run.scenario.request().splitlines()[1:]:
        if line.strip():
            out.print(f"  [dim]{escape(line)}[/]")
    others = [s.name for s in scenarios() if s.name != run.scenario.name]
    if others:
        out.print(f"[dim]other scenarios: "
                  f"{', '.join(f'hybrid demo --scenario {n}' for n in others)}[/]")

    _heading("1/6 sample repository")
    run.prepare()
    out.print(f"acme-login, a small login service with its own tests, at {run.root}")

    _heading(f'2/6 hybrid plan "{request}"')
    with model_progress("planning") as (on_stage, on_progress):
        run.on_stage = on_stage
        plan = run.plan(on_progress=on_progress)
    run.on_stage = lambda _msg: None
    print_plan_summary(plan)

    _heading(f"3/6 hybrid implement {plan.plan_id}")
    board = Board()
    with board.live():
        implemented = run.implement(on_event=board.update)
    print_summary(implemented)

    _heading(f"4/6 hybrid review {plan.plan_id}")
    with model_progress("reviewing") as (on_stage, _progress):
        run.on_stage = on_stage
        outcome = run.review()
    run.on_stage = lambda _msg: None
    print_review(outcome)

    _heading(f'5/6 hybrid commit {plan.plan_id} -m "{request}"')
    committed = run.commit()
    out.print(f"[green]committed[/] {committed.commit[:12]} on {committed.branch}; the gate "
              f"checked that diff {committed.diff_sha256[:12]} is the approved one")
    _print_commit_message(run, committed.commit)

    _heading("6/6 hybrid stats")
    result = run.result(run.stats())
    _print_stats(result)
    return result


def _heading(text: str) -> None:
    from hybridcode.cli.ui import console

    console().rule(f"[bold]{text}[/]", align="left")


def _shorten(line: str, keep: int = 48) -> str:
    """The signed statement and its signature are long base64 values: show their start."""
    key, _, value = line.partition(": ")
    if len(value) <= keep + 20:
        return line
    return f"{key}: {value[:keep]}… ({len(value)} characters)"


def _print_commit_message(run: Demo, sha: str) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    from hybridcode.cli.ui import console
    from hybridcode.demo import commit_message

    text = commit_message(run.root, sha) if run.root is not None else ""
    lines = [f"[bold cyan]{escape(_shorten(line))}[/]" if line.startswith("Hybrid-")
             else escape(line) for line in text.splitlines()]
    console().print(Panel("\n".join(lines), title=f"git log -1 {sha[:12]}", title_align="left",
                          expand=False))


def _print_stats(result: DemoResult) -> None:
    from hybridcode.cli.stats_cmd import render_stats, usd
    from hybridcode.cli.ui import console

    out = console()
    data: dict[str, Any] = result.stats.as_dict()
    render_stats(data)
    implement = next((g for g in data["groups"] if g["key"] == "implement"), None)
    if implement is not None and implement["counterfactual_usd"] > 0:
        saved = implement["counterfactual_usd"] - implement["cost_usd"]
        out.print(f"implementation alone: spent {usd(implement['cost_usd'])} against "
                  f"{usd(implement['counterfactual_usd'])} all-Claude — "
                  f"[bold green]{saved / implement['counterfactual_usd']:.0%} saved[/]; planning "
                  "and review run on Claude either way, so the whole saves more only where "
                  "routine code is long beside its spec (docs/costs.md)")


def plain_sentence(direct: dict[str, Any], local_calls: int = 0) -> str:
    """The demo's last word for a newcomer: spent, the floor, saved (or not)."""
    from hybridcode.cli.stats_cmd import usd

    floor, spent = direct.get("direct_usd"), direct.get("actual_usd")
    if floor is None or spent is None:
        return ""
    head = (f"In plain words: hybrid spent {usd(spent)} on Claude; Claude doing this change "
            f"alone would have cost at least {usd(floor)}")
    if spent <= floor:
        return f"{head}, so hybrid saved {usd(floor - spent)} ({(floor - spent) / floor:.0%})."
    why = ("nothing in this change paid to delegate, and hybrid's planning instructions are "
           "the overhead" if not local_calls else "the spec and the planning instructions "
           "cost more than the local model's work saved")
    return f"{head}, so here hybrid cost {usd(spent - floor)} more: {why}."


def _print_ending(result: DemoResult) -> None:
    from hybridcode.cli.ui import console

    out = console()
    escalated = ", ".join(result.escalated) or "none"
    retried = ", ".join(result.retried) or "none"
    out.rule()
    items = plural(len(result.implement.items), "item")
    out.print(f"done in {result.wall_s:.1f}s: {items} · passed "
              f"after feedback: {retried} · escalated to Claude: {escalated} · "
              f"{result.review.decision} by {result.review.reviewer_model} · "
              f"committed {result.commit.commit[:12]}")
    from hybridcode.cli.stats_cmd import savings_lines

    for line in savings_lines(result.stats.as_dict()):  # spent and saved, both counterfactuals
        if not line.startswith("[dim]"):
            out.print(line)
    sentence = plain_sentence(result.stats.direct, result.stats.totals.local_calls)
    if sentence:
        out.print(sentence)
    plan_id = result.plan.plan_id
    if result.kept:
        out.print(f"the repository is kept at {result.root}; look around:")
        for command in (f"cd {result.root}", f"git log --stat hybrid/{plan_id}",
                        f"cat .hybrid/plans/{plan_id}/plan.md", f"hybrid status {plan_id}",
                        "hybrid stats --by kind"):
            out.print(f"  {command}")
    else:
        from hybridcode.demo import DEFAULT_SCENARIO

        name = result.scenario.name
        again = "" if name == DEFAULT_SCENARIO else f" --scenario {name}"
        out.print("the temporary repository was removed; keep one to look around: "
                  f"hybrid demo{again} --keep ./hybrid-demo")
    out.print("next, your own project: docs/getting-started.md (hybrid init, hybrid doctor)")
