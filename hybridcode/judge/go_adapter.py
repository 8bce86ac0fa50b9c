"""The Go adapter: ``go vet`` as the type stage, ``go test -json`` per module, test by test.

Expected tests are the file's top-level ``func TestXxx(t *testing.T)`` (:mod:`.expected`); the
command is ``go test -json -count=1 -run '^(TestA|TestB)$' ./pkg…`` in the module that holds
the files (the nearest ``go.mod``), after ``go vet ./pkg…``. test2json's events name packages,
not files; each test is mapped back to the file in its package that declares it.

The environment keeps Go inside the sandbox: a private build cache and GOPATH in the run's
report folder (the user's are under ``$HOME``, which is hidden, and a cache shared between
attempts would let one attempt plant results for the next), ``GOPROXY=off`` (there is no
network), ``GOFLAGS=-mod=mod`` (``-mod=vendor`` with a ``vendor/`` folder) and cgo off. A module
that requires other modules reads them from the user's module cache, bound read-only; one not
downloaded yet cannot be fetched, and the run says so.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from hybridcode.judge import stages
from hybridcode.judge.adapter import Invocation, Job, Parsed
from hybridcode.judge.detect import module_dir
from hybridcode.judge.expected import expected_tests
from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem, TestOutcome
from hybridcode.judge.process import ProcessResult
from hybridcode.judge.reports import parse_go_events

__all__ = ["GoAdapter", "go_env", "user_modcache"]

INSTALL_HINT = "install Go (Debian/Ubuntu: apt-get install golang-go)"
_MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)
_REQUIRE = re.compile(r"^require\b", re.MULTILINE)
# "go: downloading m v1": go had to fetch a module the cache lacks (the user's cache is bound
# read-only, so with an empty one go then fails to write it rather than to look it up).
_MISSING_MODULE = re.compile(r"(cannot find module providing package|module lookup disabled by "
                             r"GOPROXY=off|missing go.sum entry|^go: downloading )", re.MULTILINE)


class GoAdapter:
    name = "go"

    def handles(self, path: str) -> bool:
        return path.endswith("_test.go")

    def expected(self, worktree: Path, path: str) -> list[ExpectedTest]:
        text = (Path(worktree) / path).read_text(encoding="utf-8", errors="replace")
        return expected_tests(text, "go").for_file(path)

    def invocation(self, job: Job) -> Invocation:
        go = shutil.which("go")
        if go is None:
            return Invocation(stages.cannot_run(job.report_dir, f"go is not installed: "
                                                f"{INSTALL_HINT}"))
        blocks: list[stages.Block] = []
        modules: dict[Path, list[str]] = {}
        for path in job.paths:
            found = module_dir(job.worktree, path)
            if found is None:
                return Invocation(stages.cannot_run(
                    job.report_dir, f"no go.mod at or above {path}: Go tests run inside a "
                    "module (go mod init <module path>)"))
            modules.setdefault(found, []).append(path)
        env: dict[str, str] = {}
        readable = [Path(go).resolve().parent.parent]
        for module, files in modules.items():
            packages = sorted({_package(job.worktree, module, f) for f in files})
            names = list(dict.fromkeys(e.name for f in files
                                       for e in self.expected(job.worktree, f)))
            pattern = "^(" + "|".join(re.escape(n) for n in names) + ")$" if names else "^$"
            blocks.append(stages.Block(
                f"go test {' '.join(packages)}", module,
                [go, "test", "-json", "-count=1", "-run", pattern, *packages],
                [go, "vet", *packages], f"go vet {' '.join(packages)}", files, runner="go"))
            env, extra = go_env(module, job.report_dir)
            readable += extra
        return Invocation(stages.script(blocks, job.report_dir), env, readable)

    def parse(self, job: Job, process: ProcessResult) -> Parsed | CouldNotRun:
        why = stages.reason(job.report_dir)
        if why is not None:
            return CouldNotRun(why)
        parsed = Parsed()
        modules: dict[Path, list[str]] = {}
        for path in job.paths:
            modules.setdefault(module_dir(job.worktree, path), []).append(path)  # type: ignore[arg-type]
        for n, (module, files) in enumerate(modules.items()):
            packages = " ".join(sorted({_package(job.worktree, module, f) for f in files}))
            if stages.stage_file(job.report_dir, n, "types-failed") is not None:
                text = stages.stage_file(job.report_dir, n, "types") or ""
                unrequired = _unrequired_imports(module, packages)
                if unrequired:
                    parsed.problems.append(Problem(
                        _located(text, module, job.worktree, f"go vet {packages} (type check)"),
                        f"imports {', '.join(unrequired)}, which no module in go.mod provides "
                        "(nothing can be downloaded here: use the standard library or a "
                        "module go.mod already requires)"))
                    continue
                if _MISSING_MODULE.search(text):
                    rel = module.resolve().relative_to(job.worktree.resolve()).as_posix()
                    where = "the repository" + ("" if rel == "." else f" ({rel}/)")
                    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
                    first = next((ln for ln in lines if "GOPROXY" in ln or "go.sum" in ln),
                                 next(ln for ln in lines if _MISSING_MODULE.search(ln)))
                    return CouldNotRun(f"go vet {packages} needs modules that are not in the "
                                       "Go module cache, and there is no network while tests "
                                       f"run ({first[:200]})",
                                       f"run `go mod download` in {where}")
                parsed.problems.append(Problem(
                    _located(text, module, job.worktree, f"go vet {packages} (type check)"),
                    _compiler_lines(text)))
                continue
            report = parse_go_events(stages.stage_file(job.report_dir, n, "out") or "")
            owner = _owners(job.worktree, module, files, self)
            for outcome in report.outcomes:
                parsed.outcomes.append(_with_file(outcome, owner))
            where = ", ".join(files)
            if not report.found:
                parsed.problems.append(Problem(where, "go test wrote no test events (the test "
                                               "binary did not build or did not start)"))
            parsed.problems += [Problem(where, p) for p in report.problems]
        return parsed

    def trim(self, output: str) -> str:
        lines = [ln for ln in output.splitlines() if ln.strip()]
        text = "\n".join(lines[-40:])
        return text[-3000:]


_IMPORT_DECL = re.compile(r"^import\s*(?:\((.*?)^\)|([^\n]*))", re.MULTILINE | re.DOTALL)
_QUOTED = re.compile(r'"([^"\n]+)"')


def _unrequired_imports(module: Path, packages: str) -> list[str]:
    """Non-standard packages the tested packages' files import that neither the module itself
    nor any ``require`` of go.mod provides: the code's doing (an import added for a module
    nobody downloaded, which no module cache can hold), not the environment's."""
    text = (module / "go.mod").read_text(encoding="utf-8", errors="replace")
    found = _MODULE.search(text)
    own = found.group(1) if found else ""
    required = [own, *_required_modules(module)]
    wanted: list[str] = []
    for package in packages.split():
        for file in sorted((module / package).glob("*.go")):
            source = file.read_text(encoding="utf-8", errors="replace")
            for block, single in _IMPORT_DECL.findall(source):
                for path in _QUOTED.findall(block or single):
                    if "." in path.split("/", 1)[0] and path not in wanted:
                        wanted.append(path)
    return [p for p in wanted if not any(p == r or p.startswith(r + "/") for r in required if r)]


