"""The per-file index cache under ``<root>/.hybrid/cache/``, and the cold-run analysis.

Two maps in one file (``index.marshal``):

- ``stat``: path → (size, mtime_ns, content hash). An unchanged file is recognised by
  ``os.stat`` alone, so a warm run neither reads nor parses anything.
- ``content``: content hash (BLAKE2b-128 of the bytes) → (reason, language, definitions,
  references). Keyed by content, so a renamed, copied or reverted file is not parsed again.

Why one marshal file: loading Django's index (2,800 files, ~40k definitions) takes ~30 ms from
marshal against ~45 ms from pickle and far more from many small files or SQLite rows; marshal
handles exactly the plain tuples/dicts/strings stored here. The format is tied to the Python
version, so the key includes it (with the grammar versions and a schema number): any change
simply starts a fresh cache. Writes go to a temporary file renamed into place, so a crash or a
concurrent run never leaves a torn cache.
"""

from __future__ import annotations

import hashlib
import importlib
import marshal
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

from hybridcode.context import files as filesel
from hybridcode.context.languages import language_for_path
from hybridcode.context.tags import RawTags, extract

SCHEMA = 5
CACHE_DIR = ".hybrid/cache"
INDEX_FILE = "index.marshal"
# A file modified within this window of the scan may change again in the same mtime tick
# without its stat changing ("racy git"); such files are hashed again next time.
RACY_SECONDS = 2.0
# Below this many files to analyse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200
BATCH = 32
MINIFIED_LINE = 300  # average bytes per line above which a source file counts as minified

# (reason or None, language or None, raw tags or None)
Analysis = tuple[str | None, str | None, RawTags | None]
StatKey = tuple[int, int]  # (size, mtime_ns)


@lru_cache(maxsize=1)
def cache_key() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"schema={SCHEMA}", f"python={sys.version_info[:2]}"]
    for dist in ("tree-sitter", "tree-sitter-python", "tree-sitter-javascript",
                 "tree-sitter-typescript", "tree-sitter-go", "detect-secrets"):
        try:
            parts.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}=?")
    return ";".join(parts)


class IndexCache:
    """The loaded cache; :meth:`save` writes back only the entries still in use."""

    def __init__(self, root: Path, stat: dict[str, tuple[int, int, str]] | None = None,
                 content: dict[str, Analysis] | None = None) -> None:
        self.root = root
        self.stat = stat or {}
        self.content = content or {}
        # Results derived from the whole index (the unfocused file ranks), keyed by a
        # fingerprint of every file's path and content hash: any change invalidates them.
        self.derived: dict[str, object] = {}
        self.dirty = False
        self._touched: set[str] = set()  # digests stored by this run (racy files included)

    @property
    def path(self) -> Path:
        return self.root / CACHE_DIR / INDEX_FILE

    @classmethod
    def load(cls, root: Path) -> IndexCache:
        cache = cls(root)
        try:
            data = marshal.loads(cache.path.read_bytes())
            if isinstance(data, dict) and data.get("key") == cache_key():
                cache.stat, cache.content = data["stat"], data["content"]
                cache.derived = data.get("derived") or {}
        except (OSError, EOFError, ValueError, TypeError, KeyError):
            pass  # missing or unreadable: a cache is only ever a shortcut, so start afresh
        return cache

    def lookup(self, path: str, key: StatKey) -> tuple[str, Analysis] | None:
        hit = self.stat.get(path)
        if hit is None or hit[0] != key[0] or hit[1] != key[1]:
            return None
        analysis = self.content.get(hit[2])
        return None if analysis is None else (hit[2], analysis)

    def store(self, path: str, key: StatKey, digest: str, analysis: Analysis,
              scan_started: float) -> None:
        self.content[digest] = analysis
        self._touched.add(digest)
        if key[1] / 1e9 < scan_started - RACY_SECONDS:
            self.stat[path] = (key[0], key[1], digest)
        else:
            self.stat.pop(path, None)
        self.dirty = True

    def derive(self, fingerprint: str, value: object) -> None:
        """Remember a whole-index result for the index content ``fingerprint``."""
        self.derived = {"fingerprint": fingerprint, "value": value}
        self.dirty = True

    def derived_for(self, fingerprint: str) -> object | None:
        if self.derived.get("fingerprint") != fingerprint:
            return None
        return self.derived.get("value")

    def save(self, live_paths: Iterable[str]) -> None:
        """Write the cache, keeping only files that still exist (and their contents)."""
        live = set(live_paths)
        stale = [p for p in self.stat if p not in live]
        if not self.dirty and not stale:
            return
        stat = {p: v for p, v in self.stat.items() if p in live}
        used = {v[2] for v in stat.values()} | self._touched
        content = {h: a for h, a in self.content.items() if h in used}
        payload = marshal.dumps({"key": cache_key(), "stat": stat, "content": content,
                                 "derived": self.derived})
        if write_atomically(self.path, payload):
            self.dirty = False


