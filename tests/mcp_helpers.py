"""Drive `hybrid mcp` the way a coding agent does: the `mcp` SDK's own client over stdio,
spawning `python -m hybridcode mcp` (this venv's interpreter) in a real repository."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import Implementation

from hybridcode.spec import SpecItem

CLIENT = Implementation(name="test-agent", version="1.0")


@dataclass
class Answer:
    tool: str
    data: dict[str, Any] | None
    error: bool
    text: str
    seconds: float
    progress: list[tuple[float, float | None, str | None]] = field(default_factory=list)


class Agent:
    """One MCP client session; every call is kept in ``transcript``."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.transcript: list[Answer] = []

    async def call(self, tool: str, **arguments: Any) -> Answer:
        progress: list[tuple[float, float | None, str | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total, message))

        started = time.perf_counter()
        result = await self.session.call_tool(tool, arguments, progress_callback=on_progress)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        answer = Answer(tool, result.structured_content, bool(result.is_error), text,
                        time.perf_counter() - started, progress)
        self.transcript.append(answer)
        return answer


def server_env(ollama_host: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HYBRID_", "ANTHROPIC_", "OLLAMA_", "OPENAI_"))}
    env.update({"OLLAMA_HOST": ollama_host, "HYBRID_USER_CONFIG": str(home / "config.toml"),
                "NO_COLOR": "1"})
    return env


@asynccontextmanager
async def agent(repo: Path, env: dict[str, str], errlog: Any = None) -> AsyncIterator[Agent]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "hybridcode", "mcp"],
                                   cwd=str(repo), env=env)
    kwargs = {"errlog": errlog} if errlog is not None else {}
    async with stdio_client(params, **kwargs) as (read, write):
        async with ClientSession(read, write, client_info=CLIENT) as session:
            await session.initialize()
            yield Agent(session)


def spec_data(title: str, items: list[SpecItem]) -> dict[str, Any]:
    """A spec as an agent writes it: no routing fields (hybrid routes)."""
    return {"title": title, "items": [
        item.model_dump(mode="json", exclude={"route", "route_reason", "route_overridden"})
        for item in items]}


def approving_verdict(checklist: list[dict[str, Any]], items: list[str]) -> dict[str, Any]:
    return {
        "checklist": [{"id": e["id"], "question": e["question"],
                       "reasoning": "Checked the diff line by line against the spec.",
                       "passed": True} for e in checklist],
        "findings": [],
        "grades": [{"item_id": i, "grade": "good", "failure_mode": ""} for i in items],
        "decision": "approve",
        "summary": "Implements the spec; tests pin the behaviour.",
    }
