"""The spec's acceptance tests in the worktree: written by the tool, guarded by checksums.

The implementer never writes these files (``apply_item`` refuses them), and before each run
and each verification the caller compares them with the checksums taken when they were
written: a changed or missing file is tampering (or a stray edit) and is restored from the spec.

Each item's acceptance code — its ``tests.code`` followed by the tests generated from its
examples (:func:`hybridcode.spec.examples.acceptance_code`) — goes to ``item.test_path``. When several items name the same path
(spec validation reports that as an error, but a hand-edited spec may still get here), their
tests are concatenated in spec order into that one file, each part under a comment naming its
item; test functions with the same name would then shadow each other, so keep paths distinct.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from hybridcode.errors import SpecError
from hybridcode.spec.examples import acceptance_code
from hybridcode.implement.apply import RefusedOutputError, safe_path, write_bytes_atomic
from hybridcode.spec import Spec

__all__ = ["acceptance_files", "check_acceptance_tests", "restore_acceptance_tests",
           "write_acceptance_tests"]


def acceptance_files(spec: Spec) -> dict[str, bytes]:
    """Path → the exact bytes the tool writes there, for every item with tests."""
    parts: dict[str, list[tuple[str, str]]] = {}
    for item in spec.items:
        path = item.test_path
        code = acceptance_code(item)
        if code is None or path is None:
            continue
        parts.setdefault(path, []).append((item.id, code))
    files: dict[str, bytes] = {}
    for path, codes in parts.items():
        if len(codes) == 1:
            text = codes[0][1]
        else:
            text = "\n\n".join(f"# --- acceptance tests of item {item_id} ---\n{code.strip()}"
                               for item_id, code in codes)
        files[path] = (text.rstrip("\n") + "\n").encode("utf-8")
    return files


def write_acceptance_tests(worktree: Path, spec: Spec) -> dict[str, str]:
    """Write every item's acceptance tests; return path → SHA-256 of the bytes written."""
    return restore_acceptance_tests(worktree, spec)


def check_acceptance_tests(worktree: Path, checksums: dict[str, str]) -> list[str]:
    """Paths whose bytes no longer match their checksum (changed or deleted)."""
    changed = []
    for path, digest in checksums.items():
        real = Path(worktree) / path
        try:
            current = hashlib.sha256(real.read_bytes()).hexdigest()
        except OSError:
            current = None
        if current != digest:
            changed.append(path)
    return changed


def restore_acceptance_tests(worktree: Path, spec: Spec,
                             paths: list[str] | None = None) -> dict[str, str]:
    """(Re)write the acceptance tests — all, or only ``paths`` — and return path → SHA-256 of
    every acceptance file, so the result can replace the stored checksums."""
    checksums: dict[str, str] = {}
    for path, data in acceptance_files(spec).items():
        try:
            rel, real = safe_path(worktree, path, set())
        except RefusedOutputError as exc:
            raise SpecError(f"acceptance tests path {path}: {exc.message}",
                            "fix tests.path in spec.json and run `hybrid spec check`") from exc
        if paths is None or path in paths or rel in paths:
            if not (real.is_file() and real.read_bytes() == data):
                write_bytes_atomic(real, data)
        checksums[path] = hashlib.sha256(data).hexdigest()
    return checksums
