"""``hybrid bench import-polyglot``: Aider's polyglot benchmark as a hybrid bench suite.

The benchmark (the public ``Aider-AI/polyglot-benchmark`` repository) holds 225 Exercism
exercises in six languages; each exercise folder has its instructions (``.docs/``), a stub,
the tests and a reference solution, named in ``.meta/config.json``::

    {"files": {"solution": ["bowling.py"], "test": ["bowling_test.py"],
               "example": [".meta/example.py"], "editor": [...]}}

One task per exercise (see :mod:`hybridcode.bench.exercise` for the task layout): the
instructions as the request — ``.docs/introduction.md``, ``instructions.md`` and
``instructions.append.md`` in that order, as Aider's harness builds them — the stub as the file
to modify, the tests (and Go's read-only ``editor`` files, which the tests need) as hidden
tests, the example as the reference. Exercism's JavaScript track marks every test but the first
``xtest`` for students to enable one by one; the importer enables them all (``xtest(`` →
``test(``, ``xit(`` → ``it(``, ``test.skip(`` → ``test(``), as a full run of the exercise
would, and notes it in the task. The exercises are MIT-licensed (each Exercism track's
LICENSE); the suite records the checkout's commit and the licence, and is the user's import —
hybrid ships none of it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hybridcode.errors import UsageError

__all__ = ["IMPORTABLE", "ImportResult", "import_polyglot"]

IMPORTABLE = ("python", "go", "javascript")
_BENCHMARK = "Aider-AI/polyglot-benchmark"
_SKIPPED_FILES = {".eslintrc", ".npmrc"}
_DISABLED = [(re.compile(r"\bxtest\("), "test("), (re.compile(r"\bxit\("), "it("),
             (re.compile(r"\b(test|it)\.skip\("), r"\1("),
             (re.compile(r"\bxdescribe\("), "describe("),
             (re.compile(r"\bdescribe\.skip\("), "describe(")]
_LICENSE = """\
The exercises in this folder were imported by `hybrid bench import-polyglot` from a checkout of
the public {benchmark} repository (commit {commit}), which collects exercises of the Exercism
language tracks. Exercism's tracks are published under the MIT licence: each task keeps the
exercise's own LICENSE file where the track ships one, and the notice below covers the rest.

The MIT License (MIT)

Copyright (c) Exercism

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


@dataclass
class ImportResult:
    suite: Path
    commit: str
    imported: dict[str, list[str]] = field(default_factory=dict)  # language → task ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (exercise, why)
    node_packages: dict[str, str] = field(default_factory=dict)  # what `npm install` needs

    def to_dict(self) -> dict:
        return {"suite": str(self.suite), "commit": self.commit,
                "imported": {k: len(v) for k, v in self.imported.items()},
                "tasks": self.imported,
                "skipped": [{"exercise": e, "why": w} for e, w in self.skipped],
                "node_packages": self.node_packages}


