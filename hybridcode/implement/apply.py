"""Placing an item's parsed code into the worktree, refusing anything outside the item's target.

The path written is always the spec item's ``file`` — never one the model names. It is refused
when it leaves the worktree (``..``, absolute, a symbolic link pointing out), lies inside
``.git`` or ``.hybrid``, or is one of the ``protected`` acceptance-test files; and the code is
refused when the answer says it belongs to another file. Placement (``context.placement``)
checks the syntax of the new code and of the result and raises :class:`PlacementError` with a
line and an excerpt, which is meant to go back to the model.

Files are read and written as bytes (UTF-8 with ``surrogateescape``), atomically, so CRLF line
endings, a BOM or stray bytes outside the changed range survive exactly. Every change records
each file's bytes before and after: :func:`revert` restores them, and a caller can persist
the record (:meth:`AppliedChange.to_dict`) before applying, so a crash mid-run can be undone.
``revert`` restores the recorded bytes unconditionally: revert changes newest first.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hybridcode.context.languages import language_for_path
from hybridcode.context.placement import add_imports, create_file, insert_symbol, replace_symbol
from hybridcode.context.symbols import decode, encode, list_symbols, module_values
from hybridcode.errors import HybridError, PlacementError
from hybridcode.implement.parse import ParsedCode
from hybridcode.spec import RESERVED_DIRS, SpecItem

__all__ = ["AppliedChange", "RefusedOutputError", "apply_item", "revert", "safe_path",
           "write_bytes_atomic"]


class RefusedOutputError(HybridError):
    """The change would write where an item may not: outside the worktree, into git's or
    hybrid's data, over an acceptance test, or into a file the answer was not meant for."""


@dataclass
class AppliedChange:
    """Bytes of each touched file (worktree-relative path) before and after; ``None`` before
    means the file did not exist."""

    files: dict[str, tuple[bytes | None, bytes]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        """JSON-ready form (base64), for persisting before the change is applied."""
        return {path: {"before": None if before is None else base64.b64encode(before).decode(),
                       "after": base64.b64encode(after).decode()}
                for path, (before, after) in self.files.items()}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, str | None]]) -> AppliedChange:
        files: dict[str, tuple[bytes | None, bytes]] = {}
        for path, entry in data.items():
            before = entry.get("before")
            files[path] = (None if before is None else base64.b64decode(before),
                           base64.b64decode(entry["after"] or ""))
        return cls(files)


def apply_item(worktree: Path, item: SpecItem, parsed: ParsedCode,
               protected: set[str]) -> AppliedChange:
    """Place ``parsed`` for ``item`` in the worktree and return what changed."""
    rel, real = safe_path(worktree, item.file, protected)
    _check_claim(item, parsed)
    _check_reach(item, parsed)
    if real.exists() and not real.is_file():
        raise RefusedOutputError(f"{item.file} is not a regular file in the worktree",
                                 f"fix the file of item {item.id} in spec.json")
    before = real.read_bytes() if real.exists() else None
    text = _place(None if before is None else decode(before), item, parsed, real)
    after = encode(text)
    mode = real.stat().st_mode & 0o7777 if before is not None else None
    write_bytes_atomic(real, after, mode)
    return AppliedChange({rel: (before, after)})


def revert(worktree: Path, change: AppliedChange) -> None:
    """Put every file of ``change`` back to its bytes before (deleting files it created)."""
    root = Path(worktree).resolve()
    for rel, (before, _after) in change.files.items():
        _, real = safe_path(root, rel, set())
        if before is None:
            real.unlink(missing_ok=True)
            parent = real.parent
            while parent != root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        else:
            mode = real.stat().st_mode & 0o7777 if real.exists() else None
            write_bytes_atomic(real, before, mode)


def safe_path(worktree: Path, file: str, protected: set[str]) -> tuple[str, Path]:
    """``file`` as a normalized relative path and its real location, or RefusedOutputError."""
    hint = "fix the item's file in spec.json (a repository-relative path) and run again"
    if not file or "\\" in file or file.startswith("/") or re.match(r"^[A-Za-z]:", file):
        raise RefusedOutputError(f"refused to write {file!r}: not a relative path inside the "
                                 "worktree", hint)
    pure = PurePosixPath(file)
    if ".." in pure.parts:
        raise RefusedOutputError(f"refused to write {file}: it leaves the worktree (..)", hint)
    root = Path(worktree).resolve()
    real = (root / pure).resolve()
    if not real.is_relative_to(root):
        raise RefusedOutputError(f"refused to write {file}: a symbolic link leads outside the "
                                 "worktree", hint)
    rel = real.relative_to(root).as_posix()
    for name in (pure.as_posix(), rel):
        reserved = RESERVED_DIRS.intersection(PurePosixPath(name).parts)
        if reserved:
            raise RefusedOutputError(f"refused to write {file}: inside {sorted(reserved)[0]}/, "
                                     "which holds git's and hybrid's own data", hint)
    guarded = {PurePosixPath(p).as_posix() for p in protected}
    if pure.as_posix() in guarded or rel in guarded:
        raise RefusedOutputError(
            f"refused to write {file}: it holds acceptance tests, which the implementer must "
            "not change", "return only the code of the item; the tests are fixed by the spec")
    return rel, real