def write_atomically(path: Path, payload: bytes) -> bool:
    """Replace ``path`` with ``payload`` via a temporary file, so a crash or a concurrent run
    never leaves it torn. False when it cannot be written (a read-only checkout still gets
    its map; it is just not cached)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except OSError:
        return False
    return True


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def analyse(path: str, data: bytes) -> Analysis:
    """Binary verdict and tags of one file (the unit of work a cold run parallelises)."""
    if b"\0" in data[:filesel.BINARY_SNIFF_BYTES]:
        return "binary", None, None
    language = language_for_path(path)
    if language is None:
        return None, None, None  # listed by path alone
    # No secret scan here: content is vetted when it is about to be shown
    # (:mod:`hybridcode.context.vetting`), which on a large repository is a few dozen files.
    if len(data) > 4096 and data.count(b"\n") * MINIFIED_LINE < len(data):
        # Minified bundles (jquery.min.js): one-letter names on one line tell a model
        # nothing, and would crowd the map. Listed by path, not parsed.
        return None, language, None
    return None, language, extract(language, data)


Result = tuple[str, StatKey, str, Analysis]


def _analyse_batch(root: str, paths: list[str]) -> list[Result | tuple[str, None, str, None]]:
    out: list = []
    for path in paths:
        full = os.path.join(root, path)
        try:
            st = os.stat(full)
            with open(full, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            out.append((path, None, f"unreadable: {exc.strerror or exc}", None))
            continue
        out.append((path, (st.st_size, st.st_mtime_ns), digest(data), analyse(path, data)))
    return out


# A thread importing modules holds Python's import locks; a process forked meanwhile inherits
# them held by a thread it does not have, and its first import deadlocks. So the one
# background thread this package starts (see ``import_in_background``) is joined before any
# process pool forks.
_importer: threading.Thread | None = None


def import_in_background(*modules: str) -> None:
    """Import ``modules`` on a thread (to overlap a slow import with waiting on workers)."""
    global _importer

    def load() -> None:
        for name in modules:
            importlib.import_module(name)

    _importer = threading.Thread(target=load, name="hybrid-import", daemon=True)
    _importer.start()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool, once no background import can be holding an import lock."""
    if _importer is not None:
        _importer.join()
    return ProcessPoolExecutor(max_workers=workers)


def analyse_files(root: Path, paths: list[str], workers: int | None = None,
                  on_progress: Callable[[int, int], None] | None = None,
                  while_waiting: Callable[[], None] | None = None) -> list:
    """Analyse ``paths`` (relative to ``root``); in worker processes when there are many.

    Returns ``(path, stat_key, digest, analysis)`` per file, or ``(path, None, reason, None)``
    when the file could not be read. ``while_waiting`` is called once the workers are
    running (never before they fork), for work this process can do meanwhile.
    """
    total = len(paths)
    batches = [paths[i:i + BATCH] for i in range(0, total, BATCH)]
    workers = workers if workers is not None else (os.cpu_count() or 1)
    results: list = []
    done = 0
    if total < PARALLEL_THRESHOLD or workers < 2:
        for batch in batches:
            results.extend(_analyse_batch(str(root), batch))
            done += len(batch)
            if on_progress:
                on_progress(done, total)
        return results
    with process_pool(workers) as pool:
        running = pool.map(_analyse_batch, [str(root)] * len(batches), batches)
        if while_waiting is not None:
            while_waiting()
        for batch_result in running:
            results.extend(batch_result)
            done += len(batch_result)
            if on_progress:
                on_progress(done, total)
    return results
