"""hybridcode.judge's parts through their functions: the environment, accounting, expected
tests, confinement, the sandbox's layout and the time bound."""

from __future__ import annotations

import os
import sys
import time

import pytest

from hybridcode.errors import SandboxError
from hybridcode.judge import (
    ExpectedTest,
    JudgeConfig,
    Snapshot,
    TestOutcome,
    clean_environment,
    run_command,
    run_tests,
)
from hybridcode.judge.accounting import account
from hybridcode.judge.config import project_python
from hybridcode.judge.pytest_adapter import expected_tests
from hybridcode.judge.sandbox import SandboxLayout, seatbelt_profile
from toolchains import need_bwrap



@pytest.fixture
def bwrap_sandbox():
    """The real sandbox: skipped with the reason outside CI where bubblewrap is missing, a
    failure with CI=true (toolchains.unavailable)."""
    need_bwrap()


def test_credentials_never_reach_project_code():
    env = clean_environment({
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "DJANGO_SETTINGS_MODULE": "site.settings",
        "ANTHROPIC_API_KEY": "sk-ant-x", "OPENAI_API_KEY": "k", "DB_PASSWORD": "hunter2",
        "GITHUB_TOKEN": "ghp", "AWS_SECRET_ACCESS_KEY": "a", "AWS_PROFILE": "prod",
        "MY_SERVICE_SECRET": "s", "STRIPE_KEY": "sk", "SSH_AUTH_SOCK": "/tmp/agent",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json", "HYBRID_OPENAI_API_KEY": "x",
        "PYTEST_ADDOPTS": "--collect-only", "npm_config__authToken": "t", "PGPASSWORD": "p",
        "AZURE_CLIENT_SECRET": "z", "HF_TOKEN": "hf", "LD_PRELOAD": "/evil.so"})
    assert env == {"PATH": "/usr/bin", "LANG": "C.UTF-8",
                   "DJANGO_SETTINGS_MODULE": "site.settings"}


def test_every_expected_test_must_run_and_pass():
    expected = [ExpectedTest("t.py", "test_a"), ExpectedTest("t.py", "test_b"),
                ExpectedTest("t.py", "test_m", "TestK"), ExpectedTest("t.py", "test_gone")]
    outcomes = [TestOutcome("t.py", "test_a[1]", "passed"),
                TestOutcome("t.py", "test_a[2]", "skipped", message="flaky"),
                TestOutcome("t.py", "test_b", "xfailed"),
                TestOutcome("t.py", "test_m", "passed", suite="TestK"),
                TestOutcome("t.py", "test_extra", "error", message="boom"),
                TestOutcome("other.py", "test_theirs", "skipped", message="linux only")]
    problems = {p.test: p.why for p in account(expected, outcomes, ["t.py"])}
    assert problems == {
        "t.py::test_a[2]": "was skipped: flaky",
        "t.py::test_b": "was marked xfail (an expected failure is not a pass)",
        "t.py::test_gone": "did not run (not collected, deselected, or the test process "
                           "ended before reaching it)",
        "t.py::test_extra": "errored: boom"}  # a project's own skip elsewhere is fine


def test_expected_tests_are_read_from_the_file_not_collected():
    source = '''
import pytest

@pytest.fixture
def test_data():
    return 1

def test_one(test_data): ...
async def test_two(): ...
def helper(): ...

class TestGroup:
    def test_three(self): ...
    def helper(self): ...

class TestNotCollected:
    def __init__(self): ...
    def test_never(self): ...
'''
    assert [t.id for t in expected_tests(source, "t.py")] == [
        "t.py::test_one", "t.py::test_two", "t.py::TestGroup::test_three"]


def test_a_snapshot_restores_the_whole_worktree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "run.sh", 0o755)
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")
    before = Snapshot.take(tmp_path)
    (tmp_path / "conftest.py").write_text("evil\n")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts='-x'\n")
    (tmp_path / "run.sh").unlink()
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "new" / "deep").mkdir(parents=True)
    (tmp_path / "new" / "deep" / "x.pth").write_text("import os\n")
    (tmp_path / "pkg" / "mod.py").write_text("x = 2\n")
    (tmp_path / ".git").write_text("gitdir: moved\n")  # git's, not the attempt's business
    assert before.changes(allowed={"pkg/mod.py"}) == [
        "created conftest.py", "created new/deep/x.pth",
        "created pkg/__pycache__/mod.cpython-311.pyc", "changed pyproject.toml",
        "deleted run.sh"]
    before.restore()
    assert before.changes() == []
    assert not (tmp_path / "new").exists() and not (tmp_path / "pkg" / "__pycache__").exists()
    assert os.stat(tmp_path / "run.sh").st_mode & 0o777 == 0o755
    assert (tmp_path / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_the_project_interpreter_is_found(tmp_path):
    root = tmp_path / "repo"
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").write_text("")
    wt = root / ".hybrid" / "worktrees" / "p1"
    wt.mkdir(parents=True)
    assert project_python(wt, None) == str(root / ".venv" / "bin" / "python")
    assert project_python(root, "/opt/py/bin/python3") == "/opt/py/bin/python3"
    assert project_python(tmp_path / "elsewhere", None) == sys.executable


def test_no_sandbox_means_no_run(tmp_path, monkeypatch):
    import hybridcode.judge.sandbox as sandbox

    monkeypatch.setattr(sandbox, "_detect_platform",
                        lambda: sandbox.Sandbox("none", reason="bubblewrap is not installed"))
    with pytest.raises(SandboxError) as err:
        run_tests(tmp_path, [], JudgeConfig())
    assert "install bubblewrap" in err.value.hint and 'mode = "off"' in err.value.hint


def test_mode_off_still_bounds_time_with_a_grandchild_holding_the_output(tmp_path):
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(20)'], start_new_session=True); time.sleep(30)")
    started = time.monotonic()
    result = run_command([sys.executable, "-c", code], worktree=tmp_path,
                         config=JudgeConfig(timeout_s=2, sandbox_mode="off"))
    assert result.timed_out and time.monotonic() - started < 2 + 2


def test_home_is_hidden_even_when_it_holds_the_worktree(tmp_path, monkeypatch, bwrap_sandbox):
    home = tmp_path / "home"
    wt = home / "src" / "proj"
    wt.mkdir(parents=True)
    (home / ".netrc").write_text("machine x password y\n")
    monkeypatch.setenv("HOME", str(home))
    script = ("import os; print(sorted(os.listdir(os.path.expanduser('~')))); "
              "open('made-here', 'w').write('ok'); print(open('/etc/hostname').read() != '')")
    result = run_command([sys.executable, "-c", script], worktree=wt,
                         config=JudgeConfig(timeout_s=30))
    assert result.returncode == 0, result.output
    assert ".netrc" not in result.output and "['src']" in result.output
    assert (wt / "made-here").read_text() == "ok"


def test_the_macos_profile_denies_network_and_writes_outside(tmp_path):
    layout = SandboxLayout(worktree=tmp_path / "wt", base=tmp_path / "b",
                           home=str(tmp_path / "home"))
    (tmp_path / "wt").mkdir()
    profile = seatbelt_profile(layout)
    assert "(deny network*)" in profile and "(deny file-write*)" in profile
    assert f'(allow file-write* (subpath "{(tmp_path / "wt").resolve()}")' in profile
    assert f'(deny file-read* (subpath "{(tmp_path / "home").resolve()}"))' in profile
    assert f'(deny file-write* (subpath "{(tmp_path / "wt").resolve()}/.git"))' in profile
