"""The judge of a doc item: docstrings added, code untouched, the project's convention kept.

Three checks, on Python files, in this order (the first that fails is the verdict):

1. **The code is identical.** The file's syntax tree, with every docstring taken out, must equal
   the tree before the change (comments and formatting are not in the tree, so they may
   change). The first difference is named by its line, before and after.
2. **Every named symbol has a docstring** (``document`` in the spec item).
3. **The docstrings keep the convention** — google, numpy or pep257: the item's ``doc_style``,
   else ``[checks] docstring_convention``, else the project's ruff or pydocstyle setting, else
   what the file's own docstrings use, else pep257. Checked with ruff's pydocstyle rules (``D``),
   on the named symbols only: the rest of the file is not the item's business.

Why ruff: pydocstyle itself is deprecated in favour of ruff's port of its rules, which knows the
three conventions, reads a file from stdin and answers in JSON; it is one binary with no Python
dependencies. It only parses the file, so it runs outside the sandbox.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CONVENTIONS", "DocVerdict", "check_doc_change", "code_difference",
           "detect_convention", "missing_docstrings"]

CONVENTIONS = ("google", "numpy", "pep257")
# D100/D104: a module's or package's own docstring is not what a symbol's doc item asks for.
_IGNORED = {"D100", "D104"}


@dataclass
class DocVerdict:
    ok: bool
    stage: str  # code / missing / convention / ok
    problems: list[str] = field(default_factory=list)
    convention: str = ""

    def feedback(self) -> str:
        heads = {"code": "The code changed; a doc item may change only docstrings and comments",
                 "missing": "Symbols still without a docstring",
                 "convention": f"Docstrings break the {self.convention} convention"}
        lines = [heads.get(self.stage, "Docstrings accepted") + ":"] if self.problems else \
            [f"docstrings accepted ({self.convention} convention)"]
        lines += [f"- {p}" for p in self.problems[:20]]
        return "\n".join(lines)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body.pop(0)
            # A body of `pass` or `...` alone is the same code as a docstring alone.
            if not isinstance(node, ast.Module) and (not body or (
                    len(body) == 1 and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and body[0].value.value is Ellipsis)):
                node.body = [ast.Pass()]
    return tree


_SKIP_FIELDS = {"ctx", "type_comment", "kind"}


def _difference(a: object, b: object, where: tuple[ast.AST | None, ast.AST | None]
                ) -> tuple[ast.AST | None, ast.AST | None] | None:
    """The innermost located nodes (before, after) where ``a`` and ``b`` first differ."""
    if isinstance(a, ast.AST) and isinstance(b, ast.AST):
        here = (a if hasattr(a, "lineno") else where[0], b if hasattr(b, "lineno") else where[1])
        if type(a) is not type(b):
            return here  # operators (`<` made `<=`) carry no line: their expression's
        for name in a._fields:
            if name in _SKIP_FIELDS:
                continue
            found = _difference(getattr(a, name, None), getattr(b, name, None), here)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b):
            found = _difference(x, y, where)
            if found:
                return found
        if len(a) != len(b):
            extra_a = a[len(b)] if len(a) > len(b) else None
            extra_b = b[len(a)] if len(b) > len(a) else None
            return (extra_a if isinstance(extra_a, ast.AST) else where[0],
                    extra_b if isinstance(extra_b, ast.AST) else where[1])
        return None
    return None if a == b else where


def _line(source: str, node: ast.AST | None) -> tuple[int, str]:
    lineno = getattr(node, "lineno", 0) or 0
    lines = source.splitlines()
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    return lineno, text


def code_difference(before: str, after: str) -> str | None:
    """Where the code (docstrings aside) of ``after`` differs from ``before``, naming the line;
    None when it is the same code."""
    try:
        old = _strip_docstrings(ast.parse(before))
    except SyntaxError:
        return None  # nothing to compare with: the syntax stage judges the new file
    try:
        new = _strip_docstrings(ast.parse(after))
    except SyntaxError as exc:
        return f"line {exc.lineno}: the file no longer parses ({exc.msg})"
    found = _difference(old, new, (None, None))
    if found is None:
        return None
    (old_no, old_text), (new_no, new_text) = _line(before, found[0]), _line(after, found[1])
    if new_no:
        was = f" (was line {old_no}: `{old_text}`)" if old_no else " (a line added)"
        return f"line {new_no} changed: `{new_text}`{was}"
    return f"line {old_no} removed: `{old_text}`"


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}

    def collect(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[prefix + node.name] = node
                if isinstance(node, ast.ClassDef):
                    collect(node.body, f"{prefix}{node.name}.")

    collect(tree.body, "")
    return found


def missing_docstrings(source: str, names: list[str]) -> list[str]:
    """The names in ``names`` that are not defined in ``source`` or have no docstring."""
    definitions = _definitions(ast.parse(source))
    out = []
    for name in names:
        node = definitions.get(name)
        if node is None:
            out.append(f"`{name}` is not defined in the file")
        elif not (ast.get_docstring(node) or "").strip():  # type: ignore[arg-type]
            out.append(f"`{name}` (line {node.lineno}) has no docstring")  # type: ignore[attr-defined]
    return out


def _ruff_config(root: Path) -> str | None:
    for name in ("ruff.toml", ".ruff.toml", "pyproject.toml"):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            match = re.search(r"\[(?:tool\.)?(?:ruff\.)?(?:lint\.)?pydocstyle\][^\[]*?"
                              r"convention\s*=\s*[\"'](\w+)[\"']", text)
            if match and match.group(1) in CONVENTIONS:
                return match.group(1)
    setup = root / "setup.cfg"
    if setup.is_file():
        match = re.search(r"\[pydocstyle\][^\[]*?convention\s*=\s*(\w+)",
                          setup.read_text(encoding="utf-8", errors="replace"))
        if match and match.group(1) in CONVENTIONS:
            return match.group(1)
    return None


def detect_convention(root: Path, source: str = "", configured: str | None = None) -> str:
    """The convention docstrings are held to: ``configured``, else the project's ruff or
    pydocstyle setting, else the style of the docstrings already in ``source``, else pep257."""
    if configured:
        return configured
    found = _ruff_config(Path(root))
    if found:
        return found
    if re.search(r"^\s*(Parameters|Returns|Raises)\n\s*-{3,}", source, re.M):
        return "numpy"
    if re.search(r"^\s*(Args|Arguments|Returns|Raises|Yields):\s*$", source, re.M):
        return "google"
    return "pep257"


def _symbol_lines(source: str, names: list[str]) -> dict[str, tuple[int, int]]:
    """name → (first line of the definition, last line of its docstring)."""
    definitions = _definitions(ast.parse(source))
    spans = {}
    for name in names:
        node = definitions.get(name)
        if node is None:
            continue
        body = node.body  # type: ignore[attr-defined]
        end = node.lineno  # type: ignore[attr-defined]
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            end = body[0].end_lineno or body[0].lineno
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])  # type: ignore[attr-defined]
        spans[name] = (first, end)
    return spans


def convention_problems(source: str, names: list[str], convention: str,
                        filename: str = "module.py") -> list[str] | None:
    """ruff's pydocstyle findings on the named symbols' docstrings; None when ruff cannot run."""
    argv = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "D",
            "--config", f'lint.pydocstyle.convention = "{convention}"',
            "--output-format", "json", "--stdin-filename", filename, "-"]
    try:
        proc = subprocess.run(argv, input=source, capture_output=True, text=True, timeout=60,
                              check=False)
        findings = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    if proc.returncode not in (0, 1):
        return None
    spans = _symbol_lines(source, names)
    out = []
    for finding in findings:
        code = finding.get("code") or ""
        row = (finding.get("location") or {}).get("row", 0)
        if code in _IGNORED:
            continue
        owner = next((n for n, (a, b) in spans.items() if a <= row <= b), None)
        if owner is not None:
            out.append(f"`{owner}`, line {row}: {code} {finding.get('message', '')}")
    return out


def check_doc_change(before: str, after: str, names: list[str], *, root: Path,
                     style: str | None = None, filename: str = "module.py") -> DocVerdict:
    """The whole verdict on a doc item's change from ``before`` to ``after``."""
    changed = code_difference(before, after)
    if changed:
        return DocVerdict(False, "code", [changed])
    missing = missing_docstrings(after, names)
    if missing:
        return DocVerdict(False, "missing", missing)
    convention = detect_convention(root, before, style)
    problems = convention_problems(after, names, convention, filename)
    if problems is None:
        return DocVerdict(False, "convention", [
            "ruff could not run to check the docstring convention (install hybridcode's "
            "dependencies again: pip install hybridcode)"], convention)
    if problems:
        return DocVerdict(False, "convention", problems, convention)
    return DocVerdict(True, "ok", [], convention)
