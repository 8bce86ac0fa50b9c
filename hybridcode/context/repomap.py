"""The repository map: index every file, rank by relevance to a focus, render into a budget.

``build_index`` lists the files that may reach a model (:mod:`hybridcode.context.files`), and
takes each one's definitions and references from the cache or, when its content is new, from
tree-sitter (in worker processes on large repositories). ``rank`` runs a personalised PageRank
over the reference graph (file A mentions a name that file B defines → edge A→B), so files that
the focus's files depend on, and that much of the repository depends on, come first.
``render`` prints the best-ranked signatures, inside their enclosing classes, with paths and
line numbers, as many as fit in a token budget.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import operator
import os
import re
import stat as statmod
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path

from hybridcode.vcs import repo as gitrepo
from hybridcode.context import cache as cachemod
from hybridcode.context import files as filesel
from hybridcode.context.tags import Definition, RawDef
from hybridcode.context.vetting import Vetting

# A name defined in more files than this says little about which one a reference means
# ("get", "save", "__init__"); linking to all of them would only add noise and edges.
MAX_DEFINERS = 12
DAMPING = 0.85
ITERATIONS = 20
TOLERANCE = 1e-4
FOCUS_WEIGHT = 100.0
# Part of the cached ranks' fingerprint: bump it when ranking or scoring code changes.
RANKING_VERSION = 2
# References link definitions within a language family only.
_FAMILY = {"javascript": "js", "typescript": "js", "tsx": "js"}


@dataclass
class IndexStats:
    files: int = 0
    analysed: int = 0  # parsed / scanned this run
    rehashed: int = 0  # stat changed but content known: hashed, not parsed
    cached: int = 0  # recognised by stat alone
    seconds: float = 0.0


@dataclass
class RepoIndex:
    """Everything the map knows about a repository. Paths are relative POSIX paths.

    ``raw`` holds each file's definitions as the cache stores them (plain tuples without the
    path); ``symbols`` and ``definitions`` turn them into :class:`Definition` objects on first
    use, because building ~45k objects would cost a warm map of Django a third of its budget.

    ``raw`` and ``references`` are not vetted for secrets (ranking needs every file; names
    alone reveal nothing): content is vetted when shown (:mod:`hybridcode.context.vetting`).
    So show content only through :meth:`withhold` or the vetted ``symbols``/``definitions``/
    ``lookup``; ``excluded`` grows as vetting flags files.
    """

    root: Path
    files: list[str]  # may reach a model, sorted
    excluded: dict[str, str]  # path → why it may not
    languages: dict[str, str]  # source file → language
    references: dict[str, dict[str, int]]  # source file → name → times referenced
    raw: dict[str, list[RawDef]]  # source file → (name, kind, qualname, line, end, signature)
    stats: IndexStats = field(default_factory=IndexStats)
    # Content hashes (path → hash) and the secret vetting of content before it is shown.
    digests: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    vetting: Vetting | None = field(default=None, repr=False, compare=False)
    # Files whose content a secret scan has cleared (``excluded`` holds the ones it flagged).
    cleared: set[str] = field(default_factory=set, repr=False, compare=False)
    # The unfocused file ranks, in ``files`` order, when the cache held them for exactly this
    # content (see ``build_index``): a warm unfocused map then skips PageRank altogether.
    cached_ranks: list[float] | None = field(default=None, repr=False, compare=False)
    # With them, the unfocused definition order: (score, index into the definitions of
    # ``raw`` enumerated file by file), best first.
    cached_order: list[tuple[float, int]] | None = field(default=None, repr=False,
                                                         compare=False)

    def withhold(self, paths: Iterable[str]) -> set[str]:
        """Those of ``paths`` whose content must not be shown: excluded by name or kind, or
        flagged by a secret scan (run now for files not vetted yet; verdicts are cached)."""
        held: set[str] = set()
        todo: list[str] = []
        for path in paths:
            if path in self.excluded:
                held.add(path)
            elif path not in self.cleared:
                todo.append(path)
        if todo and self.vetting is None:  # an index built by hand: vet from disk
            self.vetting = Vetting(self.root, self.digests, use_cache=False)
        if todo:
            flagged = False
            for path, verdict in self.vetting.verdicts(dict.fromkeys(todo)).items():
                if verdict:
                    self.excluded[path] = verdict
                    held.add(path)
                    flagged = True
                else:
                    self.cleared.add(path)
            if flagged:
                self.excluded = dict(sorted(self.excluded.items()))
        return held

    @cached_property
    def symbols(self) -> dict[str, list[Definition]]:
        """Source file → its definitions in file order (vetted: flagged files left out)."""
        held = self.withhold(self.raw)
        return {path: [Definition(path, *d) for d in defs] for path, defs in self.raw.items()
                if path not in held}

    @cached_property
    def definitions(self) -> dict[str, list[Definition]]:
        """Name → every definition of that name (for resolving what a snippet refers to)."""
        out: dict[str, list[Definition]] = {}
        for defs in self.symbols.values():
            for d in defs:
                out.setdefault(d.name, []).append(d)
        return out

    @cached_property
    def families(self) -> dict[str, str]:
        """Source file → its language family (TypeScript and JavaScript call each other)."""
        return {path: _FAMILY.get(lang, lang) for path, lang in self.languages.items()}

    @cached_property
    def definers(self) -> dict[str, set[str]]:
        """Name → the files defining it (cheap: no Definition objects)."""
        out: dict[str, set[str]] = {}
        for path, defs in self.raw.items():
            for d in defs:
                out.setdefault(d[0], set()).add(path)
        return out

    def lookup(self, name: str) -> list[Definition]:
        """Definitions of ``name``: a plain name (``save``) or a qualified one (``Model.save``)."""
        if "." not in name:
            return list(self.definitions.get(name, ()))
        last = name.rsplit(".", 1)[1]
        return [d for d in self.definitions.get(last, ()) if _qualifies(d.qualname, name)]

    def names_for(self, qualified: str) -> set[str]:
        """The plain names of definitions matching a qualified name, from the unvetted index
        (names only: resolving a focus must not scan every file)."""
        last = qualified.rsplit(".", 1)[1]
        paths = self.definers.get(last, ())
        return {d[0] for p in paths for d in self.raw.get(p, ())
                if d[0] == last and _qualifies(d[2], qualified)}


def _qualifies(qualname: str, name: str) -> bool:
    return qualname == name or qualname.endswith("." + name)


ProgressCallback = Callable[[int, int], None]


def build_index(root: Path | str, *, use_cache: bool = True, workers: int | None = None,
                max_bytes: int = filesel.MAX_FILE_BYTES,
                on_progress: ProgressCallback | None = None) -> RepoIndex:
    """Index the repository containing ``root`` (see the module docstring)."""
    started = time.time()
    clock = time.perf_counter()
    top = gitrepo.repo_root(root)
    # git lists the files (~40 ms on Django, in its own process) while this thread unmarshals
    # the cache (~70 ms of CPU): the waits overlap instead of adding up.
    with ThreadPoolExecutor(max_workers=1) as pool:
        listing = pool.submit(filesel.select_files, top)
        store = cachemod.IndexCache.load(top) if use_cache else cachemod.IndexCache(top)
        selection = listing.result()
    excluded = dict(selection.excluded)
    digests: dict[str, str] = {}
    stats = IndexStats()
    analyses: dict[str, cachemod.Analysis] = {}
    pending: list[str] = []
    present: list[str] = []
    for path in selection.candidates:
        try:
            st = os.lstat(os.path.join(top, path))
        except OSError:
            continue  # tracked but deleted in the working tree
        if statmod.S_ISLNK(st.st_mode):
            # A link may point anywhere (~/.ssh/id_rsa); its target is not this repository's.
            excluded[path] = "symlink"
            continue
        if not statmod.S_ISREG(st.st_mode):
            continue  # submodules and other non-files
        present.append(path)
        if st.st_size > max_bytes:
            excluded[path] = "too large"
            continue
        key = (st.st_size, st.st_mtime_ns)
        hit = store.lookup(path, key)
        if hit is not None:
            digests[path], analyses[path] = hit
            stats.cached += 1
            continue
        if not store.content:
            pending.append(path)  # nothing to reuse: let the workers read it, once
            continue
        try:
            data = Path(top, path).read_bytes()
        except OSError as exc:
            excluded[path] = f"unreadable: {exc.strerror or exc}"
            continue
        digest = cachemod.digest(data)
        known = store.content.get(digest)
        if known is not None:
            store.store(path, key, digest, known, started)
            digests[path], analyses[path] = digest, known
            stats.rehashed += 1
        else:
            pending.append(path)
    for path, key, digest, analysis in cachemod.analyse_files(
            top, pending, workers, on_progress, while_waiting=_load_scanner_in_background):
        if key is None:
            excluded[path] = digest  # the reason it could not be read
            continue
        store.store(path, key, digest, analysis, started)
        digests[path], analyses[path] = digest, analysis
        stats.analysed += 1
    index = _assemble(top, analyses, excluded)
    index.digests = digests
    index.vetting = Vetting(top, digests, use_cache=use_cache, workers=workers)
    if use_cache:
        fingerprint = _fingerprint(index.files, digests)
        cached = store.derived_for(fingerprint)
        if isinstance(cached, tuple) and len(cached) == 2 and len(cached[0]) == len(index.files):
            index.cached_ranks, index.cached_order = cached
        else:  # computed once here, so every later unfocused map of this content is free
            ranks = rank_files(index)
            index.cached_ranks = [ranks[p] for p in index.files]
            index.cached_order = _definition_order(index, ranks)
            store.derive(fingerprint, (index.cached_ranks, index.cached_order))
        store.save(present)
    stats.files = len(index.files)
    stats.seconds = time.perf_counter() - clock
    index.stats = stats
    return index


def _load_scanner_in_background() -> None:
    """Import detect-secrets (~0.25 s, mostly ``requests``) while the workers parse: the map
    vets the files it shows right after, and this process would otherwise sit idle. Imports
    only: installing detect-secrets' settings is not threadsafe."""
    cachemod.import_in_background("detect_secrets.core.scan", "detect_secrets.settings")


