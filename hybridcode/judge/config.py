"""What one test run needs from the settings: :class:`JudgeConfig`.

The interpreter is the project's, not hybrid's: ``[checks] python`` when set (relative paths
are taken from the repository root), else the repository's ``.venv`` when it has one, else the
interpreter running hybrid. ``[checks] test_command`` replaces ``<python> -m pytest``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import ConfigError

if TYPE_CHECKING:
    from hybridcode.config import Settings

__all__ = ["JudgeConfig", "interpreter_paths", "project_python"]

DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class JudgeConfig:
    timeout_s: float = DEFAULT_TIMEOUT_S
    sandbox_mode: str = "auto"
    python: str = field(default_factory=lambda: sys.executable)
    test_command: tuple[str, ...] = ()  # empty: ``python -m pytest``
    # The bench scores with no project configuration or third-party plugins.
    isolated: bool = False
    # Test items (hybridcode.judge.mutation) and doc items (hybridcode.judge.docstrings).
    mutation_score: float = 0.7
    max_mutants: int = 25
    docstring_convention: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None, root: Path | None = None, *,
                      timeout_s: float | None = None) -> JudgeConfig:
        if settings is None:
            return cls(timeout_s=timeout_s or DEFAULT_TIMEOUT_S,
                       python=project_python(root, None))
        command: tuple[str, ...] = ()
        if settings.checks.test_command:
            try:
                command = tuple(shlex.split(settings.checks.test_command))
            except ValueError as exc:
                raise ConfigError(f"checks.test_command does not parse: {exc}",
                                  "quote it as a shell would, e.g. \"uv run pytest\"") from exc
        checks = settings.checks
        return cls(timeout_s=timeout_s or settings.test_timeout_s,
                   sandbox_mode=settings.sandbox.mode,
                   python=project_python(root, checks.python), test_command=command,
                   mutation_score=checks.mutation_score, max_mutants=checks.max_mutants,
                   docstring_convention=checks.docstring_convention)

    def pytest_prefix(self) -> list[str]:
        return list(self.test_command) if self.test_command else [self.python, "-m", "pytest"]


def _main_root(root: Path) -> Path:
    """A plan worktree's repository is the one whose ``.hybrid/worktrees`` holds it."""
    parts = root.resolve().parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "worktrees" and parts[i - 1] == ".hybrid":
            return Path(*parts[:i - 1])
    return root.resolve()


def project_python(root: Path | None, configured: str | None) -> str:
    if root is not None:
        root = _main_root(Path(root))
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute():
            if root is not None and (root / path).exists():
                path = root / path
            else:
                found = shutil.which(configured)
                path = Path(found) if found else (root or Path.cwd()) / path
        return str(path)
    if root is not None:
        for candidate in (root / ".venv" / "bin" / "python",
                          root / ".venv" / "Scripts" / "python.exe"):
            if candidate.exists():
                return str(candidate)
    return sys.executable


def interpreter_paths(program: str) -> list[Path]:
    """Folders an interpreter needs to be readable inside the sandbox: its virtual
    environment, the installation it was made from (``pyvenv.cfg``'s ``home``), and the
    prefix of the real executable behind the symbolic links."""
    exe = Path(program) if os.sep in program else Path(shutil.which(program) or program)
    paths: list[Path] = []
    if not exe.exists():
        return paths
    real = exe.resolve()
    for venv in dict.fromkeys((exe.parent.parent, real.parent.parent)):
        cfg = venv / "pyvenv.cfg"
        if not cfg.is_file():
            continue
        paths.append(venv)
        for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                paths.append(Path(value.strip()).parent)
    paths.append(real.parent.parent)
    if sys.executable and Path(sys.executable).resolve() == real:
        paths += [Path(sys.prefix), Path(sys.base_prefix)]
    unique: list[Path] = []
    for p in paths:
        if p not in unique and str(p) not in ("/", ""):
            unique.append(p)
    return unique
