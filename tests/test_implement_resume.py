"""`kill -9` in the middle of `hybrid implement`, then `--resume`: finished items are neither
redone nor paid for twice, and the user's tree is untouched. The command runs in a subprocess;
the fake model servers run in this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from implement_helpers import (
    Script,
    arith_tests,
    calls_per_item,
    code,
    env_for,
    fn_item,
    make_project,
    user_tree,
    write_plan,
)

from hybridcode.implement.state import PlanLock
from hybridcode.plan.store import PlanStore
from hybridcode.testing import FakeAnthropic, FakeOllama

NAMES = ["a1", "a2", "a3"]


def start(root, env, *args):
    return subprocess.Popen([sys.executable, "-m", "hybridcode", "implement", "p1", "--json",
                             "--parallel", "1", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until_passed(root, item_id, proc, timeout=60.0):
    path = root / ".hybrid" / "plans" / "p1" / "state.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"implement ended early: {proc.stderr.read().decode()}")
        try:
            items = json.loads(path.read_text())["items"]
        except (OSError, ValueError, KeyError):
            items = {}
        if items.get(item_id, {}).get("state") == "passed":
            return
        time.sleep(0.05)
    raise AssertionError(f"{item_id} did not pass within {timeout}s")


def test_kill_9_then_resume_neither_redoes_nor_pays_twice(tmp_path):
    root = make_project(tmp_path / "repo")
    write_plan(root, [fn_item(n, "add", arith_tests(f"calc.{n}", "add", [(1, 2, 3)]))
                      for n in NAMES])
    before = user_tree(root)
    release = threading.Event()

    def hold(item_id):  # items after a1 answer only once released (or after 30 s)
        if item_id != "a1":
            release.wait(30.0)
        return 0.0

    local = Script({n: [code("add", "a + b")] for n in NAMES}, delay=hold)
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        ollama.responder = local
        env = {**os.environ, **env_for(ollama, claude)}
        proc = start(root, env)
        try:
            wait_until_passed(root, "a1", proc)
            time.sleep(0.3)  # a2's call is now in flight, answered in 30 s
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert calls_per_item(root) == {"a1": 1}

        # kill -9 left no stale lock behind.
        with PlanLock(PlanStore(root).dir("p1"), "p1"):
            pass

        release.set()
        resumed = start(root, env, "--resume")
        out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["status"] == "implemented" and summary["passed"] == 3
    assert local.count("a1") == 1  # asked once, across both runs
    calls = calls_per_item(root)
    assert calls["a1"] == 1 and calls["a2"] == 1 and calls["a3"] == 1
    assert user_tree(root) == before
    assert PlanStore(root).meta("p1").status == "implemented"
