"""Secret vetting at the point content leaves: scan a file just before its content is shown.

The repository map indexes every file, but only a few dozen files' signatures ever fill a
map's token budget. Scanning each file for secrets while indexing cost a cold map of Django
~2 s of CPU (~1 s of wall time on two cores), for 2,900 files of which a map shows ~60. So the
index does not scan; whatever shows content asks :class:`Vetting` first, and the files it
flags are left out (and recorded with their reason, so ``--json`` shows them):

- the map's renderer, for the files whose signatures it is about to print;
- ``RepoIndex.symbols`` / ``definitions`` / ``lookup`` (the listing ``hybrid map --json``
  prints, and any other caller of the symbol API) vet every file they cover;
- the planner, for the files whose full source it sends (``--focus``).

The detectors are :mod:`hybridcode.secrets`' (token shapes, this machine's secret values,
detect-secrets), with the repository's ``.secrets.baseline`` applied; a changed baseline or a
changed set of secret values starts a fresh verdict cache.

Verdicts are cached by content hash in ``.hybrid/cache/secrets.marshal``, next to the index
cache but separate from it, so a verdict written after a map is a small write, not a rewrite
of the whole index. Many files at once (``--json`` on a cold repository) are scanned in worker
processes, as the index parses them.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Iterable
from pathlib import Path

from hybridcode.context import cache as cachemod
from hybridcode.context import files as filesel
from hybridcode.secrets import Allowlist, known_values, values_digest

VERDICTS_FILE = "secrets.marshal"
# Part of the verdict cache's key, with detect-secrets' version: bump it when the prefilter
# or the gates in :mod:`hybridcode.context.files` change what gets flagged.
SCAN_VERSION = 1
CLEAN = ""  # a verdict: no secret found; otherwise the reason ("secret: <type> line N")


def _key(values: dict[str, str], allowlist: Allowlist) -> str:
    return (f"{cachemod.cache_key()};scan={SCAN_VERSION};values={values_digest(values)};"
            f"baseline={allowlist.digest}")


def scan(path: str, data: bytes, *, values: dict[str, str] | None = None,
         allowlist: Allowlist | None = None) -> str:
    """The verdict for one file's content: :data:`CLEAN` or why it must stay out."""
    return filesel.content_reason(path, data, values=values, allowlist=allowlist) or CLEAN


def _scan_batch(root: str, paths: list[str], values: dict[str, str] | None = None,
                allowlist: Allowlist | None = None) -> list[tuple[str, str | None, str]]:
    """(path, content hash or None when unreadable, verdict) for each path."""
    out: list[tuple[str, str | None, str]] = []
    with filesel.secret_scanning():
        for path in paths:
            try:
                with open(os.path.join(root, path), "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                out.append((path, None, f"unreadable: {exc.strerror or exc}"))
                continue
            out.append((path, cachemod.digest(data),
                        scan(path, data, values=values, allowlist=allowlist)))
    return out


class Vetting:
    """Which of a repository's files may show their content; scans on demand, caches verdicts.

    ``digests`` are the content hashes the index saw (path → hash); a file whose hash has a
    cached verdict is not read again. A file not in ``digests`` is read and hashed.
    """

    def __init__(self, root: Path, digests: dict[str, str], *, use_cache: bool = True,
                 workers: int | None = None) -> None:
        self.root = root
        self.digests = digests
        self.use_cache = use_cache
        self.workers = workers
        self._verdicts: dict[str, str] | None = None  # content hash → verdict, loaded lazily
        self._dirty = False
        self.values = known_values()
        self.allowlist = Allowlist.load(root)
        self._key = _key(self.values, self.allowlist)

    @property
    def path(self) -> Path:
        return self.root / cachemod.CACHE_DIR / VERDICTS_FILE

    def verdicts(self, paths: Iterable[str]) -> dict[str, str]:
        """path → verdict for each of ``paths`` (scanning those without a cached verdict)."""
        known = self._load()
        out: dict[str, str] = {}
        todo: list[str] = []
        for path in paths:
            verdict = known.get(self.digests.get(path, ""))
            if verdict is None:
                todo.append(path)
            else:
                out[path] = verdict
        if todo:
            for path, digest, verdict in self._scan(todo):
                out[path] = verdict
                if digest is not None:
                    known[digest] = verdict
                    self._dirty = True
            self.save()
        return out

    def vet_content(self, path: str, data: bytes) -> str:
        """The verdict for ``data``, the bytes about to be sent as ``path``'s content (which
        may differ from what the index saw, if the file changed since)."""
        known = self._load()
        digest = cachemod.digest(data)
        verdict = known.get(digest)
        if verdict is None:
            with filesel.secret_scanning():
                verdict = scan(path, data, values=self.values, allowlist=self.allowlist)
            known[digest] = verdict
            self._dirty = True
            self.save()
        return verdict

    def _scan(self, paths: list[str]) -> list[tuple[str, str | None, str]]:
        workers = self.workers if self.workers is not None else (os.cpu_count() or 1)
        if len(paths) < cachemod.PARALLEL_THRESHOLD or workers < 2:
            return _scan_batch(str(self.root), paths, self.values, self.allowlist)
        batches = [paths[i:i + cachemod.BATCH] for i in range(0, len(paths), cachemod.BATCH)]
        results: list[tuple[str, str | None, str]] = []
        n = len(batches)
        with cachemod.process_pool(workers) as pool:
            for batch in pool.map(_scan_batch, [str(self.root)] * n, batches,
                                  [self.values] * n, [self.allowlist] * n):
                results.extend(batch)
        return results

    def _load(self) -> dict[str, str]:
        if self._verdicts is None:
            self._verdicts = {}
            if self.use_cache:
                try:
                    data = marshal.loads(self.path.read_bytes())
                    if isinstance(data, dict) and data.get("key") == self._key:
                        self._verdicts = data["verdicts"]
                except (OSError, EOFError, ValueError, TypeError, KeyError):
                    pass  # a cache is only a shortcut: scan again
        return self._verdicts

    def save(self) -> None:
        """Write the verdicts of contents the index still knows (a crash-safe replace)."""
        if not (self.use_cache and self._dirty and self._verdicts is not None):
            return
        live = set(self.digests.values())
        verdicts = {h: v for h, v in self._verdicts.items() if h in live}
        payload = marshal.dumps({"key": self._key, "verdicts": verdicts})
        if not cachemod.write_atomically(self.path, payload):
            return  # a read-only checkout is still vetted; the verdicts are just not kept
        self._dirty = False


__all__ = ["CLEAN", "Vetting", "scan"]
