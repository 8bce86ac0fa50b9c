"""The JavaScript/TypeScript adapter: the repository's own runner, ``tsc --noEmit`` first.

The runner of each test file is the one its nearest ``package.json`` uses
(:func:`hybridcode.judge.detect.detect_runner`): vitest (``--reporter=json``), jest
(``--json``) or node's built-in runner (``node --test --test-reporter=junit``). When that package
has a ``tsconfig.json`` and a TypeScript file is among the tests, ``tsc --noEmit -p`` runs first
as the type stage. Runners and ``tsc`` come from ``node_modules/.bin`` at or above the package
(node's own lookup, so a plan's worktree inside the checkout finds the checkout's packages);
that ``node_modules`` folder is bound read-only in the sandbox, and nothing is installed — there
is no network while tests run.

Expected tests are the literal ``test(...)``/``it(...)`` titles with their ``describe`` titles
(:mod:`.expected`); a file with dynamic titles must report at least as many tests as it has
``test``/``it`` calls.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path, PurePosixPath

from hybridcode.context.languages import language_for_path
from hybridcode.judge import stages
from hybridcode.judge.adapter import Invocation, Job, Parsed
from hybridcode.judge.detect import JS_SUFFIXES, detect_runner, package_dir, tool_bin
from hybridcode.judge.expected import ExpectedTests, expected_tests
from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem, TestOutcome
from hybridcode.judge.process import ProcessResult
from hybridcode.judge.reports import parse_jest_json, parse_node_junit

__all__ = ["JsAdapter", "node_version"]

_TS = (".ts", ".mts", ".cts", ".tsx")
_REPORTS = {"vitest": "vitest.json", "jest": "jest.json", "node": "node-junit.xml"}


class JsAdapter:
    name = "javascript"

    def handles(self, path: str) -> bool:
        return PurePosixPath(path).suffix.lower() in JS_SUFFIXES

    def declared(self, worktree: Path, path: str) -> ExpectedTests:
        text = (Path(worktree) / path).read_text(encoding="utf-8", errors="replace")
        return expected_tests(text, language_for_path(path) or "javascript")

    def expected(self, worktree: Path, path: str) -> list[ExpectedTest]:
        return self.declared(worktree, path).for_file(path)

    def invocation(self, job: Job) -> Invocation:
        node = shutil.which("node")
        if node is None:
            return Invocation(stages.cannot_run(job.report_dir, "node is not installed: "
                                                "install Node.js 20 or newer"))
        readable = [Path(node).resolve().parent.parent]
        blocks: list[stages.Block] = []
        for n, (base, runner, files) in enumerate(_groups(job)):
            try:
                block, extra = _block(n, node, job, base, runner, files)
            except _CannotRun as exc:
                return Invocation(stages.cannot_run(job.report_dir, str(exc)))
            blocks.append(block)
            readable += [p for p in extra if p not in readable]
        env = {"CI": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}
        return Invocation(stages.script(blocks, job.report_dir), env, readable)

    def parse(self, job: Job, process: ProcessResult) -> Parsed | CouldNotRun:
        why = stages.reason(job.report_dir)
        if why is not None:
            return CouldNotRun(why)
        parsed = Parsed()
        for n, (base, runner, files) in enumerate(_groups(job)):
            if stages.stage_file(job.report_dir, n, "types-failed") is not None:
                text = stages.stage_file(job.report_dir, n, "types") or ""
                parsed.problems.append(Problem(_located(text, base, job.worktree),
                                               _tsc_lines(text)))
                continue
            raw = stages.stage_file(job.report_dir, n, _REPORTS[runner])  # n.<report name>
            if runner == "node":
                report = parse_node_junit(raw, files[0])
            else:
                report = parse_jest_json(raw, runner)
            outcomes = [_relative(o, job.worktree) for o in report.outcomes]
            parsed.outcomes += outcomes
            where = ", ".join(files)
            if not report.found:
                parsed.problems.append(Problem(where, f"{runner} wrote no test report (the "
                                               "test process was killed or crashed)"))
            parsed.problems += [Problem(where, _relative_text(p, job.worktree))
                                for p in report.problems]
            for file in files:
                declared = self.declared(job.worktree, file)
                ran = sum(1 for o in outcomes if o.file == file)
                if report.found and declared.dynamic and ran < declared.count:
                    parsed.problems.append(Problem(file, f"declares {declared.count} tests, "
                                                   f"{runner} reported {ran}"))
        return parsed

    def trim(self, output: str) -> str:
        keep = [ln for ln in output.splitlines() if ln.strip() and "node_modules" not in ln
                and "node:internal" not in ln and not set(ln.strip()) <= set("⎯─-=❯ ")]
        return "\n".join(keep[-30:])[-3000:]


class _CannotRun(Exception):
    pass


def _groups(job: Job) -> list[tuple[Path, str, list[str]]]:
    """(package folder, runner, files): one block each; node's runner one file a block (its
    JUnit report does not name files)."""
    groups: dict[tuple[Path, str], list[str]] = {}
    out: list[tuple[Path, str, list[str]]] = []
    for path in job.paths:
        base = package_dir(job.worktree, path) or job.worktree
        runner = detect_runner(job.worktree, path) or "node"
        if runner == "node":
            out.append((base, runner, [path]))
        else:
            groups.setdefault((base, runner), []).append(path)
    return [(b, r, f) for (b, r), f in groups.items()] + out


def _block(n: int, node: str, job: Job, base: Path, runner: str,
           files: list[str]) -> tuple[stages.Block, list[Path]]:
    readable: list[Path] = []
    local = [str((job.worktree / f).resolve().relative_to(base.resolve())) for f in files]
    types = None
    typed = any(PurePosixPath(f).suffix.lower() in _TS for f in files)
    if typed and (base / "tsconfig.json").is_file():
        tsc = tool_bin(base, "tsc")
        if tsc is None:
            raise _CannotRun(f"{_where(base, job.worktree)}tsconfig.json is there but "
                             "TypeScript is not installed: npm install --save-dev typescript "
                             "(hybrid type-checks with tsc --noEmit before the tests)")
        types = [node, str(tsc), "--noEmit", "--pretty", "false", "-p",
                 str(base / "tsconfig.json")]
        readable.append(tsc.parent.parent)
    report = job.report_dir / f"{n}.{_REPORTS[runner]}"
    if runner in ("vitest", "jest"):
        binary = tool_bin(base, runner)
        if binary is None:
            raise _CannotRun(f"{_where(base, job.worktree)}package.json uses {runner} but it "
                             "is not installed: run npm install (hybrid looks for "
                             f"node_modules/.bin/{runner} there and above)")
        readable.append(binary.parent.parent)
        if runner == "vitest":
            # --no-cache: vitest would write its results cache into node_modules/.vite of the
            # worktree, a file the attempt did not declare.
            argv = [node, str(binary), "run", "--reporter=json", f"--outputFile={report}",
                    "--root", str(base), "--watch=false", "--no-cache", *local]
        else:
            argv = [node, str(binary), "--ci", "--json", f"--outputFile={report}",
                    f"--cacheDirectory={job.report_dir / 'jest-cache'}", "--watchman=false",
                    "--colors=false", "--runTestsByPath", *local]
    else:
        if typed and node_version() < (22, 6):
            raise _CannotRun("TypeScript tests need vitest or jest in package.json: node "
                             f"{'.'.join(map(str, node_version()))} cannot run .ts files "
                             "(node 22.6 or newer can)")
        argv = [node, *(["--experimental-strip-types"] if typed else []), "--test",
                "--test-reporter=junit", f"--test-reporter-destination={report}", *local]
    label = f"{runner} {' '.join(files)}"
    return stages.Block(label, base, argv, types, "tsc --noEmit", files, report.name,
                        runner), readable


def _where(base: Path, worktree: Path) -> str:
    rel = base.resolve().relative_to(worktree.resolve()).as_posix()
    return "" if rel == "." else rel + "/"


def _relative(outcome: TestOutcome, worktree: Path) -> TestOutcome:
    file = outcome.file
    if file.startswith("/"):
        try:
            file = Path(file).resolve().relative_to(worktree.resolve()).as_posix()
        except ValueError:
            pass
    return TestOutcome(file, outcome.name, outcome.status, outcome.suite,
                       _relative_text(outcome.message, worktree))


def _relative_text(text: str, worktree: Path) -> str:
    return text.replace(str(worktree.resolve()) + "/", "")


_TSC_LOCATION = re.compile(r"^(\S[^(\n]*)\(\d+,\d+\): error", re.MULTILINE)


def _located(text: str, base: Path, worktree: Path) -> str:
    """``file::tsc --noEmit (type check)`` for the first file tsc names, worktree-relative."""
    return stages.located(_TSC_LOCATION, text, base, worktree, "tsc --noEmit (type check)")


def _tsc_lines(text: str, limit: int = 12) -> str:
    errors = [ln.strip() for ln in text.splitlines() if re.search(r"error TS\d+", ln)]
    if not errors:
        errors = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return stages.first_lines(errors, limit)


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
