"""Change-set confinement: an attempt may change only the files its item declares.

    before = Snapshot.take(worktree)          # before the attempt's code is placed
    ...place the code, run the tests...
    stray = before.changes(worktree, allowed={"calc/add.py"})
    if stray:
        before.restore(worktree)              # the whole worktree, as it was

A snapshot holds the bytes (and mode) of every file in the worktree except ``.git``: a stray
``conftest.py``, ``pyproject.toml`` edit, ``sitecustomize.py``, ``*.pth`` or bytecode would
change what the *next* test run means, so nothing outside the allowed set may appear, change
or disappear — whatever its name. Symbolic links are recorded as links. Worktrees hold source,
not data, so keeping the bytes in memory is cheap next to a test run.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Snapshot"]

_SKIP_DIRS = frozenset({".git"})


@dataclass(frozen=True)
class _Entry:
    kind: str  # file / link
    data: bytes  # file bytes, or the link's target
    mode: int


def _walk(root: Path) -> tuple[dict[str, _Entry], set[str]]:
    files: dict[str, _Entry] = {}
    dirs: set[str] = set()
    for current, subdirs, names in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        kept = []
        for d in subdirs:
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if rel_dir == "." and d in _SKIP_DIRS:
                continue
            full = os.path.join(current, d)
            if os.path.islink(full):  # os.walk lists a link to a folder as a folder
                names.append(d)
                continue
            dirs.add(rel.replace(os.sep, "/"))
            kept.append(d)
        subdirs[:] = kept
        for name in names:
            if rel_dir == "." and name in _SKIP_DIRS:
                continue  # a worktree's .git is a file pointing at the repository
            full = os.path.join(current, name)
            rel = (name if rel_dir == "." else f"{rel_dir}/{name}").replace(os.sep, "/")
            try:
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode):
                    files[rel] = _Entry("link", os.readlink(full).encode(), 0)
                elif stat.S_ISREG(info.st_mode):
                    with open(full, "rb") as fh:
                        files[rel] = _Entry("file", fh.read(), stat.S_IMODE(info.st_mode))
                else:  # a fifo or socket a test left behind
                    files[rel] = _Entry("other", b"", stat.S_IMODE(info.st_mode))
            except OSError:
                continue
    return files, dirs


@dataclass
class Snapshot:
    root: Path
    files: dict[str, _Entry] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)

    @classmethod
    def take(cls, root: Path) -> Snapshot:
        files, dirs = _walk(Path(root))
        return cls(Path(root), files, dirs)

    def changes(self, root: Path | None = None, allowed: set[str] | frozenset[str] = frozenset()
                ) -> list[str]:
        """Paths created, changed or deleted since the snapshot, outside ``allowed``, each
        with what happened (``created conftest.py``), sorted."""
        now, _dirs = _walk(Path(root or self.root))
        found = []
        for path in sorted(set(now) | set(self.files)):
            if path in allowed:
                continue
            old, new = self.files.get(path), now.get(path)
            if old is None:
                found.append(f"created {path}")
            elif new is None:
                found.append(f"deleted {path}")
            elif old != new:
                found.append(f"changed {path}")
        return found

    def restore(self, root: Path | None = None) -> None:
        """Put the worktree back exactly as it was: created files and folders go, changed and
        deleted ones come back with their bytes and mode."""
        root = Path(root or self.root)
        now, dirs = _walk(root)
        for path in now:
            if path not in self.files or now[path] != self.files[path]:
                target = root / path
                try:
                    if target.is_dir() and not target.is_symlink():
                        continue
                    target.unlink()
                except FileNotFoundError:
                    pass
        for path in sorted(dirs - self.dirs, key=len, reverse=True):
            _remove_tree(root / path)
        for path, entry in self.files.items():
            target = root / path
            if path in now and now[path] == entry:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.kind == "link":
                os.symlink(entry.data.decode(), target)
            elif entry.kind == "file":
                tmp = target.with_name(f".{target.name}.hybrid-restore")
                tmp.write_bytes(entry.data)
                os.chmod(tmp, entry.mode)
                os.replace(tmp, target)


def _remove_tree(path: Path) -> None:
    import shutil

    if path.is_symlink():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
