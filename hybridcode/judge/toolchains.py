"""Which languages a repository holds, which runner judges each, and whether its toolchain is
installed: what ``hybrid doctor`` reports and what the planner is told to write tests for.

    toolchain_checks(root)   # → [HealthCheck("Go toolchain", True, "go1.19.8 — go test …"), …]
    runner_notes(root)       # → "## Test runners\n- Go (module example.com/shop): …"
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from hybridcode.judge.detect import JS_SUFFIXES, detect_runner, tool_bin
from hybridcode.models.base import HealthCheck

if TYPE_CHECKING:
    from hybridcode.config import Settings

__all__ = ["plan_warnings", "python_packages", "record_runners", "repo_languages", "runner_notes",
           "toolchain_checks"]

_SKIP_PARTS = frozenset({"node_modules", "vendor", ".hybrid", ".git"})


def _files(root: Path) -> list[str]:
    from hybridcode.errors import GitError
    from hybridcode.vcs import repo as gitrepo

    try:
        files = gitrepo.visible_files(root)
    except GitError:
        return []
    return [f for f in files if not _SKIP_PARTS.intersection(PurePosixPath(f).parts)]


def repo_languages(root: Path, files: list[str] | None = None) -> dict[str, list[str]]:
    """Language → its marker files (``go.mod``, ``package.json``) or a sample source file."""
    files = _files(Path(root)) if files is None else files
    found: dict[str, list[str]] = {}
    for path in files:
        pure = PurePosixPath(path)
        suffix = pure.suffix.lower()
        if pure.name == "go.mod":
            found.setdefault("go", []).insert(0, path)
        elif suffix == ".go":
            found.setdefault("go", [])
        elif pure.name == "package.json":
            found.setdefault("javascript", []).insert(0, path)
        elif suffix in (".ts", ".tsx", ".mts", ".cts"):
            found.setdefault("typescript", [])
        elif suffix in JS_SUFFIXES:
            found.setdefault("javascript", [])
        elif suffix == ".py":
            found.setdefault("python", [])
    if "typescript" in found:
        found["typescript"] = found.pop("javascript", [])
    return found


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if out.returncode == 0 and text else None


def _packages(root: Path, markers: list[str]) -> list[Path]:
    return [(root / m).parent for m in markers if PurePosixPath(m).name == "package.json"]


def toolchain_checks(root: Path, settings: Settings | None = None, *,
                     names: set[str] | None = None) -> list[HealthCheck]:
    """One check per language the repository holds: the runner that judges it and whether it
    is installed. Not required: a repository may hold a language hybrid never implements."""
    root = Path(root)
    languages = repo_languages(root)
    checks: list[HealthCheck] = []
    if "python" in languages and (names is None or "Python tests" in names):
        checks.append(_python_check(root, settings))  # runs the interpreter: only if asked
    if "go" in languages:
        go = shutil.which("go")
        version = _version([go, "version"]) if go else None
        if version:
            checks.append(HealthCheck("Go toolchain", True, f"{version} — go vet, then "
                                      "go test -json", required=False))
            checks += go_module_checks(root, languages["go"], go)
        else:
            checks.append(HealthCheck("Go toolchain", False, "go not found: Go items cannot be "
                                      "verified", "install Go (Debian/Ubuntu: apt-get install "
                                      "golang-go)", required=False))
    for language in ("typescript", "javascript"):
        if language in languages:
            checks += _js_checks(root, language, languages[language])
    return checks


# Top-level folders that hold a project's tooling, not the package its tests import.
_NOT_PACKAGES = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "example",
                           "scripts", "benchmarks", "bench", "tools", "build", "dist"})
_IMPORT_PROBE = """\
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        failed[name] = (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:200]
print(json.dumps({"failed": failed, "pytest": getattr(sys.modules.get("pytest"), "__version__", None)}))
"""


def python_packages(root: Path, files: list[str] | None = None) -> list[str]:
    """The import names of the repository's own top-level packages (``src/<name>/`` or
    ``<name>/`` with an ``__init__.py``), which its tests import."""
    files = _files(Path(root)) if files is None else files
    names: list[str] = []
    for path in files:
        parts = PurePosixPath(path).parts
        if parts[-1] != "__init__.py":
            continue
        if len(parts) == 3 and parts[0] == "src":
            name = parts[1]
        elif len(parts) == 2:
            name = parts[0]
        else:
            continue
        if name.isidentifier() and name not in _NOT_PACKAGES and name not in names:
            names.append(name)
    return sorted(names)[:5]


def _python_check(root: Path, settings: Settings | None) -> HealthCheck:
    """The interpreter the judge will run the repository's tests with (the same choice:
    :meth:`JudgeConfig.from_settings`), and whether pytest and the project's own packages
    import there — a test run that cannot import them fails every item, whatever the model
    wrote."""
    import json
    import sys

    from hybridcode.errors import ConfigError
    from hybridcode.judge.config import JudgeConfig

    name = "Python tests"
    try:
        config = JudgeConfig.from_settings(settings, root)
    except ConfigError as exc:
        return HealthCheck(name, False, exc.message, exc.hint, required=False)
    if config.test_command:
        return HealthCheck(name, True, "[checks] test_command: "
                           + " ".join(config.test_command), required=False)
    python = config.python
    if settings is not None and settings.checks.python:
        source = "[checks] python"
    elif python != sys.executable:
        source = "the repository's .venv"
    else:
        source = "hybrid's own interpreter: the repository has no .venv"
    packages = python_packages(root)
    try:
        out = subprocess.run([python, "-c", _IMPORT_PROBE, "pytest", *packages], cwd=root,
                             capture_output=True, text=True, timeout=60, check=False)
        probe = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return HealthCheck(name, False, f"{python} ({source}) does not run",
                           "set [checks] python to the interpreter of the project's virtual "
                           "environment", required=False)
    failed: dict[str, str] = probe["failed"]
    where = f"{python} ({source})"
    if "pytest" in failed:
        return HealthCheck(name, False, f"pytest does not import with {where}",
                           f"install it there: {python} -m pip install pytest"
                           + ("" if settings is None or settings.checks.python else
                              ", or set [checks] python to the project's interpreter"),
                           required=False)
    if failed:
        what = "; ".join(f"{pkg}: {why}" for pkg, why in failed.items())
        return HealthCheck(name, False, f"the project's package does not import with {where} "
                           f"— {what}", f"install the project there ({python} -m pip install "
                           "-e .), or set [checks] python to the interpreter that has it",
                           required=False)
    imports = f"; imports {', '.join(packages)}" if packages else ""
    return HealthCheck(name, True, f"pytest {probe['pytest']} with {where}{imports}",
                       required=False)


def _js_checks(root: Path, language: str, markers: list[str]) -> list[HealthCheck]:
    name = "TypeScript" if language == "typescript" else "JavaScript"
    node = shutil.which("node")
    version = _version([node, "--version"]) if node else None
    if not version:
        return [HealthCheck(f"{name} tests", False, "node not found",
                            "install Node.js 20 or newer", required=False)]
    packages = _packages(root, markers) or [root]
    details, problems = [], []
    for folder in packages[:5]:
        where = folder.relative_to(root).as_posix()
        where = "./" if where == "." else where + "/"
        probe = (folder / ("t.test.ts" if language == "typescript" else "t.test.js"))
        runner = detect_runner(root, probe.relative_to(root).as_posix()) or "node"
        part = f"{where}: {runner}"
        binary = tool_bin(folder, runner) if runner in ("vitest", "jest") else None
        if runner in ("vitest", "jest") and binary is None:
            problems.append(f"{where} uses {runner} but it is not installed (run npm ci in "
                            f"{folder})")
        elif binary is not None:
            refusal = _runs_on_this_node(node, binary, runner, version)
            if refusal:
                problems.append(f"{where}: {refusal}")
        if (folder / "tsconfig.json").is_file():
            part += " + tsc --noEmit"
            if tool_bin(folder, "tsc") is None:
                problems.append(f"{where}tsconfig.json but no TypeScript installed "
                                "(npm install --save-dev typescript)")
        if runner == "node" and language == "typescript":
            if tuple(int(p) for p in re.findall(r"\d+", version)[:2]) < (22, 6):
                problems.append(f"{where}: TypeScript tests with node's runner need vitest "
                                "or jest in package.json (or node 22.6+)")
        details.append(part)
    text = f"node {version.lstrip('v')}; " + "; ".join(details)
    if problems:
        return [HealthCheck(f"{name} tests", False, text + " — " + "; ".join(problems),
                            "install the runner the package uses (npm install)",
                            required=False)]
    return [HealthCheck(f"{name} tests", True, text, required=False)]


def _runs_on_this_node(node: str, binary: Path, runner: str, version: str) -> str:
    """Why ``node`` cannot run the installed ``runner`` ("" when it can): the engines range
    its package.json declares, then the runner itself asked for its version."""
    import json

    package = binary.resolve().parent
    while package != package.parent and not (package / "package.json").is_file():
        package = package.parent
    wanted = ""
    try:
        engines = json.loads((package / "package.json").read_text(encoding="utf-8")).get(
            "engines") or {}
        wanted = str(engines.get("node") or "") if isinstance(engines, dict) else ""
    except (OSError, ValueError, AttributeError):
        pass
    try:
        out = subprocess.run([node, str(binary), "--version"], capture_output=True, text=True,
                             timeout=60, check=False, cwd=package)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{runner} does not start on node {version.lstrip('v')}: {exc}"
    if out.returncode == 0:
        return ""
    last = ([ln.strip() for ln in (out.stderr or out.stdout).splitlines() if ln.strip()]
            or ["no output"])[-1][:200]
    need = f" (it needs node {wanted})" if wanted else ""
    return (f"{runner} does not run on node {version.lstrip('v')}{need}: {last} — use a node "
            f"version it supports, or install a {runner} version this node runs")


def go_module_checks(root: Path, markers: list[str], go: str) -> list[HealthCheck]:
    """Whether the Go module cache the judge reads (read-only, with no network) holds every
    module each ``go.mod`` requires; the fix is ``go mod download`` in the repository's module
    folder (the plan's worktree shares the repository's cache)."""
    import os

    from hybridcode.judge.go_adapter import user_modcache

    problems, fixes, checked = [], [], 0
    for marker in [m for m in markers if m.endswith("go.mod")][:5]:
        folder = (root / marker).parent
        text = (folder / "go.mod").read_text(encoding="utf-8", errors="replace")
        if not re.search(r"^require\b", text, re.MULTILINE) or (folder / "vendor").is_dir():
            continue
        checked += 1
        cache = user_modcache()
        env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOWORK": "off",
               "GOTOOLCHAIN": "local", "GOSUMDB": "off", "GOTELEMETRY": "off"}
        if cache is not None:
            env["GOMODCACHE"] = str(cache)
        try:
            out = subprocess.run([go, "mod", "download", "-json"], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=120, check=False)
            missing = out.returncode != 0 or cache is None
            detail = ([ln.strip() for ln in out.stderr.splitlines() if ln.strip()]
                      or ["no module cache yet"])[0][:200]
        except (OSError, subprocess.SubprocessError) as exc:
            missing, detail = True, str(exc)
        if missing:
            problems.append(f"{folder}: the Go module cache lacks the module's dependencies "
                            f"({detail})")
            fixes.append(f"run `go mod download` in {folder}")
    if not checked:
        return []
    if problems:
        return [HealthCheck("Go module cache", False, "; ".join(problems),
                            "; ".join(fixes) + " (tests run without network, so every module "
                            "go.mod requires must be in the cache first)", required=False)]
    return [HealthCheck("Go module cache", True, f"every module the {checked} go.mod file(s) "
                        "require is in the cache", required=False)]


_HOW = {
    "pytest": "pytest: a pytest module (`def test_...`, plain `assert`, `pytest.raises`)",
    "go": "go test: a `_test.go` file in the target's package (`package <name>`, `import "
          "\"testing\"`, `func TestXxx(t *testing.T)` with `t.Fatalf`/`t.Errorf`); standard "
          "library only; no `t.Skip`",
    "vitest": "vitest: `import { describe, expect, it } from \"vitest\"`, `it(\"literal name\", "
              "() => { expect(...).toBe(...) })`, `expect(() => f()).toThrow(\"message\")`",
    "jest": "jest: the `describe`/`test`/`expect` globals, `test(\"literal name\", () => "
            "{ ... })`",
    "node": "node's runner: `import { test } from \"node:test\"` and `import assert from "
            "\"node:assert/strict\"` (`require` in CommonJS packages)",
}


def runner_notes(root: Path) -> str:
    """The repository's test runners, for the planner's repository section: which framework
    the acceptance tests of each language must be written for. Empty for a Python-only
    repository (the planner prompt covers pytest)."""
    root = Path(root)
    languages = repo_languages(root)
    if not ({"go", "typescript", "javascript"} & set(languages)):
        return ""
    lines = ["## Test runners", "",
             "Acceptance tests are written in the target's language, for the runner that "
             "judges it here (leave `tests.path` empty: the tool places them beside the "
             "target):"]
    if "python" in languages:
        lines.append(f"- Python → {_HOW['pytest']}")
    if "go" in languages:
        mods = [m for m in languages["go"] if m.endswith("go.mod")]
        module = ""
        if mods:
            text = (root / mods[0]).read_text(encoding="utf-8", errors="replace")
            found = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
            go_line = re.search(r"^go\s+(\S+)", text, re.MULTILINE)
            module = (f" (module {found.group(1)}" if found else " (") + \
                (f", go {go_line.group(1)})" if go_line else ")")
        lines.append(f"- Go{module} → {_HOW['go']}")
    for language in ("typescript", "javascript"):
        if language not in languages:
            continue
        name = "TypeScript" if language == "typescript" else "JavaScript"
        probe = "t.test.ts" if language == "typescript" else "t.test.js"
        for folder in (_packages(root, languages[language]) or [root])[:3]:
            rel = folder.relative_to(root).as_posix()
            runner = detect_runner(root, f"{rel}/{probe}" if rel != "." else probe) or "node"
            where = "" if rel == "." else f" in {rel}/"
            typed = " (type-checked with tsc --noEmit first)" \
                if (folder / "tsconfig.json").is_file() and language == "typescript" else ""
            lines.append(f"- {name}{where} → {_HOW[runner]}{typed}")
    lines.append("Every test needs a literal name; a skipped test or one that does not run "
                 "fails the item.")
    return "\n".join(lines)


def plan_warnings(root: Path, spec) -> list[str]:
    """What stands in the way of judging this plan's items here, found before ``implement``
    runs: the failing toolchain checks of the languages its items are written in (a Go module
    cache without the module's dependencies, a JavaScript/TypeScript runner not installed or
    not runnable on this node), each with the fix, to run in the repository."""
    wanted = set()
    for item in spec.items:
        for path in (item.file, item.test_path or ""):
            suffix = PurePosixPath(path).suffix.lower()
            if suffix == ".go":
                wanted.update({"Go toolchain", "Go module cache"})
            elif suffix in (".ts", ".tsx", ".mts", ".cts"):
                wanted.add("TypeScript tests")
            elif suffix in JS_SUFFIXES:
                wanted.update({"JavaScript tests", "TypeScript tests"})
    if not wanted:
        return []
    return [f"{c.name}: {c.detail}" + (f" — {c.hint}" if c.hint else "")
            for c in toolchain_checks(Path(root), names=wanted)
            if not c.ok and c.name in wanted]


def record_runners(spec, root: Path):
    """``spec`` with ``tests.runner`` set on every item whose tests have none yet, as detected
    from the repository now (see :mod:`hybridcode.judge.detect`)."""
    items = []
    for item in spec.items:
        path = item.test_path
        if item.tests is not None and item.tests.runner is None and path:
            runner = detect_runner(Path(root), path)
            if runner is not None:
                item = item.model_copy(update={
                    "tests": item.tests.model_copy(update={"runner": runner})})
        items.append(item)
    return spec.model_copy(update={"items": items})