def import_polyglot(checkout: Path, out: Path, languages: list[str] | None = None
                    ) -> ImportResult:
    """Write one task per exercise of ``languages`` (default: every importable one) under
    ``out``; the folder must be new or empty."""
    checkout = Path(checkout)
    wanted = list(dict.fromkeys(languages or IMPORTABLE))
    unknown = [lang for lang in wanted if lang not in IMPORTABLE]
    if unknown:
        raise UsageError(f"--languages {unknown[0]} cannot be imported",
                         f"hybrid judges {', '.join(IMPORTABLE)}; C++, Java and Rust "
                         "exercises need runners hybrid does not have")
    found = [lang for lang in wanted if (checkout / lang / "exercises" / "practice").is_dir()]
    if not found:
        raise UsageError(f"{checkout} is not a checkout of the polyglot benchmark (no "
                         f"{wanted[0]}/exercises/practice folder)",
                         f"clone {_BENCHMARK} and pass its folder")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already has files", "pass --out a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    result = ImportResult(out, _commit(checkout))
    for lang in found:
        for exercise in sorted((checkout / lang / "exercises" / "practice").iterdir()):
            if not (exercise / ".meta" / "config.json").is_file():
                continue
            name = f"{lang}/{exercise.name}"
            why = _import_one(lang, exercise, out, result)
            if why is not None:
                result.skipped.append((name, why))
    (out / "LICENSE-NOTICE.md").write_text(
        _LICENSE.format(benchmark=_BENCHMARK, commit=result.commit), encoding="utf-8")
    if result.node_packages:
        manifest = {"name": "hybrid-polyglot-suite", "private": True,
                    "description": "Runners for the imported JavaScript exercises: run "
                                   "`npm install` here once (docs/bench.md).",
                    "devDependencies": dict(sorted(result.node_packages.items()))}
        (out / "package.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                          encoding="utf-8")
    return result


def _import_one(lang: str, exercise: Path, out: Path, result: ImportResult) -> str | None:
    """Write the task for one exercise; the reason when it cannot be imported."""
    try:
        config = json.loads((exercise / ".meta" / "config.json").read_text(encoding="utf-8"))
        files = config["files"]
        solution, tests, examples = files["solution"], files["test"], files["example"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable .meta/config.json ({exc})"
    if len(solution) != 1:
        return f"{len(solution)} solution files: a task modifies one file"
    if len(examples) != 1:
        return f"{len(examples)} example files: a task has one reference"
    hidden = [*tests, *files.get("editor", [])]
    missing = [p for p in [*solution, *hidden, *examples] if not (exercise / p).is_file()]
    if missing:
        return f"{missing[0]} named in .meta/config.json is missing"
    task_id = f"{lang}-{exercise.name}"
    task = out / task_id
    notes: list[str] = []
    # files/: the exercise as a student gets it, less its tests, docs and metadata.
    skip = {PurePosixPath(p).as_posix() for p in hidden}
    for path in sorted(exercise.rglob("*")):
        rel = path.relative_to(exercise).as_posix()
        if (not path.is_file() or rel.split("/")[0] in (".meta", ".docs")
                or rel in skip or path.name in _SKIPPED_FILES):
            continue
        target = task / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    enabled = 0
    for rel in hidden:
        text = (exercise / rel).read_text(encoding="utf-8")
        if lang == "javascript":
            for pattern, repl in _DISABLED:
                text, n = pattern.subn(repl, text)
                enabled += n
        target = task / "hidden" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if enabled:
        notes.append(f"{enabled} test(s) marked for students to enable (xtest, test.skip) "
                     "run like the others")
    example = exercise / examples[0]
    shutil.copyfile(example, task / f"reference{PurePosixPath(solution[0]).suffix}")
    if lang == "javascript":
        _collect_node_packages(exercise, result.node_packages)
    request = _instructions(exercise)
    title = str(config.get("blurb") or exercise.name).strip()
    (task / "task.toml").write_text(_toml({
        "id": task_id, "kind": "module", "action": "modify", "language": lang,
        "category": "polyglot", "title": title, "file": solution[0], "request": request,
        "notes": notes,
    }, source={"benchmark": _BENCHMARK, "commit": result.commit,
               "exercise": f"{lang}/exercises/practice/{exercise.name}",
               "license": "MIT (Exercism)"}), encoding="utf-8")
    result.imported.setdefault(lang, []).append(task_id)
    return None


def _instructions(exercise: Path) -> str:
    docs = exercise / ".docs"
    parts = [(docs / name).read_text(encoding="utf-8").strip()
             for name in ("introduction.md", "instructions.md", "instructions.append.md")
             if (docs / name).is_file()]
    return "\n\n".join(p for p in parts if p)


def _collect_node_packages(exercise: Path, packages: dict[str, str]) -> None:
    """The runner packages the exercise's ``package.json`` asks for (jest, babel and its
    preset), minus the linters the bench does not run."""
    try:
        data = json.loads((exercise / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for name, version in dict(data.get("devDependencies") or {}).items():
        if "eslint" in name or name.startswith("@types/"):
            continue
        packages.setdefault(str(name), str(version))


def _commit(checkout: Path) -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    proc = subprocess.run([git, "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown (not a git checkout)"


def _toml(values: dict, source: dict[str, str]) -> str:
    lines = [f"{key} = {_value(value)}" for key, value in values.items()]
    lines.append("")
    lines.append("[source]")
    lines += [f"{key} = {_value(value)}" for key, value in source.items()]
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
