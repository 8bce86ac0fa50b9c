"""Diffs that an approval can be bound to: the same change always yields the same bytes and hash.

Every diff here is a *tree-to-tree* diff (``git diff <old-tree> <new-tree>``). The worktree,
the index and a commit are first turned into a tree object, so a plan's worktree, the same
change staged in a clone and the same change committed on top of the base all go through one
command and produce identical bytes — the invariant approvals rely on.

The command pins every option that user or system configuration could change:

- ``--src-prefix=a/ --dst-prefix=b/`` and ``diff.noprefix=false`` / ``diff.mnemonicprefix=false``
  (prefixes), ``diff.relative=false`` and ``--no-relative`` (paths from the top), ``core.quotepath
  =on`` (non-ASCII names are C-quoted, so headers are ASCII whatever the locale);
- ``--diff-algorithm=myers``, ``--indent-heuristic``, ``-U3``, ``--inter-hunk-context=0`` and
  ``diff.suppressBlankEmpty=false`` (which hunks and lines are shown);
- ``-M50% -l1000`` with ``diff.renames=true`` (rename detection: on, git's default threshold and
  a fixed limit, never copies). Renames are detected rather than shown as delete + add because
  the reviewer then reads the few changed lines instead of a whole file twice; detection is a
  pure function of the two trees, so it does not weaken the invariant;
- ``diff.orderFile=/dev/null`` (file order), ``--submodule=short``, ``--no-ext-diff``,
  ``--no-textconv``, ``--no-color``, ``--full-index`` (full blob ids).

Binary files are *not* emitted with ``--binary``: the literal/delta payload is zlib output,
whose bytes depend on ``core.compression`` and the zlib build. The ``index <old>..<new>`` line
already names both blobs by their full object id, which fixes the content exactly, so the hash
still changes whenever a binary file does.

Environment variables git would honour from a surrounding hook or shell (``GIT_DIR``,
``GIT_EXTERNAL_DIFF``, ``GIT_DIFF_OPTS`` …) are removed; :func:`staged_diff` alone keeps
``GIT_INDEX_FILE`` so that, inside a pre-commit hook, it sees exactly the index being committed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hybridcode.errors import GitError
from hybridcode.vcs.encoding import detect_encoding

Status = Literal["added", "deleted", "modified", "renamed"]

_CONFIG = (
    "core.quotepath=on", "diff.noprefix=false", "diff.mnemonicprefix=false",
    "diff.relative=false", "color.ui=never", "diff.renames=true", "diff.renameLimit=1000",
    "diff.suppressBlankEmpty=false", "diff.orderFile=/dev/null", "diff.algorithm=myers",
    "diff.indentHeuristic=true", "diff.context=3", "diff.interHunkContext=0",
    "diff.ignoreSubmodules=none", "diff.submodule=short", "diff.external=",
)
_DIFF_ARGS = (
    "diff", "--full-index", "--no-ext-diff", "--no-textconv", "--no-color", "--no-relative",
    "--src-prefix=a/", "--dst-prefix=b/", "-M50%", "-l1000", "--diff-algorithm=myers",
    "--indent-heuristic", "-U3", "--inter-hunk-context=0", "--submodule=short",
    "--ignore-submodules=none",
)
# Variables that would redirect git or change its diff output behind our back.
_SCRUBBED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS",
             "GIT_DIFF_PATH_COUNTER", "GIT_DIFF_PATH_TOTAL", "GIT_PREFIX", "GIT_OBJECT_DIRECTORY",
             "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_COMMON_DIR")
# Files the tool itself or a test run creates in a worktree; they are never generated code, so
# the worktree's tree leaves them out (tracked files there keep their base content).
WORKTREE_EXCLUDES = (":(exclude).hybrid", ":(exclude,glob)**/__pycache__/**",
                     ":(exclude,glob)**/.pytest_cache/**", ":(exclude,glob)**/*.pyc")
_INSTALL_HINT = "install git (https://git-scm.com/downloads) and make sure it is on PATH"


@dataclass
class FileChange:
    """One file of a diff. Paths are repository-relative POSIX paths (undecodable bytes are kept
    as surrogate escapes, so ``os.fsencode(path)`` gives the real name back)."""

    path: str
    old_path: str | None
    status: Status
    binary: bool
    old_mode: str | None
    new_mode: str | None
    added: list[tuple[int, str]] = field(default_factory=list)  # (new line number, text)
    removed_count: int = 0
    is_text: bool = True  # not binary and valid UTF-8
    patch: str = ""  # this file's section of the diff, decoded for display
    # How ``patch`` was decoded: "utf-8"; for other text, the encoding detected from its bytes
    # (e.g. "cp1252", "iso8859-9"; see hybridcode.vcs.encoding), or "" when none was found and
    # undecodable bytes show as U+FFFD.
    encoding: str = "utf-8"
    # The new version shows at least one line in a hunk, so it has a line 1 (a pure rename or
    # an added empty file has no hunk: nothing says it has any line).
    has_lines: bool = False

    @property
    def mode_changed(self) -> bool:
        return self.status == "modified" and self.old_mode != self.new_mode


@dataclass
class Diff:
    raw: bytes
    sha256: str
    files: list[FileChange]
    source: str  # worktree / staged / range / commit
    old_tree: str = ""
    new_tree: str = ""  # the tree the diff leads to: checks read the reviewed content from it

    @property
    def empty(self) -> bool:
        return not self.raw

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


def display_path(path: str) -> str:
    """``path`` as every report shows it: bytes that are not UTF-8 (kept in the path as surrogate
    escapes) become git's octal escapes — ``caf\\351.py`` for the Latin-1 name ``café.py`` —
    so the text is valid UTF-8 and names the file the way ``git status`` does."""
    if not _UNDECODABLE.search(path):
        return path
    return _UNDECODABLE.sub(lambda m: f"\\{ord(m.group()) - 0xDC00:03o}", path)


def checkout_name(path: str) -> str:
    """``path`` the way a tool reading the checkout's file names as UTF-8 text sees it (the
    GitHub runner reading a workflow command's ``file=``): the real name when it is UTF-8,
    whatever git's quoting; a byte that is not UTF-8 becomes U+FFFD, as the runner decodes
    it — never git's ``caf\\351.py`` or ``"caf\\303\\251.py"``, which name no file."""
    return os.fsencode(path).decode("utf-8", "replace")


