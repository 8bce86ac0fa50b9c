"""Rendering helpers: rich consoles (stdout for results, stderr for progress), JSON output."""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from typing import Any


def console():
    return _console(False, *_size())


def err_console():
    return _console(True, *_size())


def _size() -> tuple[str | None, str | None]:
    # rich reads COLUMNS/LINES once, when a Console is made: one console per size, so a
    # changed size (a test's, an embedding program's) is honoured.
    return os.environ.get("COLUMNS"), os.environ.get("LINES")


@lru_cache(maxsize=None)
def _console(stderr: bool, _columns: str | None, _lines: str | None):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def status_mark(ok: bool | None) -> str:
    if ok is None:
        return "[yellow]warn[/]"
    return "[green]ok[/]" if ok else "[red]FAIL[/]"


def add_whole_column(table, header: str, values, **kwargs) -> None:
    """A column of ids or paths that the next command needs: never cut (``…``) or wrapped.

    Rich shrinks columns to fit the terminal and cuts what does not fit; a minimum width of
    the longest value keeps every one whole, and the other columns fold instead."""
    width = max([*(len(h) for h in header.splitlines()), *(len(str(v)) for v in values)])
    table.add_column(header, no_wrap=True, min_width=width, **kwargs)


def add_text_column(table, header: str, **kwargs) -> None:
    """A column of prose (titles, reasons, advice): wraps, and folds a long word such as a path
    onto the next line rather than cutting it."""
    table.add_column(header, overflow="fold", **kwargs)


def add_words_column(table, header: str, values, **kwargs) -> None:
    """A column of short phrases (a model name and its backend): wraps between words, never
    inside one — its minimum width is its longest word."""
    words = [w for v in values for w in str(v).split()]
    width = max([*(len(w) for w in header.split()), *(len(w) for w in words)])
    table.add_column(header, overflow="fold", min_width=width, **kwargs)
