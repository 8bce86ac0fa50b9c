"""A sample app repository and planner answers shared by the plan tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "specs" / "ratelimit.json"

AUTH_PY = '''"""Login for the sample app."""

from app.users import verify_password


class LoginFailed(Exception):
    """Wrong username or password."""


def login(username: str, password: str, remote_addr: str, headers: dict[str, str]) -> str:
    if not verify_password(username, password):
        raise LoginFailed("wrong username or password")
    return f"session-{username}"
'''

USERS_PY = '''USERS = {"alice": "correct horse"}


def verify_password(username: str, password: str) -> bool:
    return USERS.get(username) == password
'''


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def make_app_repo(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "auth.py").write_text(AUTH_PY)
    (root / "app" / "users.py").write_text(USERS_PY)
    (root / "README.md").write_text("# sample\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "sample app")
    return root


def planner_answer(mutate=None) -> dict[str, Any]:
    """What a planner returns for the rate-limit request (PlannerOutput as JSON)."""
    spec = json.loads(FIXTURE.read_text())
    items = []
    for it in spec["items"]:
        data = {k: v for k, v in it.items()
                if k not in ("route", "route_reason", "route_overridden", "mutation_score",
                             "doc_style", "allow")}
        data["symbol"] = data.get("symbol") or ""
        # Spec version 2: examples are tests, so a planner writes only runnable ones.
        data["examples"] = [{"input": e["input"], "expected": e["expected"]}
                            for e in data.get("examples", []) if _runnable(e)]
        data["example_setup"] = ""
        data["risk"] = [name for name, raised in data.get("risk", {}).items() if raised]
        data["code"] = ""
        # the planner's sizing: long routine code behind a short spec (delegating pays)
        data["code_tokens"], data["spec_tokens"] = 900, 150
        data["under_test"] = data.get("under_test") or ""
        data["document"] = data.get("document") or []
        data["like"] = data.get("like") or ""
        tests = data.get("tests")
        data["tests"] = ({"code": tests["code"], "path": tests.get("path") or ""}
                         if tests else {"code": "", "path": ""})
        items.append(data)
    answer = {"architecture_note": "## Design\nA sliding window per client IP in app/ratelimit.py.",
              "spec": {"title": spec["title"], "summary": spec["summary"], "items": items}}
    if mutate:
        mutate(answer)
    return answer


def _runnable(example: dict[str, Any]) -> bool:
    from hybridcode.spec.examples import parse_expected

    try:
        compile(example["input"], "<example>", "eval")
        parse_expected(example["expected"])
    except (SyntaxError, ValueError):
        return False
    return True


def item_of(answer: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for i in answer["spec"]["items"] if i["id"] == item_id)
