"""Can a fresh checkout of the repository import its own packages, the way the judge runs it?

A plan's worktree (and the temporary checkout CI reviews a commit in) holds what git tracks,
plus the files the build generates (:mod:`hybridcode.vcs.generated`) — nothing else. A package
that imports a file only an install makes, or a dependency the project's interpreter lacks,
cannot be imported there, and every test run ends "could not run". ``hybrid doctor`` asks before
``implement`` finds out: a detached worktree of HEAD, the generated files provided, then the
project's interpreter imports each top-level package through the judge (same sandbox, same
environment, same ``PYTHONPATH``: the checkout and its ``src/``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from hybridcode.models.base import HealthCheck

__all__ = ["project_packages", "worktree_import_check"]

_NOT_PACKAGES = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "example",
                           "scripts", "benchmarks", "bench", "tools", "build", "dist"})
_PROBE = ("import importlib, sys\n"
          "for name in sys.argv[1:]:\n"
          "    try:\n"
          "        importlib.import_module(name)\n"
          "    except BaseException as exc:\n"
          "        print(f'{name}: {type(exc).__name__}: {exc}'.splitlines()[0][:300])\n"
          "        sys.exit(3)\n")
NAME = "Python worktree import"


def project_packages(files: list[str]) -> list[str]:
    """Import names of the repository's top-level packages (``src/<name>/__init__.py`` or
    ``<name>/__init__.py``), at most five."""
    names: list[str] = []
    for path in files:
        parts = PurePosixPath(path).parts
        if parts[-1] != "__init__.py":
            continue
        name = parts[1] if len(parts) == 3 and parts[0] == "src" else \
            parts[0] if len(parts) == 2 else ""
        if name.isidentifier() and name not in _NOT_PACKAGES and name not in names:
            names.append(name)
    return sorted(names)[:5]


def worktree_import_check(root: Path, settings=None, *, required: bool = False
                          ) -> HealthCheck | None:
    """None when the repository has no Python package (or no commit yet)."""
    from hybridcode.errors import HybridError
    from hybridcode.judge import JudgeConfig, run_command
    from hybridcode.vcs import repo as gitrepo
    from hybridcode.vcs.generated import provide_generated_files

    root = Path(root)
    try:
        packages = project_packages(gitrepo.visible_files(root))
    except HybridError:
        return None
    if not packages:
        return None
    base = Path(tempfile.mkdtemp(prefix="hybrid-probe-"))
    checkout = base / "checkout"
    added = subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(checkout),
                            "HEAD"], cwd=root, capture_output=True, text=True, check=False)
    if added.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        return None
    try:
        provided = provide_generated_files(root, checkout)
        try:
            config = JudgeConfig.from_settings(settings, root, timeout_s=60)
            src = [str(checkout / "src")] if (checkout / "src").is_dir() else []
            result = run_command([config.python, "-c", _PROBE, *packages], worktree=checkout,
                                 config=config,
                                 env={"PYTHONPATH": ":".join([str(checkout), *src]),
                                      "PYTHONDONTWRITEBYTECODE": "1"})
        except HybridError as exc:
            return HealthCheck(NAME, False, exc.message, exc.hint, required=required)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=root,
                       capture_output=True, check=False)
        subprocess.run(["git", "worktree", "prune"], cwd=root, capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
    made = "; " + ", ".join(f"{p.path} generated as the build would" for p in provided) \
        if provided else ""
    if result.returncode == 0 and not result.timed_out and not result.error:
        return HealthCheck(NAME, True, f"a fresh checkout imports {', '.join(packages)} with "
                           f"{config.python}{made}", required=required)
    lines = [ln for ln in (result.output or result.error or "").splitlines() if ln.strip()]
    why = lines[-1] if lines else f"exit status {result.returncode}"
    return HealthCheck(NAME, False, f"a fresh checkout (what implement and CI test in) cannot "
                       f"import it with {config.python}: {why}{made}",
                       "install the project and its dependencies into that interpreter (pip "
                       "install -e . in the repository), or set [checks] python to the "
                       "project's environment; files the build generates that hybrid cannot "
                       "make must be declared (hatch-vcs version-file, setuptools_scm "
                       "version_file)", required=required)
