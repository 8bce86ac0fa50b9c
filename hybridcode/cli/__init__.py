"""The command-line shell. Only modules under this package import typer and rich."""
