"""Commit a plan's approved diff on its branch; refused unless a review approved that exact diff."""

from __future__ import annotations

from pathlib import Path

import typer


def commit(
    plan: str | None = typer.Argument(None, help="Plan id or unique prefix (default: newest)."),
    message: str | None = typer.Option(None, "--message", "-m",
                                          help="Commit message (default: the plan's title)."),
    merge: bool = typer.Option(False, "--merge",
                               help="Also merge the commit into your current branch (--no-ff)."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Commit a plan's approved diff on its branch; refused unless a review approved that exact diff."""
    from hybridcode.cli.ui import console, print_json
    from hybridcode.review.gate import commit_plan
    from hybridcode.review.hook import project_roots

    _, root = project_roots(path)
    result = commit_plan(root, plan, message=message, merge=merge)
    if json_out:
        print_json(result.to_dict())
        return
    out = console()
    if result.already_committed:
        out.print(f"plan {result.plan_id} was already committed as {result.commit[:12]} "
                  f"on {result.branch}")
    else:
        out.print(f"[green]committed[/] plan {result.plan_id} as {result.commit[:12]} on "
                  f"{result.branch} (approved diff {result.diff_sha256[:12]} by "
                  f"{result.reviewer_model})")
    if result.merge_commit:
        out.print(f"[green]merged[/] {result.branch} into {result.merged_into} "
                  f"({result.merge_commit[:12]})")
    elif not merge:
        out.print(f"merge it with: hybrid commit {result.plan_id} --merge "
                  f"(or git merge {result.branch})")
