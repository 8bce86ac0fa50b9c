"""Deterministic checks that run before the reviewer, at zero tokens.

- ``syntax``   every changed source file parses with tree-sitter (content read from the diff's
  new tree, i.e. exactly what is reviewed). A file that already failed to parse before the
  change only warns: grammars lag languages, and the diff did not make it worse.
- ``acceptance-tests``  each spec item's acceptance-test file is present and still holds the
  spec's code: the builder never grades itself with tests it rewrote.
- ``scope``    (plan reviews) every file the diff touches is one a spec item declares (its
  ``file`` or its acceptance tests): anything else is blocking.
- ``reach``    (plan reviews) the lines the diff adds to an item's file reach for nothing the
  item does not ``allow`` — ending the process, signals, subprocesses, writing files, sockets,
  native code, the test framework, ``sys.modules``/builtins (:mod:`hybridcode.judge.reach`).
- ``tests``    the spec's acceptance tests, the changed test files and the tests of the changed
  modules wherever the project keeps them — named after them (``test_<module>.py`` /
  ``<module>_test.py``, ``<module>.test.ts`` / ``<module>.spec.js``), in a folder kept for them
  (``tests/test_<module>/``, ``tests/<module>/``, ``__tests__/<module>/``; jest's
  ``__tests__/<module>.ts``) or, for Go, every ``_test.go`` of a changed package — through the
  judge (:mod:`hybridcode.judge`): in the sandbox, with the project's interpreter
  (``[checks]``, or the repository's ``.venv``), within ``settings.test_timeout_s`` as a hard
  bound. Every test of the acceptance files must run and pass; in the other files failures and
  errors count.
  "could not run: <cause> — <fix>" (no pytest, a module the environment lacks, a collection
  error, a Go module cache without the module's dependencies, a JavaScript runner that is not
  installed) is a result of its own: still blocking, never reported as failing tests, and the
  review's result when nothing else blocks (:attr:`ReviewOutcome.could_not_run`).
- ``lint``     ``settings.lint`` (e.g. ``ruff check``) over the changed source files: ``{files}``
  in the command places them, otherwise they are appended. Skipped, with a note, when unset or
  when the program is not installed.
- ``secrets``  :mod:`hybridcode.secrets` (token shapes, this machine's secret values,
  detect-secrets) over the *added* lines only, plus added files whose name marks them as keys
  or env files. A secret that was already there is not this change's doing. Allow-listed by
  ``# pragma: allowlist secret`` and the repository's ``.secrets.baseline``.

Every failing check is blocking except where noted (syntax of an already-broken file; skipped
checks): a blocking failure decides the review whatever the reviewer says.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridcode.config import Settings
    from hybridcode.judge import JudgeConfig
    from hybridcode.spec import Spec
    from hybridcode.vcs.diff import Diff, FileChange

DEFAULT_TEST_TIMEOUT_S = 120.0
OUTPUT_CHARS = 4000  # trimmed tool output kept for the reviewer and a fix round
MAX_SECRETS_PER_FILE = 20
_TOOL_LINE = re.compile(r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?:\d+:)?\s*(?P<msg>.+)$",
                        re.MULTILINE)


@dataclass
class CheckResult:
    name: str
    ok: bool
    blocking: bool
    summary: str
    findings: list[dict[str, Any]] = field(default_factory=list)  # {file, line, message}
    details: str = ""  # trimmed tool output
    skipped: bool = False
    could_not_run: bool = False  # the tool never got to judge the code (see ``tests``)
    fix: str = ""  # could_not_run: what makes the tests runnable

    @property
    def blocks(self) -> bool:
        return self.blocking and not self.ok

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _finding(file: str, line: int, message: str) -> dict[str, Any]:
    return {"file": file, "line": line, "message": message}


def _trim(text: str, limit: int = OUTPUT_CHARS) -> str:
    """The end of the output, where test runners and linters put their summaries."""
    return text if len(text) <= limit else "[… trimmed …]\n" + text[-limit:]


def _present(files: list[FileChange]) -> list[FileChange]:
    return [f for f in files if f.status != "deleted"]


# ---------------------------------------------------------------------------- syntax

def check_syntax_of(directory: Path, diff: Diff) -> CheckResult:
    from hybridcode.context.languages import language_for_path
    from hybridcode.context.symbols import first_error, parse
    from hybridcode.vcs.diff import read_blob

    findings, warnings, checked = [], [], 0
    for change in _present(diff.files):
        language = language_for_path(change.path)
        if language is None or change.binary:
            continue
        checked += 1
        data = read_blob(directory, diff.new_tree, change.path)
        node = first_error(parse(data, language).root_node)
        if node is None:
            continue
        line = node.start_point.row + 1
        message = f"{'missing ' + node.type if node.is_missing else 'syntax error'} ({language})"
        before = change.old_path or change.path
        was_broken = False
        if change.status != "added" and diff.old_tree:
            old = read_blob(directory, diff.old_tree, before)
            was_broken = first_error(parse(old, language).root_node) is not None
        (warnings if was_broken else findings).append(_finding(change.path, line, message))
    if findings:
        first = findings[0]
        return CheckResult("syntax", False, True, f"{first['file']}:{first['line']}: "
                           f"{first['message']}", findings + warnings)
    if warnings:
        return CheckResult("syntax", True, False, f"{len(warnings)} file(s) already failed to "
                           "parse before this change", warnings)
    return CheckResult("syntax", True, True, f"{checked} source file(s) parse")


# ---------------------------------------------------------------------------- tests

def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def check_acceptance_tests(directory: Path, spec: Spec) -> CheckResult:
    """Each item's tests are in its test file as the spec wrote them (whitespace aside; items
    sharing a path share the file, each item's code somewhere in it)."""
    findings = []
    for item in spec.items:
        from hybridcode.spec.examples import acceptance_code

        path = item.test_path
        code = acceptance_code(item)
        if path is None or code is None:
            continue
        target = directory / path
        if not target.is_file():
            findings.append(_finding(path, 0, f"acceptance tests of item {item.id} are missing"))
        elif _normal(code) not in \
                _normal(target.read_text(encoding="utf-8", errors="replace")):
            findings.append(_finding(path, 0, f"acceptance tests of item {item.id} differ "
                                     "from the spec"))
    if findings:
        return CheckResult("acceptance-tests", False, True, findings[0]["message"], findings)
    return CheckResult("acceptance-tests", True, True, "acceptance tests match the spec")


