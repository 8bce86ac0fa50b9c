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
import re
from pathlib import Path, PurePosixPath

__all__ = ["RUNNERS", "JS_SUFFIXES", "detect_runner", "is_test_file", "module_dir",
           "package_dir", "runner_for_language", "tests_for_changes", "tests_not_run",
           "tool_bin", "unsupported_runner"]

RUNNERS = ("pytest", "go", "vitest", "jest", "node")
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
_JS_RUNNERS = ("vitest", "jest")
# JavaScript runners hybrid recognises but does not run: their tests are named, not skipped.
UNSUPPORTED_JS_RUNNERS = ("mocha", "ava")


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
    names, test_script = _package_runners(root, test_path)
    for runner in _JS_RUNNERS:
        if runner in names or runner in test_script.split():
            return runner
    return "node"


def unsupported_runner(root: Path, path: str) -> str | None:
    """``mocha`` or ``ava`` when the package holding ``path`` tests with one of them (and with
    neither vitest nor jest): its tests are not run by hybrid, and reports say so."""
    if PurePosixPath(path).suffix.lower() not in JS_SUFFIXES:
        return None
    names, test_script = _package_runners(Path(root), path)
    words = test_script.replace("/", " ").split()
    if any(r in names or r in words for r in _JS_RUNNERS):
        return None
    return next((r for r in UNSUPPORTED_JS_RUNNERS if r in names or r in words), None)


_CONVENTIONAL = re.compile(r"(^|/)(test|tests|__tests__|spec)/|(^|/)test(-[^/]*)?\.[cm]?[jt]sx?$")


def tests_not_run(root: Path, changed: list[str], chosen: list[str],
                  visible: list[str]) -> dict[str, str]:
    """Test file → runner, for the project tests a change concerns that hybrid does not run:
    the chosen test files of mocha/ava packages, and the conventional test files (``test/``,
    ``tests/``, ``__tests__/``, ``test.js``, ``*.test.*``/``*.spec.*``) of a mocha/ava package a
    changed JavaScript/TypeScript file belongs to."""
    root = Path(root)
    found: dict[str, str] = {}
    for path in chosen:
        runner = unsupported_runner(root, path)
        if runner:
            found[path] = runner
    packages: dict[Path, str] = {}
    for path in changed:
        runner = unsupported_runner(root, path)
        base = package_dir(root, path) if runner else None
        if runner and base is not None:
            packages[base.resolve()] = runner
    for path in visible if packages else []:
        if PurePosixPath(path).suffix.lower() not in JS_SUFFIXES or "node_modules/" in path:
            continue
        base = package_dir(root, path)
        runner = packages.get(base.resolve()) if base is not None else None
        if runner is None:
            continue
        rel = (root / path).resolve().relative_to(base.resolve()).as_posix()
        if _CONVENTIONAL.search(rel) or _JS_TEST.search(PurePosixPath(path).name):
            found.setdefault(path, runner)
    return found


def _package_runners(root: Path, path: str) -> tuple[set[str], str]:
    """The dependency names and the ``test`` script of the nearest package.json."""
    found = package_dir(root, path)
    if found is None:
        return set(), ""
    try:
        data = json.loads((found / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set(), ""
    if not isinstance(data, dict):
        return set(), ""
    names: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        deps = data.get(key)
        if isinstance(deps, dict):
            names.update(str(k) for k in deps)
    scripts = data.get("scripts")
    test_script = str(scripts.get("test", "")) if isinstance(scripts, dict) else ""
    return names, test_script


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


_JS_TEST = re.compile(r"\.(test|spec)\.(?:[cm]?[jt]sx?)$")
_TEST_DIRS = frozenset({"tests", "test", "__tests__"})


def is_test_file(path: str, root: Path | None = None) -> bool:
    """A test file by its runner's own naming: ``test_x.py``/``x_test.py``, ``x_test.go``,
    ``x.test.ts``/``x.spec.js`` (any JavaScript/TypeScript extension); and, given the
    repository ``root``, any JavaScript/TypeScript file under ``__tests__/`` of a package that
    jest runs (jest's own default; vitest and node's runner need the ``.test.`` name)."""
    pure = PurePosixPath(path)
    name = pure.name
    if name.endswith(".py"):
        return name.startswith("test_") or name.endswith("_test.py")
    if name.endswith("_test.go") or _JS_TEST.search(name) is not None:
        return True
    return root is not None and "__tests__" in pure.parts[:-1] \
        and pure.suffix.lower() in JS_SUFFIXES and detect_runner(root, path) == "jest"


def tests_for_changes(changed: list[str], visible: list[str], root: Path | None = None
                      ) -> list[str]:
    """The tests a change to ``changed`` (non-test source files) should run, wherever the
    project keeps them (``visible``: the repository's files):

    - Go: every ``_test.go`` file of a changed package (the folder: Go's own rule).
    - Python and JavaScript/TypeScript: the test files named after a changed module ``m``
      (``test_m.py``, ``m_test.py``, ``m.test.ts``, ``m.spec.js``; with ``root``, jest's
      ``__tests__/m.ts``) and every test file of a folder kept for it (``tests/test_m/``,
      ``tests/m/``, ``__tests__/m/``). A package's module is its folder: a change to
      ``pkg/__init__.py`` or ``src/pkg/index.ts`` runs the tests of ``pkg``.
    """
    go_dirs = {str(PurePosixPath(p).parent) for p in changed
               if p.endswith(".go") and not is_test_file(p)}
    modules = {family: set() for family in ("python", "js")}
    for path in changed:
        family = _family(path)
        if family is None or is_test_file(path, root):
            continue
        pure = PurePosixPath(path)
        stem = pure.name.split(".")[0]
        if stem in ("__init__", "index"):
            stem = pure.parent.name
        if stem:
            modules[family].add(stem)
    chosen = []
    for path in visible:
        pure = PurePosixPath(path)
        if path.endswith("_test.go"):
            if str(pure.parent) in go_dirs:
                chosen.append(path)
            continue
        family = _family(path)
        if family is None or not modules[family] or not is_test_file(path, root):
            continue
        if _subjects(pure, family) & modules[family]:
            chosen.append(path)
    return chosen


def _family(path: str) -> str | None:
    suffix = PurePosixPath(path).suffix.lower()
    return "python" if suffix == ".py" else "js" if suffix in JS_SUFFIXES else None


def _subjects(test: PurePosixPath, family: str) -> set[str]:
    """The modules a test file is for, by its name and its folders: ``tests/test_cli/
    test_parse.py`` → {parse, cli}; ``src/__tests__/text.ts`` → {text}."""
    name = test.name
    if family == "python":
        stem = name.removesuffix(".py")
        found = {stem.removeprefix("test_") if stem.startswith("test_") else
                 stem.removesuffix("_test")}
    else:
        found = {name.split(".")[0]}
    folders = test.parts[:-1]
    for outer, folder in zip(("", *folders), folders):
        if family == "python" and folder.startswith("test_"):
            found.add(folder.removeprefix("test_"))
        elif family == "python" and folder.endswith("_test"):
            found.add(folder.removesuffix("_test"))
        elif outer in _TEST_DIRS and folder not in _TEST_DIRS:
            found.add(folder)
    return found