def path_readings(spelling: str) -> list[str]:
    """What a file name written by a model or a tool may mean, most literal first: as written,
    with git's C-quoting undone (``"b/caf\\303\\251.py"`` → ``b/café.py``), and without a
    diff's ``a/``/``b/`` prefix or a leading ``./``. The one reader of git's spellings: the diff
    parser and the reports both use it."""
    text = str(spelling).strip()
    readings = [text, _unquote(text)]
    for name in readings[:2]:
        if name[:2] in ("a/", "b/", "./"):
            readings.append(name[2:])
    return [r for r in dict.fromkeys(readings) if r]


def anchor_file(files: Sequence[FileChange]) -> str | None:
    """The file a result about the change as a whole points at (line 1; code scanning wants
    every result in a file): the first changed file whose new version shows a line, else the
    first that still exists and is text, else the first that still exists, else the first."""
    present = [c for c in files if c.status != "deleted"]
    for change in (next((c for c in present if c.has_lines), None),
                   next((c for c in present if not c.binary), None),
                   present[0] if present else None, files[0] if files else None):
        if change is not None:
            return change.path
    return None


def git_quoted(path: str) -> str:
    """The body of git's C-quoted spelling of ``path`` (``core.quotepath=on``, as in the diff's
    headers): every byte outside printable ASCII as an octal escape."""
    out = []
    for byte in path.encode("utf-8", "surrogateescape"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def diff_sha256(raw: bytes) -> str:
    """The canonical hash of a diff: SHA-256 of its exact bytes, as lowercase hex."""
    return hashlib.sha256(raw).hexdigest()


# ---------------------------------------------------------------------------------- git

def _env(keep_index: bool = False, index_file: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUBBED or (keep_index and k == "GIT_INDEX_FILE")}
    if index_file is not None:
        env["GIT_INDEX_FILE"] = index_file
    # Messages in English: GitError matches on them.
    env["LC_ALL"] = "C"
    return env


def _git(cwd: Path, args: Sequence[str], env: dict[str, str] | None = None,
         stdin: bytes | None = None) -> bytes:
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git is not installed or not on PATH", _INSTALL_HINT)
    cmd = [exe]
    for item in _CONFIG:
        cmd += ["-c", item]
    try:
        proc = subprocess.run([*cmd, *args], cwd=cwd, input=stdin, capture_output=True,
                              env=env if env is not None else _env(), check=False)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise GitError(f"cannot run git in {cwd}: {exc}",
                       "check that the directory exists") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in err:
            raise GitError(f"{cwd}: not a git repository", "run inside a repository")
        first = err.splitlines()[0] if err else f"exit code {proc.returncode}"
        raise GitError(f"git {args[0]} failed in {cwd}: {first}",
                       "run the same git command yourself to see the full message")
    return proc.stdout


def _tree_of(root: Path, rev: str) -> str:
    try:
        return _git(root, ["rev-parse", "--verify", "--quiet", f"{rev}^{{tree}}"]).decode().strip()
    except GitError:
        raise GitError(f"{rev!r} is not a commit in {root}",
                       "give a branch, tag or commit id (e.g. origin/main); fetch it first "
                       "if it is remote") from None


def _empty_tree(root: Path) -> str:
    # mktree with no input writes (and names) the empty tree in this repository's hash format.
    return _git(root, ["mktree"], stdin=b"").decode().strip()


def _diff_trees(root: Path, old: str, new: str, source: str) -> Diff:
    raw = _git(root, [*_DIFF_ARGS, old, new, "--"])
    return Diff(raw=raw, sha256=diff_sha256(raw), files=parse_diff(raw), source=source,
                old_tree=old, new_tree=new)


def worktree_tree(worktree: Path, base: str) -> str:
    """The tree of everything in ``worktree`` (tracked, modified, deleted and untracked files that
    git does not ignore), built in a throw-away index so the worktree's own index is untouched.

    Committing exactly this tree on top of ``base`` (``git commit-tree <tree> -p <base>``) gives
    a commit whose :func:`commit_diff` hash equals :func:`worktree_diff`'s.
    """
    worktree = Path(worktree)
    with tempfile.TemporaryDirectory(prefix="hybrid-index-") as tmp:
        env = _env(index_file=str(Path(tmp) / "index"))
        _git(worktree, ["read-tree", _tree_of(worktree, base)], env=env)
        _git(worktree, ["add", "-A", "--", ".", *WORKTREE_EXCLUDES], env=env)
        return _git(worktree, ["write-tree"], env=env).decode().strip()


def worktree_diff(worktree: Path, base: str) -> Diff:
    """Everything in a plan's worktree against ``base``, untracked files included."""
    worktree = Path(worktree)
    if not worktree.is_dir():
        raise GitError(f"worktree {worktree} does not exist",
                       "run `hybrid implement <plan>` to create it")
    return _diff_trees(worktree, _tree_of(worktree, base), worktree_tree(worktree, base),
                       "worktree")


def staged_diff(root: Path, against: str = "HEAD") -> Diff:
    """The index against HEAD (against the empty tree before the first commit); ``against``
    names another commit, e.g. ``HEAD^`` for what ``git commit --amend`` would record."""
    root = Path(root)
    env = _env(keep_index=True)
    try:
        new = _git(root, ["write-tree"], env=env).decode().strip()
    except GitError as exc:
        raise GitError("the index cannot be turned into a tree (unresolved merge conflicts?)",
                       "resolve the conflicts and `git add` the files, then retry") from exc
    try:
        old = _git(root, ["rev-parse", "--verify", "--quiet", f"{against}^{{tree}}"]
                   ).decode().strip()
    except GitError:  # no commit yet: everything staged is new
        old = _empty_tree(root)
    return _diff_trees(root, old, new, "staged")


def range_diff(root: Path, base: str, head: str = "HEAD") -> Diff:
    """``head``'s tree against ``base``'s: the net change a pull request brings. The revisions
    are the user's: one that names no commit is a usage error (exit 2), as in CI mode."""
    from hybridcode.errors import UsageError

    root = Path(root)
    trees = []
    for rev in (base, head):
        try:
            trees.append(_tree_of(root, rev))
        except GitError:
            _git(root, ["rev-parse", "--git-dir"])  # outside a repository: git's own error
            raise UsageError(f"unknown revision {rev!r}",
                             "fetch it first (e.g. git fetch origin main); in GitHub Actions "
                             "check out with fetch-depth: 0") from None
    return _diff_trees(root, trees[0], trees[1], "range")


def commit_diff(root: Path, sha: str) -> Diff:
    """A commit against its first parent (against the empty tree for a root commit)."""
    root = Path(root)
    new = _tree_of(root, sha)
    try:
        old = _git(root, ["rev-parse", "--verify", "--quiet", f"{sha}^1^{{tree}}"]).decode().strip()
    except GitError:
        old = _empty_tree(root)
    return _diff_trees(root, old, new, "commit")


def read_blob(root: Path, tree: str, path: str) -> bytes:
    """A file's bytes in ``tree`` (the content a diff leads to)."""
    return _git(Path(root), ["cat-file", "blob", f"{tree}:{path}"])


# ---------------------------------------------------------------------------------- parsing

_SECTION = re.compile(rb"^diff --git ", re.MULTILINE)
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(name: str) -> str:
    """Undo git's C-style quoting (``"sp ace \\303\\251.py"``) into the real name."""
    name = name.rstrip("\t")
    if not (len(name) >= 2 and name.startswith('"') and name.endswith('"')):
        return name
    body, out, i = name[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567":
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out += ch.encode("utf-8")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _strip_prefix(name: str) -> str | None:
    name = _unquote(name)
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def _header_paths(header: str) -> tuple[str, str]:
    """Paths from ``diff --git a/x b/y`` when no ---/+++ lines exist (mode-only, binary)."""
    rest = header[len("diff --git "):].rstrip("\n")
    if rest.startswith('"'):
        end = rest.index('"', 1)
        while rest[end - 1] == "\\":
            end = rest.index('"', end + 1)
        first, second = rest[:end + 1], rest[end + 2:]
    elif ' "b/' in rest:
        first, _, second = rest.partition(' "b/')
        second = '"b/' + second
    else:
        # Unquoted names hold no special characters; " b/" splits them (renames, where the
        # two sides differ, carry explicit "rename from/to" lines anyway).
        first, _, second = rest.partition(" b/")
        second = "b/" + second
    return _strip_prefix(first) or "", _strip_prefix(second) or ""


def _file_change(section: bytes) -> FileChange:
    from unidiff import PatchSet

    encoding = "utf-8"
    try:
        text = section.decode("utf-8")
        is_utf8 = True
    except UnicodeDecodeError:
        is_utf8 = False
        encoding = detect_encoding(section)
        text = section.decode(encoding or "utf-8", "replace")
    info: dict[str, str] = {}
    header_lines = text.split("\n")
    for line in header_lines[1:]:
        if line.startswith(("@@", "--- ", "+++ ", "Binary files ")):
            break
        for prefix in ("old mode", "new mode", "new file mode", "deleted file mode",
                       "rename from", "rename to", "index"):
            if line.startswith(prefix + " "):
                info[prefix] = line[len(prefix) + 1:]
    old_path, new_path = _header_paths(header_lines[0])
    patched = list(PatchSet.from_string(text))
    added: list[tuple[int, str]] = []
    removed = 0
    has_lines = False
    binary = "Binary files " in text and not any(h.startswith("@@") for h in header_lines)
    if patched:
        pf = patched[0]
        binary = binary or pf.is_binary_file
        if pf.source_file and _strip_prefix(pf.source_file) is not None:
            old_path = _strip_prefix(pf.source_file) or old_path
        if pf.target_file and _strip_prefix(pf.target_file) is not None:
            new_path = _strip_prefix(pf.target_file) or new_path
        for hunk in pf:
            has_lines = has_lines or hunk.target_length > 0
            for line in hunk:
                if line.is_added:
                    added.append((line.target_line_no, line.value.rstrip("\n")))
                elif line.is_removed:
                    removed += 1
    old_path = _unquote(info["rename from"]) if "rename from" in info else old_path
    new_path = _unquote(info["rename to"]) if "rename to" in info else new_path
    mode = info.get("index", "").partition(" ")[2] or None
    if "new file mode" in info:
        status: Status = "added"
        old_mode, new_mode = None, info["new file mode"]
    elif "deleted file mode" in info:
        status = "deleted"
        old_mode, new_mode = info["deleted file mode"], None
    else:
        status = "renamed" if "rename from" in info else "modified"
        old_mode = info.get("old mode", mode)
        new_mode = info.get("new mode", mode)
    path = old_path if status == "deleted" else new_path
    return FileChange(path=path, old_path=old_path if status == "renamed" else None,
                      status=status, binary=binary, old_mode=old_mode, new_mode=new_mode,
                      added=added, removed_count=removed, is_text=not binary and is_utf8,
                      patch=text, encoding="" if binary else encoding,
                      has_lines=has_lines and not binary)


def parse_diff(raw: bytes) -> list[FileChange]:
    """One :class:`FileChange` per ``diff --git`` section, parsed with unidiff."""
    starts = [m.start() for m in _SECTION.finditer(raw)]
    return [_file_change(raw[start:end])
            for start, end in zip(starts, [*starts[1:], len(raw)], strict=False)]
