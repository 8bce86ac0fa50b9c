"""Claude writes an architecture note and a function-level spec for a request."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def plan(
    request: Optional[str] = typer.Argument(None, help="What to build, in a sentence or two."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", exists=True, dir_okay=False,
                                        help="Read the request from a file (e.g. request.md)."),
    focus: list[str] = typer.Option([], "--focus", help="File, symbol or words to centre the "
                                    "repository map on; named files are sent in full."),
    route: list[str] = typer.Option([], "--route", metavar="ITEM=local|claude",
                                    help="Override the route of an item (recorded as such)."),
    map_tokens: int = typer.Option(4096, "--map-tokens", min=256,
                                   help="Token budget for the repository map."),
    model: Optional[str] = typer.Option(
        None, "--model", metavar="CLAUDE_MODEL",
        help="Claude model that plans this request instead of tiers.planner, e.g. "
        "claude-opus-5-5 for hard design work (docs/costs.md: when Opus is worth it)."),
    path: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    json_out: bool = typer.Option(False, "--json", help="Print the plan summary as JSON."),
) -> None:
    from hybridcode.cli.progress import model_progress
    from hybridcode.cli.render_plan import plan_summary_json, print_plan_summary
    from hybridcode.cli.ui import print_json
    from hybridcode.errors import UsageError
    from hybridcode.plan.planner import make_plan
    from hybridcode.plan.routing import parse_route_overrides

    if file is not None and request:
        raise UsageError("give the request as an argument or with --file, not both",
                         "drop one of them")
    text = file.read_text(encoding="utf-8") if file is not None else (request or "")
    overrides = parse_route_overrides(route)
    settings = None
    if model is not None:
        from hybridcode.config import load_settings

        if not model.strip().startswith("claude-"):
            raise UsageError(f'--model "{model}" is not a Claude model id',
                             "the planner is Claude: e.g. --model claude-opus-5-5")
        settings = load_settings(path, overrides={"tiers": {"planner": {
            "backend": "anthropic", "model": model.strip()}}})
    with model_progress("planning", quiet=json_out) as (on_stage, on_progress):
        result = make_plan(path, text, focus=focus, routes=overrides, map_tokens=map_tokens,
                           settings=settings, on_progress=on_progress, on_stage=on_stage)
    if json_out:
        print_json(plan_summary_json(result))
    else:
        print_plan_summary(result)
