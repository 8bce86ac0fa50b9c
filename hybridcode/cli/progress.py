"""Live progress for model calls on stderr: the stage, and tokens streamed so far."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def model_progress(label: str, quiet: bool = False
                   ) -> Iterator[tuple[Callable[[str], None], Callable]]:
    """Yields ``(on_stage, on_progress)`` callbacks; a spinner on stderr unless ``quiet``."""
    if quiet:
        yield (lambda _s: None), None
        return
    from rich.status import Status

    from hybridcode.cli.ui import err_console

    started = time.monotonic()
    state = {"stage": label, "tokens": 0}

    def text() -> str:
        elapsed = time.monotonic() - started
        tokens = f" · {state['tokens']} tokens" if state["tokens"] else ""
        return f"{state['stage']}{tokens} · {elapsed:.0f}s"

    with Status(text(), console=err_console()) as status:
        def on_stage(stage: str) -> None:
            state["stage"], state["tokens"] = stage, 0
            status.update(text())

        def on_progress(progress) -> None:
            state["tokens"] = progress.output_tokens
            status.update(text())

        yield on_stage, on_progress
