"""The pre-commit gate: generated code is committed only as an approved, unchanged diff.

``hybrid hook run`` calls :func:`hook_check` on every ``git commit``, so the answer must come in
well under 0.3 s. On that path this module uses only the standard library, plain ``git``
subprocesses and the diff module: no pydantic settings (~270 ms to import), no model SDKs, no
tree-sitter. It reads the few things it needs directly:

- plan folders (``.hybrid/plans/*/meta.json`` and ``spec.json``) and each active plan's
  worktree status, to know which paths hold generated code not yet committed;
- the ``generated_paths`` globs from the same config files :mod:`hybridcode.config` reads;
- the signed approval of the staged diff (``.hybrid/attestations/<sha256>.json``), verified
  with ``ssh-keygen`` against the allowed signers — a ledger row proves nothing;
- HEAD's trailers: while HEAD is a generated commit (or the merge of one), a change to its
  files — ``git commit --amend`` included — needs a signed approval of the new diff.

A hook runs in whichever worktree is committing — the user's tree, or a plan worktree during
``hybrid commit`` — so the project root (where ``.hybrid/`` lives) is found through git's common
directory, not the current top level.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcode.errors import GitError, UsageError
from hybridcode.vcs.commits import git, isolated_env

if TYPE_CHECKING:
    from hybridcode.vcs.diff import Diff

# Config key (top level of [tool.hybrid] / .hybrid/config.toml): globs of generated code the
# gate guards besides plan worktrees. :class:`hybridcode.config.Settings` validates it.
GENERATED_PATHS_KEY = "generated_paths"

HOOK_MARKER = "# hybridcode pre-commit gate"
CHAINED_HOOK = "pre-commit.local"

# A plan in this state has nothing left uncommitted in its worktree.
_DONE_STATUSES = frozenset({"committed"})


@dataclass
class HookResult:
    ok: bool
    message: str
    reason: str  # nothing-staged / no-generated-code / approved / blocked
    diff_sha256: str | None = None
    plans: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    reviewer_model: str | None = None


# ---------------------------------------------------------------------- locating things

def project_roots(cwd: Path) -> tuple[Path, Path]:
    """(top level of the worktree being committed, project root holding ``.hybrid/``)."""
    out = git(cwd, "rev-parse", "--show-toplevel", "--git-common-dir").splitlines()
    if len(out) < 2:
        raise GitError(f"{cwd}: not inside a git working tree",
                       "run the hook from a repository with a working tree")
    top = Path(out[0])
    common = Path(out[1])
    if not common.is_absolute():
        common = (Path(cwd) / common).resolve()
    # A non-bare repository's common dir is <root>/.git; anything else (GIT_DIR elsewhere)
    # has no project folder beside it, so the worktree's own top level serves.
    main = common.parent if common.name == ".git" else top
    return top, main


def _read_toml(path: Path) -> dict:
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}",
                         "fix the file; `hybrid doctor` reports what it reads") from exc


def _user_config() -> Path:
    # Mirrors hybridcode.config.user_config_path, which cannot be imported here cheaply.
    explicit = os.environ.get("HYBRID_USER_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hybridcode" / "config.toml"


def _config_layers(main_root: Path) -> list[tuple[str, dict]]:
    """(source, table) for the user file, ``[tool.hybrid]`` and ``.hybrid/config.toml``, in
    :func:`hybridcode.config.load_settings`'s order of precedence (a later one wins). Read
    directly because building the settings model would cost the hook its whole time budget."""
    pyproject = _read_toml(main_root / "pyproject.toml").get("tool", {}).get("hybrid", {})
    return [
        (str(_user_config()), _read_toml(_user_config())),
        (f"{main_root / 'pyproject.toml'} [tool.hybrid]", pyproject),
        (str(main_root / ".hybrid" / "config.toml"),
         _read_toml(main_root / ".hybrid" / "config.toml")),
    ]


def _replays(layers: list[tuple[str, dict]]) -> bool:
    """Whether every tier is served from recordings (``replay.path`` or ``HYBRID_REPLAY``)."""
    if os.environ.get("HYBRID_REPLAY"):
        return True
    found = _setting(layers, "replay")
    return bool(found and isinstance(found[0], dict) and found[0].get("path"))


def _setting(layers: list[tuple[str, dict]], key: str) -> tuple[object, str] | None:
    found = None
    for source, table in layers:
        if isinstance(table, dict) and key in table:
            found = (table[key], source)
    return found


def generated_globs(main_root: Path, layers: list[tuple[str, dict]] | None = None) -> list[str]:
    """The ``generated_paths`` globs configured for the project (empty when none)."""
    found = _setting(layers if layers is not None else _config_layers(main_root),
                     GENERATED_PATHS_KEY)
    if found is None:
        return []
    value, source = found
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"invalid setting {GENERATED_PATHS_KEY} from {source}: must be a list "
                         "of glob strings", 'e.g. generated_paths = ["src/generated/**"]')
    return list(value)


@dataclass
class _ChecklistSetting:
    """The one setting :func:`hybridcode.review.checklist.checklist_version` reads."""

    checklist: Path | None


def current_checklist_version(main_root: Path, layers: list[tuple[str, dict]]) -> str:
    from hybridcode.review.checklist import checklist_version

    found = _setting(layers, "checklist")
    path = Path(str(found[0])) if found is not None and found[0] else None
    return checklist_version(main_root, _ChecklistSetting(path))  # type: ignore[arg-type]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repository-relative glob: ``*`` and ``?`` stay within a folder, ``**`` crosses folders,
    and a pattern without a slash matches a file name in any folder (as in .gitignore)."""
    pattern = pattern.strip().lstrip("/")
    anchored = "/" in pattern
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    # A folder pattern ("gen/") or a folder name also covers everything below it.
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{body.rstrip('/')}(?:/.*)?$")


