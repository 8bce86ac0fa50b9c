"""Verification runs the real pytest in a worktree: passing, failing with trimmed output,
timeouts, related tests; plus the acceptance-test files and their checksums."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hybridcode.implement.acceptance import (
    check_acceptance_tests, restore_acceptance_tests, write_acceptance_tests,
)
from hybridcode.implement.verify import trim_output, verify_item
from hybridcode.judge import JudgeConfig, clean_environment
from hybridcode.spec import Spec
from hybridcode.vcs.worktree import ensure_worktree

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "specs" / "ratelimit.json"

STORE = '''from __future__ import annotations

from collections import deque


class SlidingWindowStore:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def add(self, key: str, timestamp: float) -> None:
        self._hits.setdefault(key, deque()).append(timestamp)

    def count_since(self, key: str, since: float) -> int:
        return sum(1 for t in self._hits.get(key, ()) if t >= since)

    def prune(self, before: float) -> int:
        removed = 0
        for key in list(self._hits):
            kept = deque(t for t in self._hits[key] if t >= before)
            removed += len(self._hits[key]) - len(kept)
            if kept:
                self._hits[key] = kept
            else:
                del self._hits[key]
        return removed
'''


def load_spec() -> Spec:
    return Spec.model_validate(json.loads(FIXTURE.read_text()))


@pytest.fixture
def wt(repo: Path) -> Path:
    """A real plan worktree with the spec's acceptance tests written into it."""
    (repo / "app").mkdir()
    (repo / "app" / "__init__.py").write_text("")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "app"], cwd=repo, check=True)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()
    path = ensure_worktree(repo, "p1", base).path
    write_acceptance_tests(path, load_spec())
    return path


def test_passing_item(wt: Path):
    (wt / "app" / "ratelimit.py").write_text(STORE)
    spec = load_spec()
    result = verify_item(wt, spec.item("ratelimit-store"), spec, [], JudgeConfig(timeout_s=60))
    assert result.ok and result.stage == "ok", result.output
    assert "5 test(s) passed" in result.output  # 4 written + 1 generated from an example
    assert result.duration_ms > 0


def test_failing_item_output_keeps_the_assertion(wt: Path):
    (wt / "app" / "ratelimit.py").write_text(STORE.replace("if t >= since", "if t > since"))
    spec = load_spec()
    result = verify_item(wt, spec.item("ratelimit-store"), spec, [], JudgeConfig(timeout_s=60))
    assert not result.ok and result.stage == "tests"
    assert "assert 1 == 2" in result.output or "assert 2 ==" in result.output
    assert "FAILED" in result.output and "1 failed" in result.output
    assert "platform " not in result.output and "rootdir" not in result.output


def test_syntax_error_is_reported_with_its_line(wt: Path):
    (wt / "app" / "ratelimit.py").write_text("class SlidingWindowStore:\n    def add(self\n")
    spec = load_spec()
    result = verify_item(wt, spec.item("ratelimit-store"), spec, [], JudgeConfig(timeout_s=60))
    assert (result.ok, result.stage) == (False, "syntax")
    assert "app/ratelimit.py line 2" in result.output


def test_timeout(wt: Path):
    (wt / "app" / "ratelimit.py").write_text(
        STORE.replace("        return sum(", "        while True:\n            pass\n"
                      "        return sum("))
    spec = load_spec()
    result = verify_item(wt, spec.item("ratelimit-store"), spec, [], JudgeConfig(timeout_s=3))
    assert not result.ok and result.stage == "tests"
    assert result.output.startswith("tests did not finish within 3 s")


def test_related_tests_of_passed_items_are_run(wt: Path):
    spec = load_spec()
    # The limiter passes its own tests, but its file now holds a store that breaks the
    # store's own (already passed) tests.
    broken = STORE.replace("return removed", "return removed + 1")
    limiter = '''

import math
import time
from typing import Callable


class RateLimiter:
    def __init__(self, limit: int, window_s: float, store: SlidingWindowStore | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.limit, self.window_s = limit, window_s
        self.store = store or SlidingWindowStore()
        self.clock = clock

    def check(self, key: str) -> bool:
        now = self.clock()
        since = math.nextafter(now - self.window_s, math.inf)  # the window is (now - w, now]
        if self.store.count_since(key, since) < self.limit:
            self.store.add(key, now)
            return True
        return False

    def retry_after(self, key: str) -> float:
        now = self.clock()
        return 0.0 if self.store.count_since(key, now - self.window_s) < self.limit \\
            else self.window_s
'''
    (wt / "app" / "ratelimit.py").write_text(broken + limiter)
    result = verify_item(wt, spec.item("ratelimit-limiter"), spec, ["ratelimit-store"],
                         JudgeConfig(timeout_s=60))
    assert (result.ok, result.stage) == (False, "related"), result.output
    assert "test_hybrid_ratelimit_store.py" in result.output
    (wt / "app" / "ratelimit.py").write_text(STORE + limiter)
    fixed = verify_item(wt, spec.item("ratelimit-limiter"), spec, ["ratelimit-store"],
                        JudgeConfig(timeout_s=60))
    assert fixed.ok, fixed.output


