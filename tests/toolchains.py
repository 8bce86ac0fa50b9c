"""The real toolchains the Go and JavaScript/TypeScript judge tests need, found or installed once.

- Go: ``go`` on PATH (``.ci/run`` installs Debian's ``golang-go`` when it is missing).
- vitest, jest and typescript: the versions in ``tests/data/node-runners/package.json``,
  installed with npm once per machine into ``~/.cache/hybridcode-test-runners/<digest>/`` and
  reused by every test of the run (and by later runs). Projects in tests link their
  ``node_modules`` there.

Outside CI a missing toolchain skips the test with the reason; with ``CI=true`` it fails it —
CI must exercise the real thing. The first test that needs the npm runners installs them (a
file lock makes parallel test processes install once); ``python tests/toolchains.py`` installs
them ahead of a run, e.g. to warm a CI cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

MANIFEST = Path(__file__).parent / "data" / "node-runners" / "package.json"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    import pytest

    if in_ci():
        pytest.fail(f"{reason} (CI=true: toolchain tests must run here; .ci/run installs it)")
    pytest.skip(reason)


def runners_dir() -> Path:
    digest = hashlib.sha256(MANIFEST.read_bytes()).hexdigest()[:12]
    return Path.home() / ".cache" / "hybridcode-test-runners" / digest


def install_node_runners() -> tuple[Path | None, str]:
    """``node_modules`` holding vitest, jest and tsc, installing it when missing; or None and
    why not."""
    folder = runners_dir()
    modules = folder / "node_modules"
    wanted = [modules / ".bin" / name for name in ("vitest", "jest", "tsc")]
    if all(p.is_file() for p in wanted):
        return modules, ""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None, "node and npm are not installed"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes install once
        if not all(p.is_file() for p in wanted):
            shutil.copyfile(MANIFEST, folder / "package.json")
            proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                                   "--no-save"], cwd=folder, capture_output=True, text=True,
                                  timeout=600, check=False)
            if proc.returncode != 0 or not all(p.is_file() for p in wanted):
                return None, ("npm could not install the test runners: "
                              + (proc.stderr.strip().splitlines() or ["no output"])[-1])
    return modules, ""


def need_bwrap() -> None:
    """The Linux sandbox itself: the hostile-code tests mean nothing without it."""
    from hybridcode.judge.sandbox import detect

    if detect("auto").kind != "bwrap":
        unavailable("bubblewrap is not usable here (.ci/run installs it on Linux)")


def need_go() -> str:
    go = shutil.which("go")
    if go is None:
        unavailable("go is not installed (Debian: apt-get install golang-go)")
    return go  # type: ignore[return-value]


def need_node_runners() -> Path:
    modules, why = install_node_runners()
    if modules is None:
        unavailable(why)
    return modules  # type: ignore[return-value]


def link_node_modules(project: Path, modules: Path) -> None:
    """The project's ``node_modules`` as an installed package would have it (a link to the
    shared install; git ignores it like any project's)."""
    (project / "node_modules").symlink_to(modules, target_is_directory=True)


if __name__ == "__main__":
    found, reason = install_node_runners()
    print(f"node test runners: {found}" if found else f"node test runners: {reason}")
    sys.exit(0 if found else 1)
