"""Benchmark the repository map on a large real repository: Django's source distribution.

    python tests/bench/bench_repomap.py                 # downloads the Django 5.1 sdist
    python tests/bench/bench_repomap.py PATH            # an unpacked tree or a .tar.gz

The tree is copied into a temporary git repository (~2,800 Python files, ~6,800 files in all).
Each measurement runs in a fresh subprocess, so imports, the cache and peak memory are honest:

- raw parse: tree-sitter parsing, single process, of exactly the files the map parses (the floor)
- cold map: no cache; index (parallel parse, tags) + rank + render a 2,048-token map, with the
  secret scan of the files the map shows (content is vetted where it is shown)
- cold full vetting: no cache; index, then a secret scan of every source file, as
  `hybrid map --json` (which lists every file's symbols) does
- warm map: same, from the cache; also the `hybrid map` command end to end
- peak memory: max RSS of the indexing process and of its largest worker

Goals (issue 3): cold <= 1.5x raw parse, warm <= 0.3 s, peak memory <= 400 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

CHILD_PARSE = r"""
import json, os, sys, time
from hybridcode.context.repomap import build_index
from hybridcode.context.languages import get_parser
root = sys.argv[1]
index = build_index(root, use_cache=False, workers=1)   # only to learn which files get parsed
datas = []
for path, lang in index.languages.items():
    if path in index.raw:
        with open(os.path.join(root, path), "rb") as fh:
            datas.append((lang, fh.read()))
parsers = {lang: get_parser(lang) for lang, _ in datas}
start = time.perf_counter()
for lang, data in datas:
    parsers[lang].parse(data)
print(json.dumps({"seconds": time.perf_counter() - start, "files": len(datas),
                  "bytes": sum(len(d) for _, d in datas)}))
"""

CHILD_MAP = r"""
import json, os, resource, sys, time
start = time.perf_counter()
from hybridcode.context.repomap import build_index, repo_map
imported = time.perf_counter()
index = build_index(sys.argv[1])
indexed = time.perf_counter()
if os.environ.get("BENCH_VET_ALL"):
    index.symbols  # what `hybrid map --json` does: every source file scanned for secrets
result = repo_map(index, sys.argv[2:], 2048)
done = time.perf_counter()
kb = lambda who: resource.getrusage(who).ru_maxrss
print(json.dumps({
    "import": imported - start, "index": indexed - imported, "rank_render": done - indexed,
    "total": done - imported, "stats": vars(index.stats), "tokens": result.tokens,
    "excluded": len(index.excluded), "definitions": sum(len(v) for v in index.raw.values()),
    "vetted": len(index.cleared) + sum(r.startswith("secret") for r in index.excluded.values()),
    "rss_self_mb": kb(resource.RUSAGE_SELF) / 1024,
    "rss_workers_mb": kb(resource.RUSAGE_CHILDREN) / 1024}))
"""


def fetch_django(workdir: Path) -> Path:
    print("downloading the Django 5.1 sdist with pip ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "--quiet", "django==5.1.*", "-d", str(workdir)], check=True)
    return next(workdir.glob("[dD]jango-*.tar.gz"))


def unpack(source: Path, workdir: Path) -> Path:
    if source.is_dir():
        return source
    with tarfile.open(source) as tar:
        tar.extractall(workdir / "src", filter="data")
    return next((workdir / "src").iterdir())


def make_repo(tree: Path, workdir: Path) -> Path:
    repo = workdir / "repo"
    shutil.copytree(tree, repo, ignore=shutil.ignore_patterns(".git", ".hybrid"))
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "django"], cwd=repo, check=True)
    return repo


def child(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-") as tmp:
        workdir = Path(tmp)
        source = Path(argv[0]) if argv else fetch_django(workdir)
        repo = make_repo(unpack(source, workdir), workdir)
        tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True,
                                 check=True).stdout.splitlines()
        print(f"repository: {len(tracked)} files, "
              f"{sum(p.endswith('.py') for p in tracked)} Python files")

        floor = min((child(CHILD_PARSE, str(repo)) for _ in range(2)),
                    key=lambda r: r["seconds"])
        print(f"raw parse (floor):  {floor['seconds']:.2f} s  ({floor['files']} files, "
              f"{floor['bytes'] / 1e6:.1f} MB, one process)")

        colds = []
        for _ in range(2):
            shutil.rmtree(repo / ".hybrid", ignore_errors=True)
            colds.append(child(CHILD_MAP, str(repo)))
        cold = min(colds, key=lambda r: r["total"])
        print(f"cold map:           {cold['total']:.2f} s  (index {cold['index']:.2f} s, "
              f"rank+render {cold['rank_render']:.2f} s; {cold['stats']['analysed']} files "
              f"analysed, {cold['definitions']} definitions, {cold['excluded']} excluded)  "
              f"= {cold['total'] / floor['seconds']:.2f}x raw parse  [goal <= 1.5x]")

        print(f"                    ({cold['vetted']} files vetted for secrets: the ones the map "
              f"shows)")

        fulls = []
        for _ in range(2):
            shutil.rmtree(repo / ".hybrid", ignore_errors=True)
            fulls.append(child(CHILD_MAP, str(repo), env={"BENCH_VET_ALL": "1"}))
        full = min(fulls, key=lambda r: r["total"])
        print(f"cold, every file vetted: {full['total']:.2f} s  "
              f"= {full['total'] / floor['seconds']:.2f}x raw parse  ({full['vetted']} files "
              f"scanned for secrets, as `hybrid map --json` does)")
        shutil.rmtree(repo / ".hybrid", ignore_errors=True)
        child(CHILD_MAP, str(repo))  # the cache as a plain cold map leaves it

        warms = [child(CHILD_MAP, str(repo)) for _ in range(3)]
        warm = min(warms, key=lambda r: r["total"])
        print(f"warm map:           {warm['total']:.2f} s  (index {warm['index']:.2f} s, "
              f"rank+render {warm['rank_render']:.2f} s, {warm['stats']['cached']} files "
              f"from cache; imports {warm['import']:.2f} s)  [goal <= 0.3 s]")
        focused = min((child(CHILD_MAP, str(repo), "QuerySet", "filter") for _ in range(2)),
                      key=lambda r: r["total"])
        print(f"warm map, focused:  {focused['total']:.2f} s  (--focus QuerySet filter)")

        hybrid = shutil.which("hybrid")
        if hybrid:
            walls = []
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run([hybrid, "map", str(repo)], check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
            print(f"`hybrid map` warm:  {min(walls):.2f} s wall (interpreter start included)")

        peak = max(cold["rss_self_mb"], cold["rss_workers_mb"])
        print(f"peak memory (cold): {cold['rss_self_mb']:.0f} MB main process, "
              f"{cold['rss_workers_mb']:.0f} MB largest worker  [goal <= 400 MB]"
              f"{'' if peak <= 400 else '  OVER'}")
        print(f"peak memory (warm): {warm['rss_self_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
