"""Write a commented .hybrid/config.toml and ignore runtime paths in .gitignore."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    path: Path = typer.Argument(Path("."), help="The repository (its root or any folder in it)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    from hybridcode.cli.ui import console, print_json
    from hybridcode.init import init_project

    result = init_project(path, force=force)
    if json_out:
        print_json({"root": str(result.root), "config": str(result.config),
                    "config_written": result.config_written,
                    "gitignore_added": result.gitignore_added})
        return
    out = console()
    verb = "wrote" if result.config_written else "kept existing"
    where = "" if result.root == path.resolve() else f" at the repository's top, {result.root}"
    out.print(f"{verb} {result.config.relative_to(result.root)}{where}")
    if result.gitignore_added:
        out.print(f"added to .gitignore: {', '.join(result.gitignore_added)}")
    out.print("next: `hybrid doctor` checks your key, Ollama and models")