def select_tests(directory: Path, diff: Diff, spec: Spec | None) -> list[str]:
    """Acceptance tests, changed test files, and the tests of the changed modules wherever the
    project keeps them (:func:`hybridcode.judge.detect.tests_for_changes`: named after the
    module, in a folder kept for it, or — Go — in the changed package)."""
    from hybridcode.judge import adapter_for
    from hybridcode.judge.detect import is_test_file, tests_for_changes
    from hybridcode.vcs import repo as gitrepo

    chosen: list[str] = []
    if spec is not None:
        chosen += [p for p in (i.test_path for i in spec.items) if p and adapter_for(p)]
    chosen += [f.path for f in _present(diff.files) if is_test_file(f.path, directory)]
    changed = [f.path for f in diff.files if not is_test_file(f.path, directory)]
    if changed:
        chosen += tests_for_changes(changed, gitrepo.visible_files(directory), directory)
    seen: set[str] = set()
    return [p for p in chosen if (directory / p).is_file() and not (p in seen or seen.add(p))]


def run_tests(directory: Path, paths: list[str], config: JudgeConfig,
              strict: list[str] | None = None) -> CheckResult:
    """``paths`` through the judge; ``strict`` (the acceptance tests) must pass test by test."""
    from hybridcode.judge import run_tests as judge_tests

    if not paths:
        return CheckResult("tests", True, False, "no tests found for the changed files",
                           skipped=True)
    run = judge_tests(directory, paths, config, strict=[p for p in (strict or []) if p in paths])
    off = " (no sandbox: [sandbox] mode = \"off\")" if run.sandbox == "off" else ""
    if run.could_not_run:
        return CheckResult("tests", False, True, run.cause() + off, [], _trim(run.output),
                           could_not_run=True, fix=run.fix)
    if run.ok:
        return CheckResult("tests", True, True, f"{len(paths)} test file(s): {run.summary}{off}",
                           details=_trim(run.output))
    findings = [_finding(p.test.split("::", 1)[0], 0, f"{p.test.split('::', 1)[-1]}: {p.why}")
                for p in run.problems]
    summary = run.summary if run.timed_out else f"{len(run.problems)} test problem(s): " \
        f"{run.problems[0].line() if run.problems else run.summary}"
    return CheckResult("tests", False, True, summary + off, findings, _trim(run.output))


