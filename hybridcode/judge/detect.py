"""Which test runner judges an item, read from the repository the way its developers run tests.

    detect_runner(root, "web/src/slug.test.ts")   # → "vitest" (package.json lists vitest)
    detect_runner(root, "textutil/slug_test.go")  # → "go"

- Python test files: ``pytest``.
- Go test files: ``go`` (``go test -json`` in the module that holds the file).
- JavaScript / TypeScript test files: the runner of the nearest ``package.json`` above the file
  (within the repository): ``vitest`` or ``jest`` when its dependencies or its ``test`` script
  name one (vitest wins when both do: a repository moving to vitest still lists jest), else
  node's built-in ``node`` runner (``node --test``).

The answer is recorded in the spec item (``tests.runner``) when the plan is made, so a person
reading the spec sees what will judge the item, and a later change to ``package.json`` does not
silently change the judge of a plan already made. Items of old specs (no ``tests.runner``) are
detected when they are verified.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

__all__ = ["RUNNERS", "JS_SUFFIXES", "detect_runner", "package_dir", "module_dir",
           "runner_for_language", "tool_bin"]

RUNNERS = ("pytest", "go", "vitest", "jest", "node")
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
_JS_RUNNERS = ("vitest", "jest")


def detect_runner(root: Path, test_path: str) -> str | None:
    """The runner for the test file ``test_path`` (repository-relative), or None when hybrid has
    no runner for its language."""
    suffix = PurePosixPath(test_path).suffix.lower()
    if suffix in (".py", ".pyi"):
        return "pytest"
    if suffix == ".go":
        return "go"
    if suffix in JS_SUFFIXES:
        return _js_runner(Path(root), test_path)
    return None


def runner_for_language(root: Path, language: str) -> str | None:
    """The runner a new test file of ``language`` would get at the repository's root package
    (what the planner is told to write tests for)."""
    probe = {"python": "t.py", "go": "t_test.go", "javascript": "t.test.js",
             "typescript": "t.test.ts", "tsx": "t.test.tsx"}.get(language)
    return detect_runner(root, probe) if probe else None


def _js_runner(root: Path, test_path: str) -> str:
    found = package_dir(root, test_path)
    if found is None:
        return "node"
    try:
        data = json.loads((found / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "node"
    if not isinstance(data, dict):
        return "node"
    names: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        deps = data.get(key)
        if isinstance(deps, dict):
            names.update(str(k) for k in deps)
    scripts = data.get("scripts")
    test_script = str(scripts.get("test", "")) if isinstance(scripts, dict) else ""
    for runner in _JS_RUNNERS:
        if runner in names or runner in test_script.split():
            return runner
    return "node"


def package_dir(root: Path, test_path: str) -> Path | None:
    """The folder of the nearest ``package.json`` at or above the test file, inside ``root``."""
    return _nearest(Path(root), test_path, "package.json")


def module_dir(root: Path, test_path: str) -> Path | None:
    """The folder of the nearest ``go.mod`` at or above the test file, inside ``root``."""
    return _nearest(Path(root), test_path, "go.mod")


def _nearest(root: Path, test_path: str, marker: str) -> Path | None:
    root = root.resolve()
    here = (root / test_path).parent
    while True:
        if (here / marker).is_file():
            return here
        if here == root or root not in here.parents:
            return None
        here = here.parent


def tool_bin(start: Path, name: str) -> Path | None:
    """``node_modules/.bin/<name>`` in ``start`` or the nearest folder above it that has one —
    the lookup node itself does, so a plan's worktree (inside the checkout) finds the
    checkout's installed packages."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "node_modules" / ".bin" / name
        if candidate.is_file():
            return candidate
    return None