def write_bytes_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Temp file + fsync + rename: a killed run leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; a source file should look like one the user wrote.
        os.chmod(tmp, 0o644 if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- placing ------------------------------------------------------------------------------------

def _check_claim(item: SpecItem, parsed: ParsedCode) -> None:
    claimed = parsed.claimed_path
    if not claimed:
        return
    claimed = claimed.removeprefix("./")
    target = PurePosixPath(item.file)
    parts = PurePosixPath(claimed).parts
    if tuple(target.parts[-len(parts):]) == parts:
        return  # the same file, maybe named without its folder
    raise RefusedOutputError(
        f"your answer is code for {claimed}, but this item is {item.target}; return only the "
        f"code for {item.file}", "the model's answer named another file; it was not applied")


def _check_reach(item: SpecItem, parsed: ParsedCode) -> None:
    """Code that reaches for the judge (ends the process, writes files, patches the test
    framework…) is refused before it runs, unless the item's ``allow`` permits it."""
    from hybridcode.judge.reach import describe, reach

    allow = list(item.allow) + (["test-framework"] if item.kind == "test" else [])
    findings = reach(parsed.code, parsed.imports, language_for_path(item.file), allow)
    if findings:
        raise RefusedOutputError(describe(findings, "your code"),
                                 "the answer was not applied; the model is told the line")


def _place(before: str | None, item: SpecItem, parsed: ParsedCode, real: Path) -> str:
    language = language_for_path(item.file)
    newline = "\r\n" if before is not None and "\r\n" in before.split("\n", 1)[0] + "\n" \
        else "\n"
    if language is None:  # documentation or configuration: the answer is the file
        body = parsed.code.replace("\r\n", "\n").rstrip("\n") + "\n"
        return body.replace("\n", newline)
    if not item.symbol:
        text = create_file(parsed.code, language).replace("\r\n", "\n")
        if parsed.imports:
            text = add_imports(text, language, parsed.imports)
        return text.replace("\n", newline)
    owner, _, _ = item.symbol.rpartition(".")
    if language == "go":
        owner = ""  # Go methods are top-level declarations with a receiver
    if before is None:
        if owner:
            raise PlacementError(f"{item.file} does not exist, so class {owner} cannot receive "
                                 f"{item.symbol}", "implement the class's item first")
        head = f"package {_go_package(real)}\n\n" if language == "go" else ""
        text = head + create_file(_dedent(parsed.code), language)
    else:
        if parsed.module_code and owner:  # the method's module-level helpers, ahead of its class
            extra = _without_existing(parsed.module_code, before, language, None, "")
            if extra.strip():
                before = insert_symbol(before, language, extra, ahead_of=owner.split(".")[0])
        code = _without_existing(parsed.code, before, language, owner or None, item.symbol)
        names = {s.qualified_name for s in list_symbols(before, language)}
        if item.action == "modify" or item.symbol in names:
            # create on an existing symbol: a retry or a resumed run placed it already.
            text = replace_symbol(before, language, item.symbol, code)
        else:
            text = insert_symbol(before, language, code, into_class=owner or None,
                                 near=_near(item))
    if parsed.imports:
        text = add_imports(text, language, parsed.imports)
    return text


def _near(item: SpecItem) -> list[str]:
    """The symbols of the item's own file that its spec's context names: the code it sits
    beside (``app/auth.py::login`` for an item in ``app/auth.py``)."""
    own = PurePosixPath(item.file).as_posix()
    found = []
    for entry in item.context:
        path, _, symbol = entry.partition("::")
        if symbol and PurePosixPath(path.strip().removeprefix("./")).as_posix() == own:
            found.append(symbol.strip())
    return found


def _without_existing(code: str, file_text: str, language: str, owner: str | None,
                      target: str) -> str:
    """``code`` minus the helper definitions and module-level constants/variables the file
    already has in the target's scope: a model that repeats the file around its item must not
    duplicate it (Go and TypeScript refuse a name declared twice)."""
    flat = _dedent(code)
    go = language == "go"  # a Go method is a top-level declaration: compare qualified names
    symbols = [s for s in list_symbols(flat, language) if go or s.parent is None]
    values = module_values(flat, language) if owner is None else []
    if len(symbols) + len(values) <= (1 if target else 0):
        return code
    in_file = list_symbols(file_text, language)
    have = {s.qualified_name if go else s.name for s in in_file if go or s.parent == owner}
    key = target if go else target.rsplit(".", 1)[-1]
    cuts = {(s.start_byte, s.end_byte) for s in symbols
            if (s.qualified_name if go else s.name) != key
            and (s.qualified_name if go else s.name) in have}
    if values:
        have_values = {v.name for v in module_values(file_text, language)}
        statements: dict[tuple[int, int], set[str]] = {}
        for value in values:
            statements.setdefault((value.start_byte, value.end_byte), set()).add(value.name)
        # A statement goes only when the file has every name it declares.
        cuts |= {span for span, names in statements.items() if names <= have_values}
    if not cuts:
        return code
    data = encode(flat)
    for start, end in sorted(cuts, reverse=True):
        line_start = data.rfind(b"\n", 0, start) + 1
        data = data[:line_start] + data[end:].lstrip(b"\n")
    return decode(data)


def _dedent(code: str) -> str:
    """Shift code left by its first line's indentation (a definition cut from a class)."""
    lines = code.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    if not indent:
        return code
    return "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines)


def _go_package(real: Path) -> str:
    """The package of the Go files next to a new one, else the folder's name."""
    for sibling in sorted(real.parent.glob("*.go")) if real.parent.is_dir() else []:
        match = re.search(r"^package\s+(\w+)", sibling.read_text("utf-8", "replace"), re.M)
        if match:
            return match.group(1)
    name = re.sub(r"\W", "_", real.parent.name)
    return name if name and not name[0].isdigit() else "main"
