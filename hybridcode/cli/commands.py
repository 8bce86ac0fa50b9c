"""The list of commands, in the order of a user's day. A command is registered here only once
it works end to end. Command modules import only typer at module level (start-up stays light)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from hybridcode.cli import (bench_cmd, clean_cmd, commit_cmd, demo_cmd, doctor_cmd,
                                export_cmd, feedback_cmd, hook_cmd, implement_cmd, init_cmd,
                                map_cmd, mcp_cmd, plan_cmd, review_cmd, spec_cmd, stats_cmd,
                                status_cmd)

    app.command("demo", help=demo_cmd.__doc__, cls=demo_cmd.DemoCommand)(demo_cmd.demo)
    app.command("init", help=init_cmd.__doc__)(init_cmd.init)
    app.command("doctor", help=doctor_cmd.__doc__)(doctor_cmd.doctor)
    app.command("map", help=map_cmd.__doc__)(map_cmd.map_command)
    app.command("plan", help=plan_cmd.__doc__)(plan_cmd.plan)
    app.add_typer(spec_cmd.app, name="spec")
    app.command("status", help=status_cmd.__doc__)(status_cmd.status)
    app.command("implement", help=implement_cmd.__doc__)(implement_cmd.implement)
    app.command("review", help=review_cmd.__doc__)(review_cmd.review)
    app.command("commit", help=commit_cmd.__doc__)(commit_cmd.commit)
    app.add_typer(hook_cmd.app, name="hook")
    app.command("stats", help=stats_cmd.__doc__)(stats_cmd.stats)
    app.command("feedback", help=feedback_cmd.__doc__)(feedback_cmd.feedback)
    app.command("export", help=export_cmd.__doc__)(export_cmd.export)
    app.add_typer(bench_cmd.app, name="bench")
    app.command("clean", help=clean_cmd.__doc__)(clean_cmd.clean)
    app.command("mcp", help=mcp_cmd.__doc__)(mcp_cmd.mcp)
