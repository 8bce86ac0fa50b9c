"""Judge test files with their runner: type stage, tests, per-test accounting, trimmed feedback.

    result = judge_tests(worktree, ["textutil/slug_test.go"], timeout_s=60)
    result.ok, result.stage, result.output   # True, "ok", "go test ./textutil: 3 tests passed"

Test files are grouped per package (a Go package, a ``package.json``); each group runs its
*types* stage (``go vet``, ``tsc --noEmit``) and then its tests, each command within
``timeout_s``. A group passes only when its report exists, every test its files declare
(:mod:`.expected`) is in the report and passed, and nothing in the report was skipped, failed
or errored — never because an exit status was 0. The output of a failure names each failing
test with the runner's message, cut to what a model can act on.

``stage`` is ``types``, ``tests``, ``unavailable`` (the runner cannot run here: a toolchain is
missing — says which and how to install it) or ``ok``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hybridcode.context.languages import language_for_path
from hybridcode.judge.adapters import CannotRun, RunPlan, group_key, plan_run
from hybridcode.judge.detect import detect_runner
from hybridcode.judge.execute import clean_env, execute
from hybridcode.judge.expected import expected_tests
from hybridcode.judge.reports import TestReport

__all__ = ["TestsResult", "judge_tests", "trim_tool_output"]

OUTPUT_CHARS = 4000
TYPE_ERRORS_SHOWN = 12


@dataclass
class TestsResult:
    ok: bool
    stage: str  # types | tests | unavailable | ok
    output: str
    passed: int = 0
    expected: int = 0


def judge_tests(worktree: Path, test_files: list[str], timeout_s: float,
                runners: dict[str, str] | None = None) -> TestsResult:
    """Run and account ``test_files``; ``runners`` maps a file to its recorded runner (the
    spec's ``tests.runner``), the rest are detected."""
    worktree = Path(worktree).resolve()
    missing = [p for p in test_files if not (worktree / p).is_file()]
    if missing:
        return TestsResult(False, "tests", f"acceptance tests {missing[0]} are missing from the "
                           "worktree (they are written by the tool before verification)")
    groups: dict[tuple[str, str], list[str]] = {}
    for path in test_files:
        runner = (runners or {}).get(path) or detect_runner(worktree, path)
        if runner is None:
            return TestsResult(False, "unavailable", f"{path}: hybrid has no test runner for "
                               "this language")
        groups.setdefault((runner, group_key(runner, worktree, path)), []).append(path)
    outputs: list[str] = []
    passed = expected = 0
    for (runner, _key), files in groups.items():
        result = _judge_group(worktree, runner, files, timeout_s)
        passed += result.passed
        expected += result.expected
        if not result.ok:
            result.passed, result.expected = passed, expected
            return result
        outputs.append(result.output)
    return TestsResult(True, "ok", "\n".join(outputs), passed, expected)


def _judge_group(worktree: Path, runner: str, files: list[str], timeout_s: float) -> TestsResult:
    scratch = Path(tempfile.mkdtemp(prefix="hybrid-judge-"))
    try:
        try:
            plan = plan_run(runner, worktree, files, scratch)
        except CannotRun as exc:
            return TestsResult(False, "unavailable", f"tests could not run: {exc}")
        env = clean_env(scratch / "home")
        for stage in plan.stages:
            done = execute(stage.argv, stage.cwd, {**env, **stage.env}, timeout_s,
                           writable=[worktree, scratch], read_only=plan.read_only)
            if done.returncode is None:
                partial = trim_tool_output(done.errors + done.output, 1500)
                return TestsResult(False, stage.name, f"{stage.label} timed out after "
                                   f"{timeout_s:g}s (an endless loop or a blocking call?)"
                                   + (f"\n{partial}" if partial.strip() else ""))
            if stage.name == "types":
                if done.returncode != 0:
                    return TestsResult(False, "types", f"{stage.label} failed:\n" +
                                       _type_errors(done.output + "\n" + done.errors,
                                                    worktree))
                continue
            report_text = None
            if stage.report is not None and stage.report.is_file():
                report_text = stage.report.read_text(encoding="utf-8", errors="replace")
            report = plan.read(done.output, report_text)
            return _account(worktree, plan, stage.label, report, done.output + done.errors)
        return TestsResult(False, "tests", "no test stage ran")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _account(worktree: Path, plan: RunPlan, label: str, report: TestReport,
             raw: str) -> TestsResult:
    names: list[str] = []
    dynamic = 0
    for path in plan.test_files:
        language = language_for_path(path) or ""
        found = expected_tests((worktree / path).read_text(encoding="utf-8", errors="replace"),
                               language)
        names += found.names
        dynamic += found.dynamic
    want = len(names) + dynamic
    if not report.found:
        why = "\n".join(report.problems) or _runner_noise_dropped(raw)
        lines = [f"{label}: the runner wrote no test report, so none of the {want} expected "
                 "tests counts as passed", *(f"NOT RUN {n}" for n in names)]
        if why.strip():
            lines.append(trim_tool_output(why, 1500))
        return TestsResult(False, "tests", _cap("\n".join(lines).replace(str(worktree) + "/",
                                                                        "")), 0, want)
    # A Go subtest (TestA/case) belongs to its parent, whose outcome includes it.
    by_name = {o.name: o for o in report.outcomes}
    lines: list[str] = []
    for name in names:
        outcome = by_name.get(name)
        if outcome is None:
            lines.append(f"NOT RUN {name}: declared in the test file but not in the runner's "
                         "report")
    for o in report.outcomes:
        if o.status == "passed":
            continue
        verb = {"failed": "FAILED", "skipped": "SKIPPED", "error": "ERROR"}[o.status]
        why = o.message.strip() or o.status
        if o.status == "skipped":
            why = (why + " — " if why != "skipped" else "") + "a skipped test is not a pass"
        lines.append(f"{verb} {o.name}: {why}")
    lines += [f"ERROR {p}" for p in report.problems]
    top = [o for o in report.outcomes if plan.runner != "go" or "/" not in o.name]
    ran_ok = [o for o in top if o.status == "passed"]
    if not lines and len(top) < want:
        lines.append(f"NOT RUN: the test files declare {want} tests, the runner ran "
                     f"{len(top)}")
    passed = min(len(ran_ok), want)
    if lines:
        head = f"{label}: {passed} of {want} expected tests passed"
        text = "\n".join([head, *lines]).replace(str(worktree) + "/", "")
        return TestsResult(False, "tests", _cap(text), passed, want)
    return TestsResult(True, "ok", f"{label}: {want} tests passed", passed, want)


def _runner_noise_dropped(text: str) -> str:
    """A runner's own crash output without its internals' frames and rulers."""
    keep = [ln for ln in text.splitlines() if ln.strip() and "node_modules" not in ln
            and "node:internal" not in ln and not set(ln.strip()) <= set("⎯─-= ")]
    return "\n".join(keep)


def _type_errors(text: str, worktree: Path) -> str:
    """Compiler/type-checker output: the error lines with their locations, made relative."""
    root = str(worktree) + "/"
    lines = [ln.replace(root, "") for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("#")]
    shown = errors[:TYPE_ERRORS_SHOWN]
    more = len(errors) - len(shown)
    return _cap("\n".join(shown) + (f"\n… and {more} more" if more > 0 else ""))


def trim_tool_output(text: str, limit: int = OUTPUT_CHARS) -> str:
    return _cap(text.strip(), limit)


def _cap(text: str, limit: int = OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit - 40].rstrip() + f"\n… ({len(text) - limit + 40} characters left out)"


def is_judged(test_path: str) -> bool:
    """True for test files this module judges (Go, JavaScript, TypeScript)."""
    return PurePosixPath(test_path).suffix.lower() in (
        ".go", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