def _required_modules(module: Path) -> list[str]:
    text = (module / "go.mod").read_text(encoding="utf-8", errors="replace")
    found = re.findall(r"^require\s+([^\s(]+)\s", text, re.MULTILINE)
    for block in re.findall(r"^require\s*\((.*?)^\)", text, re.MULTILINE | re.DOTALL):
        found += [ln.split()[0] for ln in block.splitlines()
                  if ln.strip() and not ln.strip().startswith("//")]
    return found


def _package(worktree: Path, module: Path, file: str) -> str:
    rel = (Path(worktree) / file).parent.resolve().relative_to(module.resolve()).as_posix()
    return "./" + ("" if rel == "." else rel)


def _owners(worktree: Path, module: Path, files: list[str],
            adapter: GoAdapter) -> dict[tuple[str, str], str]:
    """(import path, test name) → the test file declaring it; (import path, "") → the first
    test file of that package (for tests no file names, e.g. subtests)."""
    text = (module / "go.mod").read_text(encoding="utf-8", errors="replace")
    found = _MODULE.search(text)
    base = found.group(1) if found else ""
    owners: dict[tuple[str, str], str] = {}
    for file in files:
        rel = _package(worktree, module, file)[2:]
        import_path = f"{base}/{rel}" if rel else base
        owners.setdefault((import_path, ""), file)
        for test in adapter.expected(worktree, file):
            owners.setdefault((import_path, test.name), file)
    return owners


def _with_file(outcome: TestOutcome, owners: dict[tuple[str, str], str]) -> TestOutcome:
    package = outcome.file
    top = outcome.name.split("/", 1)[0]
    file = owners.get((package, top)) or owners.get((package, "")) or package
    return TestOutcome(file, outcome.name, outcome.status, outcome.suite, outcome.message)


_GO_LOCATION = re.compile(r"(?:^|\s)([\w./-]+\.go):\d+")


def _located(text: str, module: Path, worktree: Path, what: str) -> str:
    return stages.located(_GO_LOCATION, text, module, worktree, what)


def _compiler_lines(text: str, limit: int = 12) -> str:
    return stages.first_lines([ln.strip() for ln in text.splitlines()
                               if ln.strip() and not ln.startswith("#")], limit)


def go_env(module: Path, report_dir: Path) -> tuple[dict[str, str], list[Path]]:
    """The variables ``go`` runs with, and the paths it must be able to read."""
    private = report_dir / "go"
    (private / "cache").mkdir(parents=True, exist_ok=True)
    (private / "path").mkdir(parents=True, exist_ok=True)
    readable: list[Path] = []
    modcache = str(private / "path" / "pkg" / "mod")
    text = (module / "go.mod").read_text(encoding="utf-8", errors="replace")
    if _REQUIRE.search(text) and not (module / "vendor").is_dir():
        user = user_modcache()
        if user is not None:
            modcache = str(user)
            readable.append(user)
    env = {"GOCACHE": str(private / "cache"), "GOPATH": str(private / "path"),
           "GOMODCACHE": modcache,
           "GOFLAGS": "-mod=vendor" if (module / "vendor").is_dir() else "-mod=mod",
           "GOPROXY": "off", "GOSUMDB": "off", "GOTOOLCHAIN": "local", "GOTELEMETRY": "off",
           "GOWORK": "off", "GO111MODULE": "on", "CGO_ENABLED": "0"}
    return env, readable


def user_modcache() -> Path | None:
    """The user's Go module cache, as ``go`` finds it (None when there is none yet)."""
    for candidate in (os.environ.get("GOMODCACHE"),
                      os.path.join(os.environ["GOPATH"].split(os.pathsep)[0], "pkg", "mod")
                      if os.environ.get("GOPATH") else None,
                      os.path.expanduser("~/go/pkg/mod")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None