def check_scope(diff: Diff, spec: Spec) -> CheckResult:
    """Every file the diff touches is declared by a spec item (its file or its tests)."""
    declared = {item.file for item in spec.items}
    declared |= {item.test_path for item in spec.items if item.test_path}
    findings = []
    for change in diff.files:
        for path in filter(None, {change.path, change.old_path}):
            if path not in declared:
                findings.append(_finding(path, 0, f"{change.status} {path}, which no spec "
                                         "item declares"))
    if findings:
        return CheckResult("scope", False, True, f"{findings[0]['message']} (and "
                           f"{len(findings) - 1} more)" if len(findings) > 1 else
                           findings[0]["message"], findings)
    return CheckResult("scope", True, True, "every changed file is declared by a spec item")


def check_reach(directory: Path, diff: Diff, spec: Spec) -> CheckResult:
    """The lines this diff adds to a spec item's file reach for nothing the item does not
    ``allow`` (ending the process, writing files, the test framework… — judge/reach.py): the
    same refusal implement applies to a model's answer, so code placed another way (by hand,
    by a fix round) is held to it too."""
    from hybridcode.context.languages import language_for_path
    from hybridcode.judge.reach import describe, reach

    allowed: dict[str, set[str]] = {}
    for item in spec.items:
        if item.is_code and item.kind != "test":
            allowed.setdefault(item.file, set()).update(item.allow)
    findings = []
    for change in _present(diff.files):
        if change.path not in allowed or not (directory / change.path).is_file():
            continue
        added = {number for number, _ in change.added}
        text = (directory / change.path).read_text(encoding="utf-8", errors="replace")
        found = [f for f in reach(text, [], language_for_path(change.path),
                                  sorted(allowed[change.path])) if f.line in added]
        if found:
            findings += [_finding(change.path, f.line, describe([f], change.path))
                         for f in found]
    if findings:
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return CheckResult("reach", False, True, first["message"] + more, findings)
    return CheckResult("reach", True, True, "the added code reaches for nothing its items do "
                       "not allow (process, files, network, native, test framework, runtime)")


# ---------------------------------------------------------------------------- lint

def run_lint(directory: Path, diff: Diff, command: str | None, config: JudgeConfig
             ) -> CheckResult:
    from hybridcode.context.languages import language_for_path

    if not command or not command.strip():
        return CheckResult("lint", True, False, "no lint command configured (set `lint`, "
                           "e.g. \"ruff check\")", skipped=True)
    try:
        args = shlex.split(command)
    except ValueError as exc:
        return CheckResult("lint", False, True, f"the lint command does not parse: {exc}")
    if shutil.which(args[0]) is None:
        return CheckResult("lint", True, False, f"{args[0]} is not installed; lint skipped",
                           skipped=True)
    files = [f.path for f in _present(diff.files)
             if not f.binary and language_for_path(f.path) and (directory / f.path).is_file()]
    if not files:
        return CheckResult("lint", True, False, "no changed source files to lint", skipped=True)
    if "{files}" in args:
        at = args.index("{files}")
        args = [*args[:at], *files, *args[at + 1:]]
    else:
        args = [*args, *files]
    from hybridcode.judge import run_command

    # The tool and any file its command names (a config, a script) stay readable.
    named = [Path(a) for a in args if a.startswith("/") and Path(a).exists()]
    result = run_command(args, worktree=directory, config=replace(config, python=args[0]),
                         readable=named)
    code, output = result.returncode, result.output or result.error
    if code == 0:
        return CheckResult("lint", True, True, f"{args[0]}: {len(files)} file(s) clean")
    findings = [_finding(m.group("file"), int(m.group("line")), m.group("msg").strip())
                for m in _TOOL_LINE.finditer(output)]
    summary = (f"{args[0]} did not finish within {config.timeout_s:g} s" if code is None else
               f"{args[0]}: {len(findings) or 'some'} problem(s)")
    return CheckResult("lint", False, True, summary, findings, _trim(output))


# ---------------------------------------------------------------------------- secrets

_NOT_A_SECRET = (
    "Not a secret (a test string, an example)? End its line with `# pragma: allowlist secret`, "
    "or accept it in .secrets.baseline: `detect-secrets scan > .secrets.baseline` lists what "
    "detect-secrets finds; for what only hybrid finds (a token shape, a file that is not "
    "UTF-8) add `--exclude-lines REGEX` or `--exclude-files REGEX` to that scan. See "
    "docs/secrets.md.")


