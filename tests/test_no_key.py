"""With no API key, `hybrid plan` and `hybrid doctor` say so before loading the Anthropic SDK,
plan exits 2 (a configuration error), and nothing is recorded as a call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hybridcode.ledger import Ledger
from plan_helpers import make_app_repo


def _hybrid(repo: Path, *args: str) -> subprocess.CompletedProcess:
    # -X importtime lists every module the command imported, on stderr.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "hybridcode", *args],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=120,
                          check=False)


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines()
            if line.startswith("import time:")}


def _said(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("import time:")]


def test_plan_without_a_key_stops_before_the_sdk_and_records_nothing(tmp_path):
    repo = make_app_repo(tmp_path / "app")
    done = _hybrid(repo, "plan", "Add per-IP rate limiting to login")
    assert done.returncode == 2, done.stderr[-2000:]
    said = _said(done.stderr)
    assert len(said) == 1 and said[0].startswith("Error: no Anthropic API key")
    assert "ANTHROPIC_API_KEY" in said[0]
    assert "anthropic" not in _imported(done.stderr)
    with Ledger.open(repo) as ledger:
        assert ledger.calls() == []
    stats = _hybrid(repo, "stats", "--json")
    assert json.loads(stats.stdout)["totals"]["calls"] == 0


def test_doctor_checks_the_key_without_the_sdk(tmp_path):
    repo = make_app_repo(tmp_path / "app")
    done = _hybrid(repo, "doctor", "--json")
    key = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "Anthropic API key")
    assert key["ok"] is False and "ANTHROPIC_API_KEY" in key["hint"]
    assert "anthropic" not in _imported(done.stderr)
