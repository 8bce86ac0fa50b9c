"""Shared fixtures. Tests never reach a network, a real key or a GPU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Projects the tests copy and run (exercises in tests/data/polyglot hold their own *_test.py
# files): data, not hybridcode's tests.
collect_ignore = ["data"]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No real keys, hosts or user config leak into a test."""
    for name in list(os.environ):
        if name.startswith(("HYBRID_", "ANTHROPIC_", "OLLAMA_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HYBRID_USER_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("NO_COLOR", "1")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory) -> Path:
    """A real SSH key pair made by ssh-keygen for this test session (no passphrase)."""
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)],
                   check=True, capture_output=True)
    return key


@pytest.fixture
def repo(tmp_path: Path, ssh_key: Path) -> Path:
    """A real git repository with one commit; approvals are signed with ``ssh_key`` (git's
    ``user.signingkey``), which no allowed-signers file trusts yet (see gate_helpers.allow)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.signingkey", str(ssh_key))
    (root / "README.md").write_text("# sample\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def claude(monkeypatch):
    """A fake Anthropic Messages API the real SDK is pointed at (no retries: fast failures)."""
    from hybridcode.testing import FakeAnthropic

    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("HYBRID_ANTHROPIC__MAX_RETRIES", "0")
        yield fake