def _status_paths(worktree: Path) -> set[str]:
    out = git(worktree, "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames",
              env=isolated_env())
    return {entry[3:] for entry in out.split("\0") if len(entry) > 3}


def _spec_paths(plan_dir: Path) -> set[str]:
    try:
        spec = json.loads((plan_dir / "spec.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    paths: set[str] = set()
    for item in spec.get("items") or []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("file"), str):
            paths.add(item["file"])
        tests = item.get("tests")
        if isinstance(tests, dict) and isinstance(tests.get("path"), str):
            paths.add(tests["path"])
    return paths


def active_plan_paths(main_root: Path) -> dict[str, set[str]]:
    """Paths holding generated code not yet committed, per plan: the files its spec targets and
    whatever its worktree has changed (modified, added or untracked)."""
    plans = main_root / ".hybrid" / "plans"
    found: dict[str, set[str]] = {}
    if not plans.is_dir():
        return found
    for plan_dir in sorted(plans.iterdir()):
        try:
            meta = json.loads((plan_dir / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("status") in _DONE_STATUSES:
            continue
        paths = _spec_paths(plan_dir)
        worktree = main_root / ".hybrid" / "worktrees" / plan_dir.name
        if (worktree / ".git").exists():
            paths |= _status_paths(worktree)
        if paths:
            found[plan_dir.name] = paths
    return found


def _staged_paths(top: Path) -> list[str]:
    out = git(top, "diff", "--cached", "--name-only", "-z", "--no-renames")
    return [p for p in out.split("\0") if p]


# ---------------------------------------------------------------------- approvals

def allowed_signers_path(main_root: Path, layers: list[tuple[str, dict]]) -> Path:
    """``[approvals] allowed_signers`` (default ``.hybrid/allowed_signers``), from the root."""
    from hybridcode.review.attestation import ALLOWED_SIGNERS

    found = _setting(layers, "approvals")
    table = found[0] if found is not None and isinstance(found[0], dict) else {}
    return main_root / str(table.get("allowed_signers") or ALLOWED_SIGNERS)


def signed_approval(main_root: Path, diff: Diff, version: str,
                    signers: Path) -> tuple[str | None, str]:
    """(principal, "") when a signed approval of exactly ``diff`` verifies; else (None, why).
    A ledger row is never enough: only a signature an allowed key made counts."""
    from hybridcode.errors import HybridError
    from hybridcode.review.attestation import (
        AllowedSigners,
        load_attestation,
        statement_problem,
    )

    attestation = load_attestation(main_root, diff.sha256)
    if attestation is None:
        return None, ""
    problem = statement_problem(attestation.statement, diff_sha256=diff.sha256,
                                checklist_version=version,
                                files=[f.path for f in diff.files])
    if problem:
        return None, problem
    try:
        with AllowedSigners.from_file(signers) as trust:
            check = trust.verify(attestation.statement, attestation.signature)
    except HybridError as exc:
        return None, exc.message
    return (check.principal, "") if check.ok else (None, check.reason)


def plan_of_worktree(top: Path, main_root: Path) -> str | None:
    """The plan whose worktree ``top`` is, or None (the user's own tree)."""
    worktrees = (main_root / ".hybrid" / "worktrees").resolve()
    top = Path(top).resolve()
    return top.name if top.parent == worktrees else None


@dataclass
class GeneratedHead:
    """HEAD is a generated commit (or a merge of one): committing on it, or amending it, changes
    generated code that a signed approval covers."""

    plans: list[str]
    paths: set[str]
    amend_base: str | None  # what ``git commit --amend`` would diff against (HEAD's parent)


def generated_head(top: Path) -> GeneratedHead | None:
    from hybridcode.review.attestation import Statement
    from hybridcode.vcs.commits import TRAILER_ATTESTATION, head_claims

    parents, claims = head_claims(top)
    source = "HEAD"
    if not claims and len(parents) > 1:
        _, claims = head_claims(top, parents[1])
        source = parents[1]
    if not claims:
        return None
    out = git(top, "diff-tree", "-r", "--no-commit-id", "--name-only", "-z", "--no-renames",
              "--root", source, env=isolated_env())
    paths = {p for p in out.split("\0") if p}
    for claim in claims:
        try:
            paths |= set(Statement.decode(claim.trailers.get(TRAILER_ATTESTATION, "")
                                          ).declared_files)
        except ValueError:
            pass
    return GeneratedHead(sorted({c.plan_id for c in claims}), paths,
                         parents[0] if parents else None)


# ---------------------------------------------------------------------- the check

def hook_check(root: Path | str = ".") -> HookResult:
    """Allow the commit unless generated code is staged without a signed approval of this
    exact diff that verifies against the allowed signers."""
    top, main_root = project_roots(Path(root))
    staged = _staged_paths(top)
    if not staged:
        return HookResult(True, "nothing staged", "nothing-staged")

    per_plan = active_plan_paths(main_root)
    hits_by_plan = {pid: sorted(paths.intersection(staged)) for pid, paths in per_plan.items()}
    plans = sorted(pid for pid, hits in hits_by_plan.items() if hits)
    guarded = {p for hits in hits_by_plan.values() for p in hits}
    layers = _config_layers(main_root)
    globs = [glob_regex(g) for g in generated_globs(main_root, layers)]
    guarded |= {p for p in staged if any(g.match(p) for g in globs)}
    here = plan_of_worktree(top, main_root)
    if here is not None:
        # Whatever is committed in a plan's worktree is generated code, whether or not the
        # plan is marked committed (a `git reset --soft HEAD^` and a new commit included).
        guarded |= set(staged)
        plans = sorted(set(plans) | {here})
    head = generated_head(top)
    amend_base = None
    if head is not None and head.paths.intersection(staged):
        guarded |= head.paths.intersection(staged)
        plans = sorted(set(plans) | set(head.plans))
        amend_base = head.amend_base or ""
    if not guarded:
        return HookResult(True, "no generated code staged", "no-generated-code")

    from hybridcode.vcs.diff import staged_diff

    diff = staged_diff(top)
    candidates = [diff]
    if amend_base:
        # An amend records HEAD's parent → index, a new commit HEAD → index; the hook cannot
        # tell which is under way, so a signed approval of either diff lets it through.
        candidates.append(staged_diff(top, amend_base))
    version = current_checklist_version(main_root, layers)
    signers = allowed_signers_path(main_root, layers)
    reasons = []
    for candidate in candidates:
        principal, why = signed_approval(main_root, candidate, version, signers)
        if principal is not None:
            model = _reviewer(main_root, candidate.sha256)
            return HookResult(True, f"approved diff {candidate.sha256[:12]} (reviewed by "
                              f"{model}, signed by {principal})", "approved", candidate.sha256,
                              plans, sorted(guarded), model)
        if why:
            reasons.append(why)
    paths = sorted(guarded)
    sha = diff.sha256
    origin = f"plan {', '.join(plans)}" if plans else "the configured generated_paths"
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    why = f"; {reasons[0]}" if reasons else ""
    if amend_base is not None:
        message = (
            f"the staged change alters generated code that {origin} committed ({shown}) "
            f"without a signed approval of the new diff (sha256 {sha[:12]}{why}); to amend "
            "it, undo the commit with `git reset --soft HEAD^`, review the whole change with "
            "`hybrid review --staged` and commit again; `git commit --no-verify` skips this "
            "check")
    else:
        if _replays(layers):
            # Recorded answers (hybrid demo's repository) cannot review a diff nobody recorded:
            # `hybrid review --staged` would only end in "no recorded response".
            advice = ("this repository's models are recorded samples ([replay] in its config), "
                      "which cannot review a new diff: remove [replay] from .hybrid/config.toml "
                      "to use your own models, then run `hybrid review --staged`")
        else:
            advice = ("run `hybrid review --staged` to review it, or `hybrid commit <plan>` for "
                      "a plan's worktree")
        message = (
            f"generated code from {origin} is staged without a signed approval of this exact "
            f"diff (sha256 {sha[:12]}{why}; {shown}); {advice}; `git commit --no-verify` "
            "skips this check")
    return HookResult(False, message, "blocked", sha, plans, paths)


def _reviewer(main_root: Path, sha: str) -> str:
    from hybridcode.review.attestation import load_attestation

    attestation = load_attestation(main_root, sha)
    model = attestation.statement.reviewer_model if attestation is not None else ""
    return model or "deterministic checks"


# ---------------------------------------------------------------------- installation

def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks here: ``core.hooksPath`` when set, else ``.git/hooks``."""
    rel = git(root, "rev-parse", "--git-path", "hooks").strip()
    path = Path(rel)
    return path if path.is_absolute() else (Path(root) / path)


def hook_script(python: str | None = None) -> str:
    """The shell script git runs: the chained hook first, then the gate.

    The gate runs as ``python -m hybridcode.review.hook`` with the interpreter hybridcode was
    installed in when that still exists: it skips the CLI framework's start-up (typer builds
    pydantic adapters for every command, ~190 ms) and works where ``hybrid`` is not on PATH
    (GUI git clients). If that environment is gone: ``hybrid hook run``, then ``python3``.
    (Re-run ``hybrid hook install`` after moving or rebuilding the environment.)
    """
    python = _sh_quote(python or sys.executable)
    return f"""#!/bin/sh
{HOOK_MARKER} — installed by `hybrid hook install`.
# Refuses a commit of generated code whose staged diff has no approving review.
# Skip it for one commit with: git commit --no-verify
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/{CHAINED_HOOK}" ]; then
    "$hooks_dir/{CHAINED_HOOK}" "$@" || exit $?
fi
if [ -x {python} ]; then
    exec {python} -m hybridcode.review.hook
fi
if command -v hybrid >/dev/null 2>&1; then
    exec hybrid hook run
fi
exec python3 -m hybridcode hook run
"""


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@dataclass
class InstallResult:
    path: Path
    chained: Path | None  # the previous hook, now run first
    updated: bool  # False when the same script was already installed


def install_hook(root: Path | str = ".") -> InstallResult:
    """Write the pre-commit hook; an existing foreign hook moves to ``pre-commit.local`` and is
    called first. Running it again only refreshes our script."""
    top, _ = project_roots(Path(root))
    directory = hooks_dir(top)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "pre-commit"
    chained = directory / CHAINED_HOOK
    script = hook_script()
    if target.exists() or target.is_symlink():
        current = target.read_text(encoding="utf-8", errors="replace") if target.exists() else ""
        if HOOK_MARKER not in current:
            if chained.exists() or chained.is_symlink():
                raise UsageError(
                    f"both {target} and {chained} exist, so the current hook cannot be chained",
                    f"merge {target.name} into {chained.name} (it runs first), delete "
                    f"{target.name}, then run hybrid hook install again")
            target.rename(chained)
        elif current == script:
            return InstallResult(target, chained if chained.exists() else None, False)
    tmp = target.with_name(".pre-commit.hybrid.tmp")
    tmp.write_text(script, encoding="utf-8")
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    os.replace(tmp, target)
    return InstallResult(target, chained if chained.exists() else None, True)


def main(argv: list[str] | None = None) -> int:
    """``python -m hybridcode.review.hook [DIR]``: the gate without the CLI's start-up cost.
    Exit 0 allows the commit, 1 blocks it (errors block too: the gate fails closed)."""
    from hybridcode.errors import HybridError

    args = sys.argv[1:] if argv is None else argv
    try:
        result = hook_check(Path(args[0]) if args else Path("."))
    except HybridError as exc:
        print(f"hybrid gate: Error: {exc}", file=sys.stderr)
        return 1
    if not result.ok or result.reason == "approved":
        print(f"hybrid gate: {result.message}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
