"""Show the repository map the planner sees: ranked signatures within a token budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hybridcode.cli import ui

# A cold run shows a progress bar only when it has this many files to parse: below that it
# finishes before a bar would be readable.
PROGRESS_MIN_FILES = 200


def map_command(
    path: Path = typer.Argument(Path("."), help="A directory inside the repository to map."),
    tokens: int = typer.Option(2048, "--tokens", "-t", min=1,
                               help="Token budget of the rendered map."),
    focus: list[str] = typer.Option([], "--focus", "-f",
                                    help="A file, symbol (Class.method) or words to rank "
                                         "first; repeat for several."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Every file with its symbols, and the excluded files "
                                      "with reasons, as JSON."),
) -> None:
    """Show the repository map the planner sees: ranked signatures within a token budget."""
    from hybridcode.context.repomap import build_index, repo_map

    with _Progress() as progress:
        index = build_index(path, on_progress=progress.update)
    result = repo_map(index, focus, tokens)
    if as_json:
        ui.print_json(_as_json(index, result, tokens, focus))
        return
    if result.text:
        text = result.text if result.text.endswith("\n") else result.text + "\n"
        ui.console().print(text, end="", markup=False, soft_wrap=True)
    else:
        ui.console().print("(nothing to show: no files with definitions fit the budget)")
    s = index.stats
    ui.err_console().print(
        f"[dim]{len(result.definitions)} definitions from {len(result.files)} of "
        f"{s.files} files, ~{result.tokens}/{tokens} tokens; {len(index.excluded)} files "
        f"left out (--json scans and lists every one); {s.analysed} parsed, {s.cached + s.rehashed} from cache, "
        f"{s.seconds:.2f}s[/]", soft_wrap=True)


def _as_json(index: Any, result: Any, tokens: int, focus: list[str]) -> dict[str, Any]:
    symbols = index.symbols  # vets every source file for secrets (the map vetted only its own)
    order = sorted((p for p in index.files if p not in index.excluded),
                   key=lambda p: result.ranks.get(p, 0.0), reverse=True)
    return {
        "root": str(index.root),
        "focus": focus,
        "tokens": {"budget": tokens, "used": result.tokens},
        "map": result.text,
        "files": [
            {"path": p, "language": index.languages.get(p), "rank": result.ranks.get(p, 0.0),
             "symbols": [{"name": d.name, "kind": d.kind, "qualified_name": d.qualname,
                          "line": d.line, "end_line": d.end_line, "signature": d.signature}
                         for d in symbols.get(p, [])]}
            for p in order
        ],
        "excluded": [{"path": p, "reason": r} for p, r in index.excluded.items()],
        "stats": {"files": index.stats.files, "parsed": index.stats.analysed,
                  "cached": index.stats.cached + index.stats.rehashed,
                  "seconds": round(index.stats.seconds, 3)},
    }


class _Progress:
    """A rich progress bar on stderr, started lazily once a cold run proves big enough."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(),
                                 console=ui.err_console(), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("index", total=total)
        self._bar.update(self._task, completed=done)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