def test_worktree_code_wins_over_the_environment(wt: Path, tmp_path: Path, monkeypatch):
    decoy = tmp_path / "decoy" / "app"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("")
    (decoy / "ratelimit.py").write_text("raise ImportError('the decoy was imported')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "decoy"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert "ANTHROPIC_API_KEY" not in clean_environment()
    (wt / "app" / "ratelimit.py").write_text(STORE)
    spec = load_spec()
    assert verify_item(wt, spec.item("ratelimit-store"), spec, [], JudgeConfig(timeout_s=60)).ok


def test_acceptance_checksums_detect_and_restore_tampering(wt: Path):
    spec = load_spec()
    sums = write_acceptance_tests(wt, spec)
    assert sums == write_acceptance_tests(wt, spec)  # stable
    assert check_acceptance_tests(wt, sums) == []
    target = wt / "tests" / "hybrid" / "test_hybrid_ratelimit_store.py"
    target.write_text("def test_nothing():\n    pass\n")
    (wt / "tests" / "hybrid" / "test_hybrid_ratelimit_client_ip.py").unlink()
    changed = check_acceptance_tests(wt, sums)
    assert sorted(changed) == ["tests/hybrid/test_hybrid_ratelimit_client_ip.py",
                               "tests/hybrid/test_hybrid_ratelimit_store.py"]
    assert restore_acceptance_tests(wt, spec, changed) == sums
    assert check_acceptance_tests(wt, sums) == []


def test_items_sharing_a_test_path_are_concatenated(tmp_path: Path):
    data = json.loads(FIXTURE.read_text())
    for raw in data["items"][:2]:
        raw["tests"]["path"] = "tests/test_shared.py"
    spec = Spec.model_validate(data)
    write_acceptance_tests(tmp_path, spec)
    text = (tmp_path / "tests" / "test_shared.py").read_text()
    first, second = text.index("item ratelimit-store"), text.index("item ratelimit-limiter")
    assert first < second


PYTEST_FAILURE = """\
============================= test session starts ==============================
platform linux -- Python 3.11.9, pytest-8.3.3, pluggy-1.5.0
rootdir: /tmp/wt
collected 12 items

tests/hybrid/test_hybrid_x.py ....F

=================================== FAILURES ===================================
_________________________________ test_counts __________________________________

    def test_counts():
        store = SlidingWindowStore()
{filler}
>       assert store.count_since("a", 2.0) == 2
E       assert 1 == 2
E        +  where 1 = count_since('a', 2.0)

tests/hybrid/test_hybrid_x.py:9: AssertionError
----------------------------- Captured stdout call -----------------------------
{captured}
=========================== short test summary info ============================
FAILED tests/hybrid/test_hybrid_x.py::test_counts - assert 1 == 2
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
========================= 1 failed, 4 passed in 0.12s ==========================
"""


def test_trim_keeps_what_matters():
    text = PYTEST_FAILURE.format(filler="\n".join(f"        x{n} = {n}" for n in range(400)),
                                 captured="\n".join(f"log line {n}" for n in range(300)))
    out = trim_output(text, limit=4000)
    assert len(out) <= 4000
    assert "E       assert 1 == 2" in out
    assert '>       assert store.count_since("a", 2.0) == 2' in out
    assert "FAILED tests/hybrid/test_hybrid_x.py::test_counts - assert 1 == 2" in out
    assert out.rstrip().endswith("1 failed, 4 passed in 0.12s")
    assert "platform linux" not in out and "....F" not in out
    assert "log line 299" in out and "log line 3\n" not in out


def test_trim_short_output_and_plain_tracebacks():
    short = PYTEST_FAILURE.format(filler="", captured="hello")
    out = trim_output(short)
    assert "collected 12 items" not in out and "hello" in out
    plain = "noise\n" * 50 + "Traceback (most recent call last):\n  File \"x.py\", line 1\n" \
        "ImportError: no module named app\n"
    assert trim_output(plain).startswith("Traceback (most recent call last):")
