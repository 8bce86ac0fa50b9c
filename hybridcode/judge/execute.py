"""Run one command of project code: a clean environment, a timeout, the process group killed.

This is the seam the language adapters run through. The project-code runner of issue #12
(sandbox, hard timeout, credentials stripped) replaces the body of :func:`execute`; the
adapters only say what to run, where, with which extra environment, and which toolchain paths
must stay readable (``read_only``) and which folders writable (``writable``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Executed", "clean_env", "execute"]

_SECRET_PREFIXES = ("HYBRID_", "ANTHROPIC_", "OPENAI_", "OLLAMA_", "AWS_", "AZURE_",
                    "GOOGLE_", "GCP_", "GITHUB_", "GH_", "NPM_", "PYTEST_")
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)$", re.I)


@dataclass
class Executed:
    returncode: int | None  # None: stopped at the timeout
    output: str  # standard output
    errors: str  # standard error


def clean_env(home: Path) -> dict[str, str]:
    """The user's environment without credentials, with ``HOME`` and the temporary folder
    moved to ``home`` so tools cannot read or write the user's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SECRET_PREFIXES) and not _SECRET_NAME.search(k)}
    home.mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), npm_config_cache=str(home / ".npm"))
    return env


def execute(argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float, *,
            writable: list[Path] | None = None, read_only: list[Path] | None = None
            ) -> Executed:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=os.name == "posix")
    try:
        out, err = proc.communicate(timeout=timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, err = proc.communicate()
        code = None
    return Executed(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def _kill(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        proc.kill()
