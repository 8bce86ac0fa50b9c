"""Rendering helpers: rich consoles (stdout for results, stderr for progress), JSON output."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def console():
    from rich.console import Console

    return Console(highlight=False)


@lru_cache(maxsize=None)
def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


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
    width = max([len(header), *(len(str(v)) for v in values)])
    table.add_column(header, no_wrap=True, min_width=width, **kwargs)


def add_text_column(table, header: str, **kwargs) -> None:
    """A column of prose (titles, reasons, advice): wraps, and folds a long word such as a path
    onto the next line rather than cutting it."""
    table.add_column(header, overflow="fold", **kwargs)
