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
