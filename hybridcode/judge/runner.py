"""The one runner for project code: ``run_tests`` (tests, judged per test) and ``run_command``
(any command, in the same sandbox, environment and time bound).

    from hybridcode.judge import JudgeConfig, run_tests
    config = JudgeConfig.from_settings(s, root)
    run = run_tests(worktree, ["tests/hybrid/test_hybrid_add.py"], config)
    run.status        # passed / failed / could_not_run
    run.problems      # per test: which one and why

Every run: the sandbox for ``config.sandbox_mode`` (:class:`SandboxError` when there is none
and it is not off — model code is then not run at all), an environment without credentials, a
private temporary directory and report folder outside the worktree (removed afterwards), and
``config.timeout_s`` as a hard bound on the whole process tree.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from hybridcode.judge import sandbox as sandboxes
from hybridcode.judge.accounting import account
from hybridcode.judge.adapter import Adapter, Job, Parsed, adapter_for
from hybridcode.judge.channel import Channel
from hybridcode.judge.config import JudgeConfig, interpreter_paths
from hybridcode.judge.environment import clean_environment
from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem, TestRun
from hybridcode.judge.process import ProcessResult, run_process

__all__ = ["run_command", "run_tests"]


def run_command(argv: list[str], *, worktree: Path, config: JudgeConfig,
                env: Mapping[str, str] | None = None, readable: Iterable[Path] = (),
                writable: Iterable[Path] = (), base: Path | None = None,
                pass_fds: tuple[int, ...] = ()) -> ProcessResult:
    """``argv`` run in ``worktree`` inside the sandbox, with the cleaned environment plus
    ``env``, killed with everything it started after ``config.timeout_s``. The project's
    interpreter (``config.python``) is always readable."""
    box = sandboxes.require(config.sandbox_mode)
    worktree = Path(worktree).resolve()
    own_base = base is None
    base = Path(tempfile.mkdtemp(prefix="hybrid-judge-")) if base is None else base
    try:
        layout = sandboxes.SandboxLayout(worktree=worktree, base=base,
                                         readable=[*interpreter_paths(config.python),
                                                   *readable], writable=list(writable))
        tmp = "/tmp" if box.kind == "bwrap" else str(layout.tmp)
        full_env = clean_environment(extra={"TMPDIR": tmp, "TEMP": tmp, "TMP": tmp,
                                            **(env or {})})
        return run_process(sandboxes.wrap(box, argv, layout), cwd=worktree, env=full_env,
                           timeout_s=config.timeout_s, pass_fds=pass_fds)
    finally:
        if own_base:
            shutil.rmtree(base, ignore_errors=True)


def run_tests(worktree: Path, paths: Sequence[str], config: JudgeConfig, *,
              strict: Iterable[str] | None = None) -> TestRun:
    """Run the test files ``paths`` (worktree-relative) and judge them test by test.

    ``strict`` names the files whose every test must run and pass (default: all of
    ``paths``); in the others only failures and errors count. Files of different languages
    run in one invocation per adapter, and the verdicts merge (could-not-run wins, then
    failed)."""
    worktree = Path(worktree).resolve()
    strict_set = set(paths if strict is None else strict)
    box = sandboxes.require(config.sandbox_mode)
    missing = [p for p in paths if not (worktree / p).is_file()]
    if missing:
        return TestRun("could_not_run", f"test file {missing[0]} is not in the worktree",
                       sandbox=box.kind)
    groups: dict[str, tuple[Adapter, list[str]]] = {}
    for path in paths:
        adapter = adapter_for(path)
        if adapter is None:
            return TestRun("could_not_run", f"no test runner for {path} (hybrid runs "
                           "pytest tests, and the languages registered in hybridcode.judge)",
                           sandbox=box.kind)
        groups.setdefault(adapter.name, (adapter, []))[1].append(path)
    if not groups:
        return TestRun("passed", "no tests to run", sandbox=box.kind)
    runs = [_run_group(adapter, worktree, files, config, strict_set, box)
            for adapter, files in groups.values()]
    return runs[0] if len(runs) == 1 else _merge(runs)


def _run_group(adapter: Adapter, worktree: Path, files: list[str], config: JudgeConfig,
               strict: set[str], box: sandboxes.Sandbox) -> TestRun:
    expected: list[ExpectedTest] = []
    for path in files:
        if path in strict:
            expected += adapter.expected(worktree, path)
    base = Path(tempfile.mkdtemp(prefix="hybrid-judge-"))
    channel = None
    try:
        report_dir = base / "report"
        report_dir.mkdir()
        job = Job(worktree, tuple(files), report_dir, config)
        invocation = adapter.invocation(job)
        # The verdict's channel lives beside the report folder, never inside what the
        # sandbox can see (channel.py).
        channel = Channel(base, invocation.readers)
        process = run_command(invocation.argv, worktree=worktree, config=config,
                              env={**invocation.env, **channel.env},
                              readable=invocation.readable, writable=[report_dir], base=base,
                              pass_fds=channel.fds)
        parsed: Parsed | CouldNotRun | None = None
        if not process.timed_out and not process.error:
            parsed = adapter.parse(replace(job, records=channel.collect()), process)
    finally:
        if channel is not None:
            channel.close()
        shutil.rmtree(base, ignore_errors=True)
    output = adapter.trim(process.output)
    common = {"expected": expected, "output": output, "wall_s": process.wall_s,
              "sandbox": box.kind, "exit_code": process.returncode,
              "timed_out": process.timed_out}
    if process.error:
        return TestRun("could_not_run", process.error, **common)
    if process.timed_out:
        ended = ("every process they started was killed" if box.kills_tree else
                 "their process group was killed")
        return TestRun("failed", f"tests did not finish within {config.timeout_s:g} s "
                       f"(stopped after {process.wall_s:.1f} s; {ended}) — an endless loop "
                       "or a blocking call?", **common)
    if isinstance(parsed, CouldNotRun):
        return TestRun("could_not_run", parsed.reason, fix=parsed.fix, culprit=parsed.culprit,
                       **common)
    assert parsed is not None
    problems = list(parsed.problems) + account(expected, parsed.outcomes, strict)
    if not parsed.outcomes and not expected and not problems:
        problems.append(Problem(", ".join(files), "no tests were collected"))
    passed = sum(1 for o in parsed.outcomes if o.status == "passed")
    if problems:
        summary = (f"{len(problems)} problem(s) in {len(parsed.outcomes)} reported test(s); "
                   f"first: {problems[0].line()}")
        return TestRun("failed", summary, problems, parsed.outcomes, **common)
    what = f"{passed} test(s) passed"
    if expected:
        what += f", every one of the {len(expected)} expected"
    skipped = len(parsed.outcomes) - passed
    if skipped:
        what += f" ({skipped} skipped outside the acceptance tests)"
    return TestRun("passed", what, [], parsed.outcomes, **common)


def _merge(runs: list[TestRun]) -> TestRun:
    order = {"could_not_run": 0, "failed": 1, "passed": 2}
    worst = min(runs, key=lambda r: order[r.status])
    return TestRun(
        worst.status, "; ".join(r.summary for r in runs if r.status == worst.status),
        [p for r in runs for p in r.problems], [o for r in runs for o in r.outcomes],
        [e for r in runs for e in r.expected], "\n".join(r.output for r in runs if r.output),
        any(r.timed_out for r in runs), sum(r.wall_s for r in runs), worst.sandbox,
        worst.exit_code, worst.fix, worst.culprit)
