"""``hybrid init``: a commented project config and .gitignore entries for runtime paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from hybridcode.config import load_settings, project_config_path
from hybridcode.errors import GitError

# Runtime state never belongs in the repository; the config and checklist do.
GITIGNORE_BLOCK = [
    "# hybridcode runtime state (ledger, cache, plans, worktrees)",
    ".hybrid/*",
    "!.hybrid/config.toml",
    "!.hybrid/checklist.md",
    "!.hybrid/allowed_signers",
]


@dataclass
class InitResult:
    root: Path
    config: Path
    config_written: bool
    gitignore: Path
    gitignore_added: list[str] = field(default_factory=list)


def config_template() -> str:
    return resources.files("hybridcode.templates").joinpath("config.toml").read_text("utf-8")


def init_project(root: Path, force: bool = False) -> InitResult:
    """Set up the repository containing ``root`` (from a subdirectory too, as every other
    command works from there): its top level gets the config and the ignore entries."""
    from hybridcode.vcs import repo as gitrepo

    start = root.resolve()
    try:
        root = gitrepo.repo_root(start)
    except GitError as exc:
        if "not a git repository" not in exc.message:
            raise
        raise GitError(f"{start} is not inside a git repository",
                       f"make it one first: git init {start}") from None
    config = project_config_path(root)
    written = False
    if force or not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(config_template(), encoding="utf-8")
        written = True
    load_settings(root)  # the written (or existing) file must validate

    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    present = {line.strip() for line in existing}
    missing = [line for line in GITIGNORE_BLOCK[1:] if line not in present]
    if missing:
        block = [GITIGNORE_BLOCK[0], *missing] if GITIGNORE_BLOCK[0] not in present else missing
        text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        if text:
            text += "\n"
        gitignore.write_text(text + "\n".join(block) + "\n", encoding="utf-8")
    return InitResult(root, config, written, gitignore, missing)
