"""`hybrid --help` must stay light: no SDK, git or parser library is imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("anthropic", "ollama", "openai", "git", "tree_sitter", "unidiff", "detect_secrets",
         "httpx", "sqlite3")


def _imported_modules(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "hybridcode", *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert names, "python -X importtime printed nothing"
    return names


def test_help_imports_no_heavy_module():
    names = _imported_modules("--help")
    loaded = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert loaded == [], f"`hybrid --help` imported {loaded}"


def test_version_imports_no_heavy_module():
    names = _imported_modules("--version")
    assert not [n for n in names if n.split(".")[0] in HEAVY]