def scan_added_lines(diff: Diff, directory: Path | None = None) -> CheckResult:
    """The blocking scan: :mod:`hybridcode.secrets`' nets over the lines this diff adds.

    Only added lines: the block is about what this change commits. A secret already in an
    unchanged line is not this change's doing (and never reaches the reviewer: the door
    replaces it in the diff's context lines before the request leaves). Allow-listed for every
    net, as detect-secrets' own hook does it: ``# pragma: allowlist secret`` on the line, and
    what ``directory``'s ``.secrets.baseline`` accepts (its secrets and exclude patterns; see
    :meth:`hybridcode.secrets.Allowlist.review`).
    """
    from hybridcode.context.files import name_reason
    from hybridcode.secrets import (BASELINE, Allowlist, find_secrets, known_values,
                                    secret_scanning)

    allowlist = Allowlist.load(directory)
    values = known_values()
    findings, accepted = [], 0
    with secret_scanning():
        for change in _present(diff.files):
            if change.path == BASELINE:
                continue  # its hashed secrets are hex strings, not secrets
            if change.status in ("added", "renamed"):
                reason = name_reason(change.path)
                if reason is not None:
                    findings.append(_finding(change.path, 0, f"{reason} added to the "
                                             "repository"))
            lines = change.added
            if not lines:
                continue
            shown = 0
            texts = [text for _, text in lines]
            kept, known = allowlist.review(
                change.path, texts, find_secrets(change.path, "\n".join(texts), values=values))
            accepted += len(known)
            for found in kept:
                findings.append(_finding(change.path, lines[found.line - 1][0],
                                         f"secret: {found.kind}"))
                shown += 1
                if shown >= MAX_SECRETS_PER_FILE:
                    break
    if findings:
        first = findings[0]
        return CheckResult("secrets", False, True, f"{first['message']} at "
                           f"{first['file']}:{first['line']}", findings, _NOT_A_SECRET)
    known = f" ({accepted} known to {BASELINE})" if accepted else ""
    return CheckResult("secrets", True, True, f"no secrets in the added lines{known}")


# ---------------------------------------------------------------------------- all

def run_checks(directory: Path, diff: Diff, spec: Spec | None = None,
               settings: Settings | None = None, root: Path | None = None) -> list[CheckResult]:
    """All checks for ``diff``, run in ``directory`` (a plan's worktree or the repository;
    ``root``, the repository, finds the project's ``.venv``)."""
    from hybridcode.judge import JudgeConfig

    directory = Path(directory)
    config = JudgeConfig.from_settings(settings, root or directory,
                                       timeout_s=None if settings else DEFAULT_TEST_TIMEOUT_S)
    results = [check_syntax_of(directory, diff)]
    if spec is not None:
        results.append(check_acceptance_tests(directory, spec))
        results.append(check_scope(diff, spec))
        results.append(check_reach(directory, diff, spec))
    acceptance = [i.test_path for i in spec.items if i.test_path] if spec is not None else []
    chosen = select_tests(directory, diff, spec)
    not_run = _tests_not_run(directory, diff, chosen)
    results.append(_with_not_run(run_tests(directory, [p for p in chosen if p not in not_run],
                                           config, strict=acceptance), not_run))
    results.append(run_lint(directory, diff, settings.lint if settings else None, config))
    results.append(scan_added_lines(diff, directory))
    return results


def _tests_not_run(directory: Path, diff: Diff, chosen: list[str]) -> dict[str, str]:
    from hybridcode.judge.detect import JS_SUFFIXES, tests_not_run
    from hybridcode.vcs import repo as gitrepo

    changed = [f.path for f in _present(diff.files)]
    if not any(PurePosixPath(p).suffix.lower() in JS_SUFFIXES for p in changed + chosen):
        return {}
    return tests_not_run(directory, changed, chosen, gitrepo.visible_files(directory))


def _with_not_run(result: CheckResult, not_run: dict[str, str]) -> CheckResult:
    """The tests check, naming the project tests hybrid does not run (mocha, ava) — never
    skipped in silence."""
    if not not_run:
        return result
    runners = sorted(set(not_run.values()))
    shown = ", ".join(list(not_run)[:3]) + (f" and {len(not_run) - 3} more"
                                            if len(not_run) > 3 else "")
    note = (f"not run by hybrid: {len(not_run)} {'/'.join(runners)} test file(s) ({shown}) — "
            "hybrid runs pytest, go test, vitest, jest and node's runner; run them in your "
            "own CI step")
    if result.skipped:
        return replace(result, summary=note)
    return replace(result, summary=f"{result.summary}; {note}")


def blocking_failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.blocks]
