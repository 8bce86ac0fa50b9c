"""The seam a language plugs into: :class:`Adapter`, and the registry :func:`adapter_for`.

An adapter knows three things about its test runner, and nothing about sandboxes, timeouts or
environments (the runner owns those):

1. ``expected(worktree, path)``: the tests a file holds, read statically from the file the tool
   wrote (so code under test cannot change what is expected);
2. ``invocation(job)``: the command that runs ``job.paths`` in ``job.worktree`` and writes a
   machine-readable report into ``job.report_dir`` (outside the worktree), plus environment
   variables and read-only paths the command needs;
3. ``parse(job, process)``: the report turned into per-test outcomes (:class:`Parsed`), or
   :class:`CouldNotRun` when the tests never got to run.

Register a new one with :func:`register`; the first registered adapter whose ``handles(path)``
is true runs that file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hybridcode.judge.channel import Records
    from hybridcode.judge.config import JudgeConfig
    from hybridcode.judge.outcome import CouldNotRun, ExpectedTest, Problem, TestOutcome
    from hybridcode.judge.process import ProcessResult

__all__ = ["Adapter", "Invocation", "Job", "Parsed", "adapter_for", "adapters", "register"]


@dataclass(frozen=True)
class Job:
    worktree: Path  # resolved; the command's working directory
    paths: tuple[str, ...]  # worktree-relative test files, all handled by one adapter
    report_dir: Path  # empty, writable, outside the worktree; gone after the run
    config: JudgeConfig
    # What the judge's own component signed during the run (channel.py); set before parse.
    records: Records | None = None


@dataclass
class Invocation:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set on top of the cleaned environment
    readable: list[Path] = field(default_factory=list)  # bound read-only in the sandbox
    readers: int = 1  # processes that take the channel's key (one Go test binary a package)


@dataclass
class Parsed:
    outcomes: list[TestOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # beyond per-test ones (no report)


class Adapter(Protocol):
    name: str

    def handles(self, path: str) -> bool: ...

    def expected(self, worktree: Path, path: str) -> list[ExpectedTest]: ...

    def invocation(self, job: Job) -> Invocation: ...

    def parse(self, job: Job, process: ProcessResult) -> Parsed | CouldNotRun: ...

    def trim(self, output: str) -> str: ...


_REGISTRY: list[Adapter] = []


def _builtins() -> None:
    if not _REGISTRY:
        from hybridcode.judge.go_adapter import GoAdapter
        from hybridcode.judge.js_adapter import JsAdapter
        from hybridcode.judge.pytest_adapter import PytestAdapter

        _REGISTRY.extend([PytestAdapter(), GoAdapter(), JsAdapter()])


def register(adapter: Adapter) -> None:
    """Add a language (once per name; a later registration of a name replaces it)."""
    _builtins()
    for i, known in enumerate(_REGISTRY):
        if known.name == adapter.name:
            _REGISTRY[i] = adapter
            return
    _REGISTRY.append(adapter)


def adapters() -> list[Adapter]:
    _builtins()
    return list(_REGISTRY)


def adapter_for(path: str) -> Adapter | None:
    return next((a for a in adapters() if a.handles(path)), None)
