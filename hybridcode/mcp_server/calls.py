"""How a tool call runs: the core's work on a thread, its answer as a structured result, any
failure as an MCP error result carrying the CLI's one line — never a traceback, never a dead
server.

Core functions are synchronous and may take minutes (an implement run, the review's tests), so
each runs on its own thread while the event loop keeps serving the connection: progress goes
out, a cancellation comes in. On cancellation the work is asked to stop (``cancel`` is set;
the implement core parks unfinished items for a resume) and the call waits, shielded, until it
has — so a cancelled call never leaves a plan locked or half-applied behind it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from hybridcode.errors import HybridError, PlanNotFoundError
from hybridcode.secrets.door import Door

log = logging.getLogger("hybridcode.mcp")

POLL_S = 0.05  # how often a waiting call looks at its thread and its progress
T = TypeVar("T")


def _debug() -> bool:
    return os.environ.get("HYBRID_DEBUG", "") not in ("", "0", "false", "no")


def error_line(exc: BaseException) -> str:
    """The line the CLI prints for the same failure (hybridcode.cli.app.HybridGroup), with the
    advice an agent can follow where the CLI's names a command: an unknown plan points to the
    tools, not to ``hybrid status``."""
    if isinstance(exc, PlanNotFoundError):
        advice = ("create one with the create_plan tool" if exc.none_yet
                  else "list plans with the status tool (no arguments)")
        return f"Error: {exc.message} — {advice}"
    if isinstance(exc, HybridError):
        return f"Error: {exc}"
    return (f"Error: unexpected {type(exc).__name__}: {exc} — re-run with HYBRID_DEBUG=1 for "
            "the traceback (in the server's log) and report it")


def error_result(exc: BaseException) -> CallToolResult:
    if _debug() or not isinstance(exc, HybridError):
        log.debug("tool call failed", exc_info=exc)
        if _debug():
            log.error("tool call failed", exc_info=exc)
    return CallToolResult(content=[TextContent(type="text", text=error_line(exc))],
                          is_error=True)


def ok_result(result: BaseModel, door: Door | None = None) -> CallToolResult:
    """``result`` as the tool's answer. A tool's answer goes to the calling agent's model, so
    it leaves through the door like every request hybrid sends itself: each string in it —
    test output, a diff with its context lines, check details — with secrets replaced."""
    data = result.model_dump(mode="json")
    vetted = _vetted(data, door) if door is not None else data
    text = (result.model_dump_json(indent=1) if vetted == data
            else json.dumps(vetted, indent=1, ensure_ascii=False))
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=vetted)


def _vetted(value: Any, door: Door) -> Any:
    if isinstance(value, str):
        return door.vet(value)[0]
    if isinstance(value, dict):
        return {k: _vetted(v, door) for k, v in value.items()}
    if isinstance(value, list):
        return [_vetted(v, door) for v in value]
    return value


async def in_thread(work: Callable[[], T], *, cancel: threading.Event | None = None,
                    tick: Callable[[], Awaitable[None]] | None = None) -> T:
    """``work()`` on a thread; ``tick`` runs on the loop while it works (progress)."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the awaiting call
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="hybrid-mcp-call", daemon=True).start()
    try:
        while not done.is_set():
            await anyio.sleep(POLL_S)
            if tick is not None:
                await tick()
    except anyio.get_cancelled_exc_class():
        if cancel is not None:
            cancel.set()
        with anyio.CancelScope(shield=True):
            while not done.is_set():
                await anyio.sleep(POLL_S)
        raise
    if tick is not None:
        await tick()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def answer(work: Callable[[], BaseModel], door: Door | None = None,
                 **kw: Any) -> CallToolResult:
    """Run ``work`` and turn what it returns or raises into the tool's result."""
    try:
        return ok_result(await in_thread(work, **kw), door)
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:  # every failure is an answer; the server lives on
        return error_result(exc)
