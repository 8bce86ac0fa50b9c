"""A planned-and-implemented sample repository and reviewer answers, for the review tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from hybridcode.plan.store import ARCHITECTURE, PlanMeta, PlanStore, now_iso
from hybridcode.spec import Spec, save_spec

PLAN_ID = "260101-slugify"
CHECKLIST_IDS = ["matches-spec", "edge-cases", "error-handling", "security", "project-patterns",
                 "meaningful-tests"]

TESTS = '''from app.text import slugify


def test_lowercases_and_joins_words():
    assert slugify("Hello World") == "hello-world"


def test_empty_text_gives_empty_slug():
    assert slugify("") == ""
'''

GOOD = '''"""Text helpers."""


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens."""
    return "-".join(text.lower().split())
'''

WRONG = '''"""Text helpers."""


def slugify(text: str) -> str:
    return text.upper()
'''


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def spec() -> Spec:
    return Spec.model_validate({
        "plan_id": PLAN_ID, "title": "Slugs", "summary": "A slugify helper.",
        "items": [{
            "id": "slugify", "title": "slugify(text)", "kind": "function",
            "category": "data_transformation", "file": "app/text.py", "symbol": "slugify",
            "action": "create", "signature": "def slugify(text: str) -> str",
            "description": "Lowercase the words of text and join them with hyphens.",
            "requirements": ["empty text gives an empty slug"],
            "tests": {"code": TESTS}, "route": "local", "route_reason": "routine",
        }],
    })


def make_planned_repo(root: Path, code: str = GOOD) -> tuple[Path, Path]:
    """A repository with one plan whose worktree holds ``code`` and the acceptance tests."""
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "README.md").write_text("# sample\n")
    (root / ".gitignore").write_text(".hybrid/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "sample")
    base = git(root, "rev-parse", "HEAD").strip()
    store = PlanStore(root)
    store.dir(PLAN_ID).mkdir(parents=True)
    save_spec(spec(), store.spec_path(PLAN_ID))
    store.write_text(PLAN_ID, ARCHITECTURE, "## Design\nA pure function in app/text.py.\n")
    store.save_meta(PlanMeta(plan_id=PLAN_ID, created_at=now_iso(), base_commit=base,
                             title="Slugs", status="implemented", items=1))
    worktree = root / ".hybrid" / "worktrees" / PLAN_ID
    git(root, "worktree", "add", "-q", "-b", f"hybrid/{PLAN_ID}", str(worktree), base)
    (worktree / "app" / "text.py").write_text(code)
    (worktree / "tests" / "hybrid").mkdir(parents=True)
    (worktree / "tests" / "hybrid" / "test_hybrid_slugify.py").write_text(TESTS)
    return root, worktree


def verdict(decision: str = "approve", *, failed: tuple[str, ...] = (),
            findings: list[dict[str, Any]] | None = None, grade: str = "good",
            failure_mode: str = "", ids: list[str] | None = None) -> dict[str, Any]:
    """A reviewer answer (Verdict as JSON)."""
    return {
        "checklist": [{"id": i, "question": f"{i}?", "reasoning": f"looked at {i}",
                       "passed": i not in failed} for i in (ids or CHECKLIST_IDS)],
        "findings": findings or [],
        "grades": [{"item_id": "slugify", "grade": grade, "failure_mode": failure_mode}],
        "decision": decision,
        "summary": "Reviewed.",
    }


def finding(severity: str = "major", file: str = "app/text.py", line: int = 5) -> dict[str, Any]:
    return {"file": file, "line": line, "severity": severity, "title": "Upper-cases instead",
            "explanation": "slugify('A b') returns 'A B'.", "suggested_fix": "use lower()"}
