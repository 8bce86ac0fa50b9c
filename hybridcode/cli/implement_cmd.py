"""Implement a plan: the local model writes each spec item in the plan's worktree, checked by
the spec's tests; failures get feedback, then climb the ladder. Exit 0 when every item passed."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from hybridcode.implement.runner import ImplementResult, ItemEvent

_ACTIVE = frozenset({"generating", "queued", "verifying", "retrying"})
_STYLE = {"passed": "green", "failed": "red", "skipped": "yellow", "stopped": "yellow",
          "could_not_run": "bold yellow",
          "generating": "cyan", "verifying": "cyan", "retrying": "magenta", "queued": "blue"}


def implement(
    plan: str | None = typer.Argument(None, help="Plan id or unique prefix (default: newest)."),
    parallel: int | None = typer.Option(None, "--parallel", "-p", min=1, max=64,
                                           help="Items generated at once (default: config "
                                           "`parallel`)."),
    budget: float | None = typer.Option(None, "--budget", help="Cap on Claude spend for "
                                           "this run, in USD (default: config `budget_usd`)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted, stopped or "
                                "failed run; passed items are kept and not paid for again."),
    allow_missing_local: bool | None = typer.Option(
        None, "--allow-missing-local/--require-local",
        help="Run even when a local rung is not ready (model not pulled, server down): its "
        "items start on the next rung up, which may be paid Claude. Default: config "
        "`allow_missing_local` (off: the run stops first and says how to fix the rung)."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON (no live "
                                  "table)."),
) -> None:
    from hybridcode.cli.ui import print_json
    from hybridcode.implement.runner import implement_plan

    if json_out:
        result = implement_plan(path, plan, parallel=parallel, budget_usd=budget, resume=resume,
                                allow_missing_local=allow_missing_local)
        print_json(result.to_dict())
    else:
        board = Board()
        with board.live():
            result = implement_plan(path, plan, parallel=parallel, budget_usd=budget,
                                    resume=resume, allow_missing_local=allow_missing_local,
                                    on_event=board.update)
        print_summary(result)
    raise typer.Exit(0 if result.ok else 1)


class Board:
    """The live table on stderr: one row per item, run messages printed above it.

    Nothing is drawn until the run sends its first event, which it does only once the plan is
    resolved and locked: an error before that (no plan, a locked plan) is the only output.
    Where stderr is not a terminal (logs, CI) there is no live display: run messages are
    printed as they come and the final table once, ending with a newline, so the summary
    that follows starts on a line of its own."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[ItemEvent, float]] = {}
        self._live: Any = None
        self._lock = threading.Lock()
        self._console: Any = None

    def live(self) -> Board:
        return self

    def __enter__(self) -> Board:
        from hybridcode.cli.ui import err_console

        self._console = err_console()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._live is not None:
                self._live.stop()
                self._live = None
            elif self.rows and not self._console.is_terminal:
                self._console.print(self.render())

    def _start(self) -> None:
        """Start the live display on the first event (called with the lock held)."""
        if self._live is not None or not self._console.is_terminal:
            return
        from rich.live import Live

        self._live = Live(get_renderable=self.render, console=self._console,
                          refresh_per_second=8, transient=False)
        self._live.start()

    def update(self, event: ItemEvent) -> None:
        with self._lock:
            if self._console is None:  # used without ``with``: nothing to draw on
                if event.item_id is not None:
                    self.rows[event.item_id] = (event, time.monotonic())
                return
            self._start()
            if event.item_id is None:
                (self._live.console if self._live is not None else self._console).print(
                    f"[yellow]•[/] {event.message}")
                return
            self.rows[event.item_id] = (event, time.monotonic())

    def render(self) -> Any:
        """One row per item, its columns never broken mid-word (a model name, an id), then each
        item's note whole on lines of their own: a note in a column was squeezed to a few
        characters, or cut, on a terminal of 100 columns."""
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table

        from hybridcode.cli.ui import add_whole_column

        now = time.monotonic()
        rows, notes = [], []
        for item_id, (event, seen) in list(self.rows.items()):
            elapsed = event.elapsed_s + (now - seen if event.state in _ACTIVE else 0.0)
            style = _STYLE.get(event.state, "")
            state = f"[{style}]{event.state}[/]" if style else event.state
            if event.written_in_plan:
                rung = "written in the plan"
            else:
                rung = f"{event.rung + 1} · {event.model}" if event.rung is not None else "-"
            rows.append((item_id, state, rung, str(event.attempt or "-"),
                         f"{event.tokens:,}" if event.tokens else "-", f"{elapsed:.1f}s"))
            if event.message:
                notes.append(f"[dim]{escape(item_id)}: {escape(event.message.splitlines()[0])}[/]")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for n, column in enumerate(("item", "state", "rung / model", "attempt", "tokens",
                                    "elapsed")):
            add_whole_column(table, column, [_plain(r[n]) for r in rows],
                             justify="right" if n >= 3 else "left")
        for row in rows:
            table.add_row(*row)
        return Group(table, *notes) if notes else table


def _plain(markup: str) -> str:
    from rich.text import Text

    return Text.from_markup(markup).plain


def print_summary(result: ImplementResult) -> None:
    from rich.markup import escape

    from hybridcode.cli.ui import console

    out = console()
    counts = (f"[green]{result.count('passed')} passed[/], "
              f"[red]{result.count('failed')} failed[/], "
              f"[yellow]{result.count('skipped')} skipped[/]")
    if result.count("could_not_run"):
        counts += f", [bold yellow]{result.count('could_not_run')} could not run[/]"
    if result.count("pending"):
        counts += f", {result.count('pending')} not finished"
    out.print(f"{result.plan_id}: {result.status} — {counts}")
    out.print(f"Claude ${result.claude_usd:.4f} · local tokens {result.local_tokens:,} · "
              f"wall time {result.wall_s:.1f}s")
    out.print(f"worktree {result.worktree} (branch {result.branch}, nothing committed)")
    for item in result.items:
        if item.escalation:
            out.print(f"  [yellow]escalated[/] {item.item_id}: {escape(item.escalation)}")
        if item.state == "failed":
            out.print(f"  [red]failed[/] {item.item_id}: {escape(item.error or '')}")
        if item.state == "could_not_run":
            out.print(f"  [bold yellow]could not run[/] {item.item_id}: "
                      f"{escape((item.error or '').removeprefix('could not run: '))}")
    if result.status == "budget":
        out.print("stopped before a call that would cross the budget; raise it with --budget "
                  f"and continue: hybrid implement {result.plan_id} --resume")
    elif result.ok:
        out.print(f"next: hybrid review {result.plan_id}")
    elif result.status == "could_not_run":
        out.print("the tests could not start here, which is not the model's doing (nothing was "
                  "escalated or counted against it): fix that as said above, then "
                  f"hybrid implement {result.plan_id} --resume (each answer is judged again "
                  "without a new call)")
    else:
        out.print(f"next: fix the spec or the config, then hybrid implement {result.plan_id} "
                  "--resume (passed items are kept)")
