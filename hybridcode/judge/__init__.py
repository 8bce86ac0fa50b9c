"""The judge: the one place project code (model-written code and its tests) runs.

Implement, review's checks, CI mode and the bench all call :func:`run_tests` (or
:func:`run_command` for other commands). See docs/review.md ("How tests run") and
/work/notes/judge-interface.md for the adapter seam other languages plug into.

    sandbox.py      which sandbox this machine has; the bwrap / sandbox-exec command line
    environment.py  the environment without credentials
    process.py      one command, output to a file, the process tree killed at the timeout
    config.py       JudgeConfig: timeout, sandbox mode, the project's interpreter
    adapter.py      the Adapter protocol and registry (pytest built in)
    pytest_adapter.py, pytest_output.py   pytest: expected tests, the plugin's records, trimming
    go_adapter.py, js_adapter.py, expected.py, reports.py   go test, vitest/jest/node:test
    channel.py      the signed channel the verdict comes through (agents/: what loads into
                    each runner)
    reach.py        the static refusal of code that reaches for the judge
    accounting.py   expected tests vs per-test outcomes
    confine.py      change-set confinement: snapshot, compare, restore a worktree
    runner.py       run_tests / run_command
"""

from hybridcode.judge.adapter import Adapter, Invocation, Job, Parsed, adapter_for, register
from hybridcode.judge.config import JudgeConfig
from hybridcode.judge.confine import Snapshot
from hybridcode.judge.environment import clean_environment, is_credential
from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem, TestOutcome, TestRun
from hybridcode.judge.process import ProcessResult, run_process
from hybridcode.judge.runner import run_command, run_tests
from hybridcode.judge.sandbox import Sandbox, detect, require

__all__ = ["Adapter", "CouldNotRun", "ExpectedTest", "Invocation", "Job", "JudgeConfig",
           "Parsed", "Problem", "ProcessResult", "Sandbox", "Snapshot", "TestOutcome", "TestRun",
           "adapter_for", "clean_environment", "detect", "is_credential", "register", "require",
           "run_command", "run_process", "run_tests"]
