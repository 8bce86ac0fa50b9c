"""A small real Python project, plans written straight into it, and scripted model answers for
the implement tests. The models are FakeOllama and FakeAnthropic behind the real SDKs."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridcode.config import Settings, load_settings
from hybridcode.plan.store import ARCHITECTURE, PlanMeta, PlanStore, now_iso
from hybridcode.spec import AcceptanceTests, Spec, SpecItem, save_spec

OPS_PY = '''"""Arithmetic for the sample project."""


def double(x: int) -> int:
    return 2 * x
'''


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def make_project(root: Path) -> Path:
    """A git repository with a package ``calc`` and one commit; ``.hybrid/`` is ignored as
    ``hybrid init`` would ignore it."""
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "ops.py").write_text(OPS_PY)
    (root / ".gitignore").write_text(".hybrid/\n")
    (root / "README.md").write_text("# calc\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "calc")
    return root


def marker(item_id: str) -> str:
    """A tag in each item's description, so a fake server can tell which item a prompt is for."""
    return f"[[item:{item_id}]]"


def fn_item(item_id: str, name: str, tests: str, *, depends_on: list[str] | None = None,
            route: str = "local", file: str | None = None) -> SpecItem:
    """A function ``name(a, b)`` created in ``calc/<item>.py`` (or ``file``)."""
    return SpecItem(
        id=item_id, title=f"{name}(a, b)", kind="function", category="data_transformation",
        file=file or f"calc/{item_id.replace('-', '_')}.py", symbol=name, action="create",
        signature=f"def {name}(a: int, b: int) -> int",
        description=f"Return the {name} of a and b. {marker(item_id)}",
        tests=AcceptanceTests(code=tests), depends_on=depends_on or [], route=route,
        route_reason="test")


def arith_tests(module: str, name: str, cases: list[tuple[int, int, int]]) -> str:
    lines = [f"from {module} import {name}", "", ""]
    for n, (a, b, want) in enumerate(cases):
        lines += [f"def test_{name}_{n}():", f"    assert {name}({a}, {b}) == {want}", "", ""]
    return "\n".join(lines).rstrip() + "\n"


def add_item(item_id: str = "add", **kw: Any) -> SpecItem:
    module = f"calc.{item_id.replace('-', '_')}"
    return fn_item(item_id, "add", arith_tests(module, "add", [(1, 2, 3), (-1, 1, 0)]), **kw)


def write_plan(root: Path, items: list[SpecItem], plan_id: str = "p1") -> str:
    store = PlanStore(root)
    spec = Spec(plan_id=plan_id, title="calc functions", items=items)
    save_spec(spec, store.spec_path(plan_id))
    store.write_text(plan_id, ARCHITECTURE, "## Design\nSmall pure functions in calc/.\n")
    head = git(root, "rev-parse", "HEAD").strip()
    meta = PlanMeta(plan_id=plan_id, created_at=now_iso(), base_commit=head,
                    title="calc functions", items=len(items))
    store.save_meta(meta)
    return plan_id


def code(name: str, expr: str) -> str:
    return f"```python\ndef {name}(a: int, b: int) -> int:\n    return {expr}\n```\n"


def settings_for(root: Path, ollama: Any, claude: Any, **overrides: Any) -> Settings:
    environ = {"OLLAMA_HOST": ollama.host, "ANTHROPIC_API_KEY": "sk-test",
               "ANTHROPIC_BASE_URL": claude.base_url}
    return load_settings(root, environ=environ, overrides=overrides or None)


def env_for(ollama: Any, claude: Any) -> dict[str, str]:
    return {"OLLAMA_HOST": ollama.host, "ANTHROPIC_API_KEY": "sk-test",
            "ANTHROPIC_BASE_URL": claude.base_url}


# ---------------------------------------------------------------------------------- script

@dataclass
class Script:
    """Answers per item, in order (the last one repeats), for one backend.

    Install with ``fake.responder = script``. Every request is kept per item, so a test can
    read what the model saw (``script.seen["add"][1]`` is the text of the second request).
    """

    answers: dict[str, list[Any]] = field(default_factory=dict)
    delay: float | Callable[[str], float] = 0.0
    seen: dict[str, list[str]] = field(default_factory=dict)
    active: int = 0
    max_active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: Any) -> Any:
        text = json.dumps(body)
        found = re.search(r"\[\[item:([a-z0-9-]+)\]\]", text)
        item_id = found.group(1) if found else "?"
        with self._lock:
            self.seen.setdefault(item_id, []).append(_prompt_text(body))
            n = len(self.seen[item_id]) - 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            delay = self.delay(item_id) if callable(self.delay) else self.delay
            if delay:
                time.sleep(delay)
            answers = self.answers.get(item_id)
            if not answers:
                return f"no scripted answer for item {item_id}"
            return answers[min(n, len(answers) - 1)]
        finally:
            with self._lock:
                self.active -= 1

    def count(self, item_id: str) -> int:
        return len(self.seen.get(item_id, []))


def _prompt_text(body: dict[str, Any]) -> str:
    """System and message text of an Ollama or Anthropic request, joined."""
    parts: list[str] = []

    def add(content: Any) -> None:
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    parts.append(block["text"])

    add(body.get("system"))
    for message in body.get("messages") or []:
        add(message.get("content"))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------- the user's tree

def user_tree(root: Path) -> dict[str, str]:
    """HEAD, the index, the working tree's status and the bytes of every tracked file."""
    files = git(root, "ls-files").split()
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    return {"head": git(root, "rev-parse", "HEAD"), "branch": git(root, "branch", "--show-current"),
            "index": git(root, "ls-files", "-s"), "status": git(root, "status", "--porcelain"),
            "files": digest.hexdigest()}


def calls_per_item(root: Path, plan_id: str = "p1") -> dict[str, int]:
    from hybridcode.ledger import Ledger

    with Ledger.open(root) as ledger:
        rows = ledger.query("SELECT item_id, COUNT(*) FROM calls WHERE plan_id = ? AND "
                            "outcome != 'budget' GROUP BY item_id", (plan_id,))
    return {row[0]: row[1] for row in rows}


def attempts_of(root: Path, item_id: str, plan_id: str = "p1") -> list[dict[str, Any]]:
    from hybridcode.ledger import Ledger

    with Ledger.open(root) as ledger:
        rows = ledger.query("SELECT rung, attempt, model, outcome, feedback FROM attempts "
                            "WHERE plan_id = ? AND item_id = ? ORDER BY id", (plan_id, item_id))
    return [dict(row) for row in rows]
