"""How each runner is invoked on a set of test files, and how its report is read.

An adapter turns (worktree, test files of one package) into a :class:`RunPlan`: at most one
*types* stage (``go vet``, ``tsc --noEmit``) and one *tests* stage whose machine report is
written into ``scratch`` — a private folder outside the worktree — or, for ``go test -json``,
onto standard output. Nothing here runs a process: :mod:`hybridcode.judge.tests` does, through
the project-code runner.

Go runs with a private build cache and GOPATH in ``scratch`` (the user's are hidden from model
code, and a cache shared between attempts would let one attempt plant results for the next),
``GOFLAGS=-mod=mod`` (or ``-mod=vendor`` with a ``vendor/`` folder), ``GOPROXY=off`` (no network:
a module with external dependencies needs them in the module cache already) and cgo off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

from hybridcode.judge.detect import module_dir, package_dir, tool_bin
from hybridcode.judge.expected import expected_tests
from hybridcode.judge.reports import TestReport, parse_go_events, parse_jest_json, parse_junit

__all__ = ["CannotRun", "RunPlan", "Stage", "plan_run", "runner_tool"]


class CannotRun(Exception):
    """The runner cannot run here (toolchain missing, no go.mod, …): says why and what to do."""


@dataclass
class Stage:
    name: str  # types | tests
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    report: Path | None = None  # the report file; None: the report is standard output
    label: str = ""  # how the output names the command: "go vet ./textutil"


@dataclass
class RunPlan:
    runner: str
    test_files: list[str]
    stages: list[Stage]
    read: Callable[[str, str | None], TestReport]  # (stdout, report text) → outcomes
    read_only: list[Path] = field(default_factory=list)  # toolchain paths the sandbox must show


def plan_run(runner: str, worktree: Path, test_files: list[str], scratch: Path) -> RunPlan:
    """The stages that judge ``test_files`` (repository-relative, one package) with ``runner``."""
    worktree = Path(worktree).resolve()
    if runner == "go":
        return _go(worktree, test_files, scratch)
    if runner in ("vitest", "jest", "node"):
        return _js(runner, worktree, test_files, scratch)
    raise CannotRun(f"hybrid has no adapter for the {runner} runner")


def group_key(runner: str, worktree: Path, test_file: str) -> str:
    """Test files sharing a key run in one command: a Go package, a JavaScript package."""
    if runner == "go":
        return str(PurePosixPath(test_file).parent)
    found = package_dir(worktree, test_file)
    return str(found) if found else "."


# ---------------------------------------------------------------------------------- go

def _go(worktree: Path, test_files: list[str], scratch: Path) -> RunPlan:
    go = runner_tool("go")
    if go is None:
        raise CannotRun("go is not installed: install Go (Debian: apt-get install golang-go) "
                        "so hybrid can run the Go acceptance tests")
    module = module_dir(worktree, test_files[0])
    if module is None:
        raise CannotRun(f"no go.mod at or above {test_files[0]}: Go tests run inside a module "
                        "(go mod init <path>)")
    package = (worktree / test_files[0]).parent.relative_to(module).as_posix()
    target = "./" + ("" if package == "." else package)
    names: list[str] = []
    for path in test_files:
        text = (worktree / path).read_text(encoding="utf-8", errors="replace")
        names += expected_tests(text, "go").names
    names = list(dict.fromkeys(names))
    pattern = "^(" + "|".join(re.escape(n) for n in names) + ")$" if names else "^$"
    env = go_env(module, scratch)
    vet = Stage("types", [go, "vet", target], module, env, label=f"go vet {target}")
    test = Stage("tests", [go, "test", "-json", "-count=1", "-run", pattern, target], module,
                 env, label=f"go test {target}")
    goroot = Path(go).resolve().parent.parent
    return RunPlan("go", test_files, [vet, test], lambda out, _rep: parse_go_events(out),
                   read_only=[goroot])


def go_env(module: Path, scratch: Path) -> dict[str, str]:
    cache, gopath = scratch / "go-build", scratch / "gopath"
    cache.mkdir(parents=True, exist_ok=True)
    gopath.mkdir(parents=True, exist_ok=True)
    mode = "-mod=vendor" if (module / "vendor").is_dir() else "-mod=mod"
    return {"GOCACHE": str(cache), "GOPATH": str(gopath), "GOMODCACHE": str(gopath / "mod"),
            "GOFLAGS": mode, "GOPROXY": "off", "GOSUMDB": "off", "GONOSUMCHECK": "1",
            "GOTOOLCHAIN": "local", "GOTELEMETRY": "off", "CGO_ENABLED": "0",
            "GO111MODULE": "on", "GOWORK": "off"}


# ---------------------------------------------------------------------------------- js/ts

def _js(runner: str, worktree: Path, test_files: list[str], scratch: Path) -> RunPlan:
    node = runner_tool("node")
    if node is None:
        raise CannotRun("node is not installed: install Node.js 20 or newer so hybrid can run "
                        "the JavaScript/TypeScript acceptance tests")
    base = package_dir(worktree, test_files[0]) or worktree
    files = [str((worktree / p).resolve().relative_to(base)) for p in test_files]
    stages: list[Stage] = []
    read_only: list[Path] = [Path(node).resolve().parent.parent]
    typed = any(PurePosixPath(p).suffix in (".ts", ".mts", ".cts", ".tsx") for p in test_files)
    if typed and (base / "tsconfig.json").is_file():
        tsc = tool_bin(base, "tsc")
        if tsc is None:
            raise CannotRun(f"{_rel(base, worktree)}tsconfig.json is there but TypeScript is "
                            "not installed: npm install --save-dev typescript (hybrid runs "
                            "tsc --noEmit before the tests)")
        stages.append(Stage("types", [node, str(tsc), "--noEmit", "--pretty", "false", "-p",
                                      str(base / "tsconfig.json")], base, label="tsc --noEmit"))
        read_only.append(_modules_root(tsc))
    env = {"CI": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    if runner in ("vitest", "jest"):
        binary = tool_bin(base, runner)
        if binary is None:
            raise CannotRun(f"package.json names {runner} but it is not installed: run npm "
                            f"install (looked for node_modules/.bin/{runner} from "
                            f"{_rel(base, worktree) or './'} up)")
        read_only.append(_modules_root(binary))
        report = scratch / f"{runner}-report.json"
        if runner == "vitest":
            argv = [node, str(binary), "run", "--reporter=json", f"--outputFile={report}",
                    "--root", str(base), "--passWithNoTests=false", "--watch=false", *files]
        else:
            argv = [node, str(binary), "--ci", "--json", f"--outputFile={report}",
                    f"--cacheDirectory={scratch / 'jest-cache'}", "--watchman=false",
                    "--colors=false", "--passWithNoTests=false", "--runTestsByPath", *files]
        stages.append(Stage("tests", argv, base, env, report, label=f"{runner} {' '.join(files)}"))
        return RunPlan(runner, test_files, stages,
                       lambda _out, rep: parse_jest_json(rep), read_only)
    if typed and node_version() < (22, 6):
        raise CannotRun("TypeScript tests need vitest or jest in package.json (node "
                        f"{'.'.join(map(str, node_version()))} cannot run .ts files; node 22.6 "
                        "or newer can)")
    report = scratch / "node-junit.xml"
    argv = [node, *(["--experimental-strip-types"] if typed else []), "--test",
            "--test-reporter=junit", f"--test-reporter-destination={report}", *files]
    stages.append(Stage("tests", argv, base, env, report, label=f"node --test {' '.join(files)}"))
    return RunPlan("node", test_files, stages, lambda _out, rep: parse_junit(rep), read_only)


def _modules_root(binary: Path) -> Path:
    """The ``node_modules`` folder a ``.bin`` entry belongs to, resolved (it may be a link)."""
    return binary.parent.parent.resolve()


def _rel(base: Path, worktree: Path) -> str:
    rel = base.relative_to(worktree).as_posix() if base != worktree else ""
    return rel + "/" if rel else ""


def runner_tool(name: str) -> str | None:
    return shutil.which(name)


@lru_cache(maxsize=1)
def node_version() -> tuple[int, ...]:
    node = shutil.which("node")
    if node is None:
        return (0,)
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10,
                             check=False, env={"PATH": os.environ.get("PATH", "")}).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    return tuple(int(p) for p in re.findall(r"\d+", out)[:3]) or (0,)
