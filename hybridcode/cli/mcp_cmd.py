"""Serve hybrid's tools over MCP (stdio) to a coding agent: `claude mcp add hybrid -- hybrid mcp`."""

from __future__ import annotations

from pathlib import Path

import typer


def mcp(
    path: Path = typer.Option(Path("."), "--repo", help="Repository root (default: the "
                              "directory the agent starts the server in)."),
) -> None:
    """Serve hybrid's tools over MCP (stdio) to a coding agent: `claude mcp add hybrid -- hybrid mcp`."""
    from hybridcode.errors import UsageError
    from hybridcode.vcs import repo as gitrepo

    root = gitrepo.repo_root(path)  # refuse to start outside a repository, before the SDK loads
    try:
        from hybridcode.mcp_server.server import serve
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "mcp":
            raise
        raise UsageError("the MCP server needs the mcp package, which is not installed",
                         'install it with: pip install "hybridcode[mcp]"') from exc
    serve(root)
