"""Deterministic acceptance of one item: its file's syntax, its tests, then the tests of the
items already accepted — and the failure text trimmed to what a model can act on.

Stages (``Verification.stage`` names the one that failed, or ``ok``):

- ``syntax``: Python files are compiled by the interpreter that will run the tests (tree-sitter
  grammars lag new syntax, and CPython is the judge that matters); other languages are checked
  with ``placement.check_syntax``. Files without a grammar (docs, config) are not checked.
- ``tests``: the item's acceptance tests with pytest, in the worktree, with a timeout.
- ``related``: the acceptance tests of ``passed_items``, in one pytest run, so an item that
  breaks earlier work is caught where it happens.

Python tests run with pytest here; Go, JavaScript and TypeScript tests run through the judge
(:mod:`hybridcode.judge`: go test, vitest, jest or node --test, after go vet / tsc --noEmit).
Tests in another language are left to the review stage, and the output says so.
The timeout applies to each pytest run.

Tests import the worktree's code, not the user's: the worktree (and its ``src/``) come first on
``PYTHONPATH``, ahead of any editable install; ``--rootdir``/``--confcutdir`` stop pytest from
loading a ``conftest.py`` of the user's checkout above the worktree; keys and hybrid settings
are removed from the environment so tests cannot reach paid services.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hybridcode.context.languages import language_for_path
from hybridcode.context.placement import check_syntax
from hybridcode.errors import PlacementError
from hybridcode.judge import JudgeConfig, adapter_for, run_tests
from hybridcode.spec import Spec, SpecItem

__all__ = ["Verification", "pytest_command", "pytest_env", "trim_output", "verify_item"]

_SECRET_PREFIXES = ("HYBRID_", "ANTHROPIC_", "OPENAI_", "OLLAMA_")


@dataclass
class Verification:
    ok: bool
    stage: str  # syntax | tests | related | ok
    output: str
    duration_ms: int


def verify_item(worktree: Path, item: SpecItem, spec: Spec, passed_items: list[str],
                timeout_s: float) -> Verification:
    started = time.monotonic()

    def result(ok: bool, stage: str, output: str) -> Verification:
        return Verification(ok, stage, output, int((time.monotonic() - started) * 1000))

    worktree = Path(worktree)
    problem = syntax_problem(worktree, item.file)
    if problem:
        return result(False, "syntax", problem)
    outputs: list[str] = []
    own = item.test_path if item.tests is not None else None
    if own is not None and own.endswith(".py"):
        ok, output = _pytest(worktree, [own], timeout_s)
        if not ok:
            return result(False, "tests", output)
        outputs.append(output)
    elif own is not None and adapter_for(own) is not None:
        # Go, JavaScript, TypeScript: through the judge (the branch `judge` moves pytest there too).
        last = run_tests(worktree, [own], JudgeConfig.from_settings(None, worktree,
                                                                    timeout_s=timeout_s))
        if not last.ok:
            return result(False, "tests", (f"tests could not run: {last.summary}"
                                           if last.could_not_run else last.feedback()))
        outputs.append(last.summary)
    elif own is not None:
        outputs.append(f"{own}: not run (no test runner for this language; the review sees "
                       "them)")
    related: list[str] = []
    for item_id in passed_items:
        try:
            other = spec.item(item_id)
        except KeyError:
            continue
        path = other.test_path if other.tests is not None else None
        if path and path.endswith(".py") and path != own and path not in related \
                and (worktree / path).is_file():
            related.append(path)
    if related:
        ok, output = _pytest(worktree, related, timeout_s)
        if not ok:
            return result(False, "related", "tests of items that passed before now fail:\n"
                          + output)
        outputs.append(output)
    return result(True, "ok", "\n".join(outputs) or "syntax ok; the item has no tests")


def syntax_problem(worktree: Path, file: str) -> str | None:
    """Why ``file`` does not parse, with its line; None when it does (or has no grammar)."""
    path = Path(worktree) / file
    if not path.is_file():
        return f"{file} does not exist in the worktree"
    language = language_for_path(file)
    data = path.read_bytes()
    if language == "python":
        try:
            compile(data, file, "exec", dont_inherit=True)
        except SyntaxError as exc:
            excerpt = (exc.text or "").strip()[:80]
            return f"{file} line {exc.lineno}: {exc.msg}" + (f": {excerpt}" if excerpt else "")
        except ValueError as exc:  # null bytes
            return f"{file}: {exc}"
        return None
    if language is None:
        return None
    try:
        check_syntax(data.decode("utf-8", "surrogateescape"), language)
    except PlacementError as exc:
        return f"{file}: {exc.message}"
    return None


# --- running pytest -----------------------------------------------------------------------------

def pytest_command(worktree: Path, paths: list[str]) -> list[str]:
    root = str(Path(worktree).resolve())
    return [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
            f"--rootdir={root}", f"--confcutdir={root}", *paths]


def pytest_env(worktree: Path) -> dict[str, str]:
    root = Path(worktree).resolve()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SECRET_PREFIXES) and k != "PYTEST_CURRENT_TEST"}
    paths = [str(root)] + ([str(root / "src")] if (root / "src").is_dir() else [])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ folders in the reviewed tree
    return env


def _pytest(worktree: Path, paths: list[str], timeout_s: float) -> tuple[bool, str]:
    missing = [p for p in paths if not (worktree / p).is_file()]
    if missing:
        return False, (f"acceptance tests {missing[0]} are missing from the worktree "
                       "(they are written by the tool before verification)")
    proc = subprocess.Popen(pytest_command(worktree, paths), cwd=worktree,
                            env=pytest_env(worktree),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=os.name == "posix")
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, _ = proc.communicate()
        partial = trim_output(out.decode("utf-8", "replace"), 1500)
        return False, f"tests timed out after {timeout_s:g}s (an endless loop or a blocking " \
            f"call?)" + (f"\n{partial}" if partial.strip() else "")
    text = out.decode("utf-8", "replace")
    if "No module named pytest" in text:
        return False, (f"pytest is not installed for {sys.executable}: install it there "
                       "(pip install pytest) so hybrid can run the acceptance tests")
    if proc.returncode == 5:
        return False, f"no tests ran in {', '.join(paths)}\n" + trim_output(text)
    return proc.returncode == 0, trim_output(text)


def _kill(proc: subprocess.Popen) -> None:
    # The whole process group: pytest may have started servers or subprocesses of its own.
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        proc.kill()


# --- trimming -----------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SECTION = re.compile(r"^={3,} ?(.*?) ?={3,}$")
_BLOCK = re.compile(r"^_{3,} (.+?) _{3,}$")
_FRAME_SEP = re.compile(r"^(?:_ ){3,}_?$")
_PROGRESS = re.compile(r"^[.FEsxXp]+\s*(\[\s*\d+%\])?\s*$")
_FINAL = re.compile(r"^=*\s*(?:\d+ (?:failed|passed|errors?|skipped|xfailed|xpassed|warnings?"
                    r"|deselected)|no tests ran)\b.*$")
_KEEP_SECTIONS = ("FAILURES", "ERRORS", "short test summary info")


def trim_output(text: str, limit: int = 4000) -> str:
    """pytest output cut to what explains a failure: the failure sections (assertion lines,
    the failing line, the last traceback frame), the short summary and the final count —
    without the session header, progress dots, passing noise and warnings."""
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    lines = text.rstrip("\n").split("\n")
    sections: list[tuple[str, list[str]]] = []
    loose: list[str] = []
    final = ""
    current: list[str] | None = None
    for line in lines:
        header = _SECTION.match(line)
        if _FINAL.match(line.strip()):
            final = line.strip().strip("= ")
            current = None
        elif header:
            title = header.group(1).strip()
            current = [] if any(k in title for k in _KEEP_SECTIONS) else None
            if current is not None:
                sections.append((title, current))
        elif current is not None:
            current.append(line)
        elif not sections and not _PROGRESS.match(line.strip()):
            loose.append(line)
    if not sections and not final:
        return _cap(_from_last_traceback(lines), limit)
    parts = [f"== {title} ==\n" + "\n".join(body).strip("\n") for title, body in sections]
    # Text before any section that is not pytest's own header: a collection crash, a print.
    stray = [ln for ln in loose if ln.strip() and not ln.startswith(
        ("platform ", "rootdir:", "configfile:", "plugins:", "collected ", "cachedir:"))]
    result = "\n".join(([_cap("\n".join(stray), limit // 4)] if stray else []) + parts
                       + ([final] if final else []))
    if len(result) <= limit:
        return result
    compact = [f"== {title} ==\n" + "\n".join(_compress(body)) for title, body in sections]
    result = "\n".join(compact + ([final] if final else []))
    return _cap(result, limit, keep_tail=final)


def _compress(body: list[str]) -> list[str]:
    """Per failing test: its header, the ``>``/``E`` lines of each frame, the last frame whole
    (capped), and location lines; captured output only by its last lines."""
    blocks: list[list[str]] = []
    for line in body:
        if _BLOCK.match(line) or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    out: list[str] = []
    for block in blocks:
        frames: list[list[str]] = [[]]
        captured: list[str] = []
        for line in block[1:]:
            if line.startswith("-" * 3) and "Captured" in line:
                captured = [line]
            elif captured:
                captured.append(line)
            elif _FRAME_SEP.match(line.strip()):
                frames.append([])
            else:
                frames[-1].append(line)
        out.append(block[0])
        for frame in frames[:-1]:
            out += [ln for ln in frame if ln.startswith((">", "E ")) or re.match(r"^\S+:\d+: ", ln)]
        last = frames[-1]
        out += last if len(last) <= 40 else last[:5] + ["    ..."] + last[-30:]
        if captured:
            out += captured[:1] + captured[1:][-10:]
    return out


def _from_last_traceback(lines: list[str]) -> str:
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call")]
    return "\n".join(lines[starts[-1]:] if starts else lines).strip("\n")


def _cap(text: str, limit: int, keep_tail: str = "") -> str:
    if len(text) <= limit:
        return text
    marker = "\n… ({} characters left out) …\n"
    tail_size = max(limit // 3, len(keep_tail) + 1)
    head_size = max(limit - tail_size - len(marker) - 8, 0)
    cut = len(text) - head_size - tail_size
    return text[:head_size] + marker.format(cut) + text[-tail_size:]