def _fingerprint(files: list[str], digests: dict[str, str]) -> str:
    """What the file ranks depend on: every ranked file's path and content, and the ranking
    parameters (a change to them must not serve ranks computed under the old ones)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{RANKING_VERSION};{MAX_DEFINERS};{DAMPING};{ITERATIONS};{TOLERANCE};"
             f"{FOCUS_WEIGHT}".encode())
    for path in files:
        h.update(f"\0{path}\0{digests.get(path, '')}".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _assemble(root: Path, analyses: dict[str, cachemod.Analysis],
              excluded: dict[str, str]) -> RepoIndex:
    files: list[str] = []
    raw: dict[str, list[RawDef]] = {}
    references: dict[str, dict[str, int]] = {}
    languages: dict[str, str] = {}
    for path in sorted(analyses):
        reason, language, tags = analyses[path]
        if reason is not None:
            excluded[path] = reason
            continue
        files.append(path)
        if language is None or tags is None:
            continue
        languages[path] = language
        raw[path], references[path] = tags
    return RepoIndex(root=root, files=files, excluded=dict(sorted(excluded.items())),
                     languages=languages, references=references, raw=raw)


# --- ranking ------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Focus:
    """What the user asked about, resolved against the index."""

    files: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)


def resolve_focus(index: RepoIndex, focus: Iterable[str]) -> Focus:
    """Match each focus item as a file path, a (qualified) symbol, or words of a request."""
    result = Focus()
    items = [i.strip() for i in focus if i.strip()]
    if not items:
        return result
    known = set(index.files)
    by_stem: dict[str, list[str]] = {}
    for path in index.files:
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
        by_stem.setdefault(stem, []).append(path)
    lowered: dict[str, list[str]] = {}
    for name in index.definers:
        lowered.setdefault(name.lower(), []).append(name)
    for item in items:
        candidate = item.replace("\\", "/").removeprefix("./")
        if candidate in known:
            result.files.add(candidate)
            continue
        suffix = [p for p in index.files if p.endswith("/" + candidate)]
        if suffix:
            result.files.update(suffix)
            continue
        if item in index.definers:
            result.names.add(item)
            continue
        if "." in item and (names := index.names_for(item)):
            result.names.update(names)
            continue
        for word in _WORD.findall(item):
            result.names.update(lowered.get(word.lower(), ()))
            result.files.update(by_stem.get(word.lower(), ()))
    return result


def rank_files(index: RepoIndex, focus: Focus | None = None) -> dict[str, float]:
    """Personalised PageRank of every indexed file over the reference graph."""
    focus = focus or Focus()
    nodes = index.files
    cached = index.cached_ranks
    if not focus.files and not focus.names and cached is not None and len(cached) == len(nodes):
        return dict(zip(nodes, cached))
    position = {p: i for i, p in enumerate(nodes)}
    definers = _definers(index, position, focus)
    families = index.families
    # incoming[dst][src] = weight: propagation then sums each node's inputs with C-level
    # map/sum, which keeps 20 iterations over Django's ~50k edges near 50 ms.
    incoming: dict[int, dict[int, float]] = {}
    out_total = [0.0] * len(nodes)
    for path, refs in index.references.items():
        src = position.get(path)
        if src is None:
            continue
        same_family = definers.get(families.get(path, ""), {})
        for name, count in refs.items():
            targets = same_family.get(name)
            if not targets:
                continue
            weight = math.sqrt(count) / len(targets)
            if name in focus.names:
                weight *= FOCUS_WEIGHT
            elif name[0] == "_":
                weight *= 0.1
            for dst in targets:
                if dst != src:
                    into = incoming.setdefault(dst, {})
                    into[src] = into.get(src, 0.0) + weight
                    out_total[src] += weight
    personal = _personalisation(len(nodes), position, index, focus)
    columns = [(dst, list(into), list(into.values())) for dst, into in incoming.items()]
    dangling = [i for i, total in enumerate(out_total) if total == 0.0]
    inverse = [DAMPING / t if t else 0.0 for t in out_total]
    rank = personal[:]
    for _ in range(ITERATIONS):
        share = list(map(operator.mul, rank, inverse))
        leaked = DAMPING * sum(map(rank.__getitem__, dangling))
        new = [(1 - DAMPING + leaked) * p for p in personal]
        for dst, srcs, weights in columns:
            new[dst] += sum(map(operator.mul, map(share.__getitem__, srcs), weights))
        change = sum(map(abs, map(operator.sub, new, rank)))
        rank = new
        if change < TOLERANCE:  # the order of files has long stopped changing
            break
    return {p: rank[i] for i, p in enumerate(nodes)}


def _definers(index: RepoIndex, position: dict[str, int],
              focus: Focus) -> dict[str, dict[str, set[int]]]:
    """Language family → name → the files of that family defining it (a reference links
    only within its family: a Python ``filter(...)`` does not call jQuery's ``filter``)."""
    families = index.families
    definers: dict[str, dict[str, set[int]]] = {}
    for name, paths in index.definers.items():
        by_family: dict[str, set[int]] = {}
        for p in paths:
            by_family.setdefault(families.get(p, ""), set()).add(position[p])
        for family, where in by_family.items():
            if len(where) <= MAX_DEFINERS or name in focus.names:
                definers.setdefault(family, {})[name] = where
    return definers


def _personalisation(size: int, position: dict[str, int], index: RepoIndex,
                     focus: Focus) -> list[float]:
    """Where the random surfer restarts: named files, and the files defining focus names —
    a name defined in many files lends each of them less."""
    personal = [0.0] * size
    for path in focus.files:
        if path in position:
            personal[position[path]] += 1.0
    for name in focus.names:
        where = index.definers.get(name, ())
        for p in where:
            personal[position[p]] += 1.0 / len(where)
    total = sum(personal)
    if not total:
        return [1.0 / size] * size if size else []
    return [p / total for p in personal]


def rank_definitions(index: RepoIndex, focus: Focus, file_rank: dict[str, float],
                     limit: int | None = None) -> list[tuple[float, Definition]]:
    """Definitions best first: their file's rank, how widely the name is used, the focus."""
    scored = _scored(index, focus, file_rank)
    # Ties keep file order (both orderings are stable), so a class precedes its methods.
    if limit is not None and limit < len(scored):
        best = heapq.nlargest(limit, scored, key=_score)
    else:
        best = sorted(scored, key=_score, reverse=True)
    return [(score, Definition(path, *d)) for score, path, d, _ in best]


def _scored(index: RepoIndex, focus: Focus,
            file_rank: dict[str, float]) -> list[tuple[float, str, RawDef, int]]:
    """(score, path, raw definition, running number over ``raw``) of every definition."""
    # How many files of each language family use each name, counted in C.
    families = index.families
    members: dict[str, list[dict[str, int]]] = {}
    for path, refs in index.references.items():
        members.setdefault(families.get(path, ""), []).append(refs)
    used_by = {family: Counter(chain.from_iterable(refs)) for family, refs in members.items()}
    scored: list[tuple[float, str, RawDef, int]] = []
    definers = index.definers
    empty: Counter[str] = Counter()
    for path, defs in index.raw.items():
        used = used_by.get(families.get(path, ""), empty)
        base = file_rank.get(path, 0.0)
        if path in focus.files:
            base *= FOCUS_WEIGHT
        for d in defs:
            name = d[0]
            score = base * (1.0 + math.log1p(used.get(name, 0)))
            if name in focus.names:
                score *= 1.0 + FOCUS_WEIGHT / len(definers[name])
            if name[0] == "_" and not name.startswith("__"):
                score *= 0.5
            scored.append((score, path, d, len(scored)))
    return scored


def _definition_order(index: RepoIndex, file_rank: dict[str, float]) -> list[tuple[float, int]]:
    """Every definition's unfocused score, best first, as (score, running number)."""
    best = sorted(_scored(index, Focus(), file_rank), key=_score, reverse=True)
    return [(score, number) for score, _, _, number in best]


def _cached_definitions(index: RepoIndex, order: list[tuple[float, int]],
                        limit: int) -> list[tuple[float, Definition]]:
    """The first ``limit`` of a cached order, as :func:`rank_definitions` would return them."""
    wanted = sorted((number, rank) for rank, (_, number) in enumerate(order[:limit]))
    out: list[tuple[float, Definition] | None] = [None] * len(wanted)
    start, pick = 0, 0
    for path, defs in index.raw.items():
        end = start + len(defs)
        while pick < len(wanted) and wanted[pick][0] < end:
            number, rank = wanted[pick]
            out[rank] = (order[rank][0], Definition(path, *defs[number - start]))
            pick += 1
        start = end
    return [item for item in out if item is not None]


def _score(item: tuple[float, ...]) -> float:  # type: ignore[type-arg]
    return item[0]


# --- rendering ----------------------------------------------------------------------------

@dataclass
class RepoMap:
    """A rendered map: the text, its estimated tokens, and what made it in."""

    text: str
    tokens: int
    definitions: list[Definition]
    files: list[str]  # files shown, best first
    ranks: dict[str, float]


Item = Definition | str  # a definition, or a file with nothing to show but its path


def repo_map(index: RepoIndex, focus: Iterable[str] = (), tokens: int = 2048) -> RepoMap:
    """The best-ranked items that fit in ``tokens`` (estimated), rendered."""
    from hybridcode.models.base import estimate_tokens

    resolved = resolve_focus(index, focus)
    ranks = rank_files(index, resolved)
    # Every item costs at least one token, so no more than ``tokens`` items can fit.
    limit = max(tokens, 0)
    order = index.cached_order
    if not resolved.files and not resolved.names and order is not None:
        scored: list[tuple[float, Item]] = list(_cached_definitions(index, order, limit))
    else:
        scored = list(rank_definitions(index, resolved, ranks, limit))
    for path in index.files:
        if not index.raw.get(path):
            weight = FOCUS_WEIGHT if path in resolved.files else 0.5
            scored.append((ranks.get(path, 0.0) * weight, path))
    scored.sort(key=_score, reverse=True)
    candidates = [item for _, item in scored]
    while True:
        # Vet the files whose signatures would be shown; if the scan flags any, they drop out
        # and the next-best items take their place (each round flags at least one more file).
        items = [i for i in candidates
                 if (i if isinstance(i, str) else i.path) not in index.excluded][:limit]
        lo, best = _fit(index, items, tokens)
        if not index.withhold({i.path for i in items[:lo] if isinstance(i, Definition)}):
            break
    chosen = items[:lo]
    shown_files = list(dict.fromkeys(i if isinstance(i, str) else i.path for i in chosen))
    return RepoMap(text=best, tokens=estimate_tokens(best) if best else 0,
                   definitions=[i for i in chosen if isinstance(i, Definition)],
                   files=shown_files, ranks=ranks)


def _fit(index: RepoIndex, items: list[Item], tokens: int) -> tuple[int, str]:
    """How many of ``items`` (a prefix) fit in ``tokens`` once rendered, and that rendering."""
    from hybridcode.models.base import estimate_tokens

    lo, hi = 0, len(items)
    best = ""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        text = render(index, items[:mid])
        if estimate_tokens(text) <= tokens:
            lo, best = mid, text
        else:
            hi = mid - 1
    return lo, best


def render(index: RepoIndex, items: list[Item]) -> str:
    """Files in rank order; in each, the chosen signatures by line, inside their classes."""
    chosen: dict[str, set[Definition]] = {}
    for item in items:
        if isinstance(item, str):
            chosen.setdefault(item, set())
        else:
            chosen.setdefault(item.path, set()).add(item)
    out: list[str] = []
    for path, picked in chosen.items():
        out.append(f"{path}:" if picked else path)
        if not picked:
            continue
        by_qualname: dict[str, list[Definition]] = {}
        for raw in index.raw.get(path, ()):
            d = Definition(path, *raw)
            by_qualname.setdefault(d.qualname, []).append(d)
        shown: set[Definition] = set(picked)
        for d in picked:  # the enclosing classes/functions give a method its context
            shown.update(_ancestors(by_qualname, d))
        for d in sorted(shown, key=lambda x: (x.line, -x.end_line)):
            depth = len(_ancestors(by_qualname, d))
            out.append(f"{d.line:>6}| {'    ' * depth}{d.signature}")
    return "\n".join(out) + ("\n" if out else "")


def _ancestors(by_qualname: dict[str, list[Definition]], d: Definition) -> list[Definition]:
    """The definitions enclosing ``d``: each proper prefix of its qualified name that also
    contains it by line (a Go method ``Server.Start`` is not inside ``type Server``)."""
    found: list[Definition] = []
    parts = d.qualname.split(".")
    for i in range(1, len(parts)):
        for a in by_qualname.get(".".join(parts[:i]), ()):
            if a.line <= d.line and a.end_line >= d.end_line:
                found.append(a)
    return found
