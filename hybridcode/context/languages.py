"""Grammar loading. py-tree-sitter >= 0.25 with the official per-language grammar wheels.

Why not ``tree-sitter-languages``: 1.10.2 fails with current py-tree-sitter
(``__init__() takes exactly 1 argument``) and works only with the unmaintained 0.21. Its successor
``tree-sitter-language-pack`` 1.x downloads grammars at run time (fails offline) and 0.13.0
weighs about 184 MB. The per-language wheels are small, offline and maintained (docs/context.md).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING

from hybridcode.errors import ContextError

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

# language name → (module, function returning the grammar pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
}


def language_for_path(path: str | PurePath) -> str | None:
    """The language name for a file, or ``None`` when no grammar covers it."""
    return EXTENSIONS.get(PurePath(path).suffix.lower())


@lru_cache(maxsize=None)
def get_language(name: str) -> Language:
    from tree_sitter import Language

    try:
        module_name, func = GRAMMARS[name]
    except KeyError:
        raise ContextError(f"no grammar for language {name!r}",
                           f"supported: {', '.join(sorted(GRAMMARS))}") from None
    try:
        module = importlib.import_module(module_name)
        return Language(getattr(module, func)())
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        pkg = module_name.replace("_", "-")
        raise ContextError(f"the {name} grammar could not be loaded ({exc})",
                           f'reinstall it: pip install -U "{pkg}" "tree-sitter>=0.25"') from exc


def get_parser(name: str) -> Parser:
    """A new parser for ``name`` (parsers are not thread-safe; languages are shared)."""
    from tree_sitter import Parser

    return Parser(get_language(name))


def query_source(name: str, query: str = "tags") -> str | None:
    """The grammar wheel's own ``queries/<query>.scm`` when it ships one."""
    from importlib import resources

    module_name = GRAMMARS[name][0]
    try:
        path = resources.files(module_name) / "queries" / f"{query}.scm"
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (ModuleNotFoundError, FileNotFoundError):
        return None
