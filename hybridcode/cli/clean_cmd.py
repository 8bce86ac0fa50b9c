"""Remove plan worktrees and the plan branches already merged; unmerged work is kept."""

from __future__ import annotations

from pathlib import Path

import typer


def clean(
    plan: str | None = typer.Argument(None, help="Plan id or unique prefix (default: all)."),
    force: bool = typer.Option(False, "--force",
                               help="Also discard uncommitted generated code and unmerged "
                                    "branches."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Remove plan worktrees and the plan branches already merged; unmerged work is kept."""
    from hybridcode.cli.ui import console, print_json
    from hybridcode.review.gate import clean as clean_plans
    from hybridcode.review.hook import project_roots

    _, root = project_roots(path)
    result = clean_plans(root, plan, force=force)
    if json_out:
        print_json(result.to_dict())
        return
    out = console()
    for wt in result.removed_worktrees:
        out.print(f"removed worktree {wt}")
    for branch in result.deleted_branches:
        out.print(f"deleted branch {branch}")
    for what, why in result.kept:
        out.print(f"[yellow]kept[/] {what}: {why}")
    if not (result.removed_worktrees or result.deleted_branches or result.kept):
        out.print("nothing to clean")
