"""The pre-commit gate: installed as a raw git hook and through the pre-commit framework."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from gate_helpers import allow_configured, git, make_plan, record_approval

from hybridcode.review.hook import (
    CHAINED_HOOK,
    HOOK_MARKER,
    glob_regex,
    hook_check,
    install_hook,
)
from hybridcode.vcs.diff import staged_diff

REPO = Path(__file__).resolve().parents[1]
PLAN = "251123-login-limit"
CODE = {"app/limit.py": "LIMIT = 5\n"}


@pytest.fixture(autouse=True)
def _trusted(repo):
    """The key the repository signs with is an allowed signer (uncommitted file)."""
    allow_configured(repo)


def _stage_generated(root: Path) -> None:
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "limit.py").write_text(CODE["app/limit.py"])
    git(root, "add", "app/limit.py")


def _commit(root: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["git", "commit", "-q", "-m", "add limit", *extra], cwd=root,
                          capture_output=True, text=True, env=env, check=False)


def test_installed_hook_blocks_then_allows_after_an_approval(repo):
    make_plan(repo, PLAN, CODE)
    installed = install_hook(repo)
    assert installed.path == repo / ".git" / "hooks" / "pre-commit"
    assert os.access(installed.path, os.X_OK)
    _stage_generated(repo)
    refused = _commit(repo)
    assert refused.returncode != 0
    assert "without a signed approval of this exact diff" in refused.stderr
    assert PLAN in refused.stderr and "git commit --no-verify" in refused.stderr
    record_approval(repo, staged_diff(repo), plan_id=PLAN)
    allowed = _commit(repo)
    assert allowed.returncode == 0, allowed.stderr
    assert "approved diff" in allowed.stderr


def test_changed_code_after_approval_is_blocked_again(repo):
    make_plan(repo, PLAN, CODE)
    _stage_generated(repo)
    record_approval(repo, staged_diff(repo), plan_id=PLAN)
    assert hook_check(repo).ok
    (repo / "app" / "limit.py").write_text("LIMIT = 500\n")
    git(repo, "add", "app/limit.py")
    result = hook_check(repo)
    assert not result.ok and result.paths == ["app/limit.py"]


def test_unrelated_commits_pass_and_no_verify_skips(repo):
    make_plan(repo, PLAN, CODE)
    install_hook(repo)
    (repo / "notes.txt").write_text("hand-written\n")
    git(repo, "add", "notes.txt")
    assert hook_check(repo).reason == "no-generated-code"
    assert _commit(repo).returncode == 0
    _stage_generated(repo)
    assert _commit(repo, "--no-verify").returncode == 0  # the documented escape hatch


def test_configured_generated_paths_are_guarded(repo):
    (repo / ".hybrid").mkdir(exist_ok=True)
    (repo / ".hybrid" / "config.toml").write_text('generated_paths = ["gen/**", "*.pb.py"]\n')
    (repo / "gen" / "deep").mkdir(parents=True)
    (repo / "gen" / "deep" / "x.py").write_text("X = 1\n")
    (repo / "api.pb.py").write_text("Y = 1\n")
    git(repo, "add", "gen", "api.pb.py")
    result = hook_check(repo)
    assert not result.ok
    assert result.paths == ["api.pb.py", "gen/deep/x.py"]
    assert "generated_paths" in result.message


def test_committed_plans_no_longer_guard_their_paths(repo):
    make_plan(repo, PLAN, CODE, status="committed")
    (repo / "app").mkdir()
    (repo / "app" / "limit.py").write_text("edited by hand later\n")
    git(repo, "add", "app")
    assert hook_check(repo).ok


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("gen/**", "gen/a/b.py", True), ("gen/**", "src/gen/a.py", False),
    ("*.pb.py", "deep/x/api.pb.py", True), ("src/*.py", "src/a/b.py", False),
    ("**/models/*.py", "models/u.py", True), ("migrations", "app/migrations/0001.py", True),
])
def test_glob_rules(pattern, path, hit):
    assert bool(glob_regex(pattern).match(path)) is hit


def test_install_chains_an_existing_hook_and_is_idempotent(repo):
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    old = hooks / "pre-commit"
    old.write_text("#!/bin/sh\necho ran > \"$(git rev-parse --show-toplevel)/.chained\"\n")
    old.chmod(0o755)
    first = install_hook(repo)
    assert first.chained == hooks / CHAINED_HOOK
    assert "echo ran" in (hooks / CHAINED_HOOK).read_text()
    assert HOOK_MARKER in old.read_text()
    again = install_hook(repo)
    assert not again.updated and "echo ran" in (hooks / CHAINED_HOOK).read_text()
    (repo / "x.txt").write_text("x\n")
    git(repo, "add", "x.txt")
    assert _commit(repo).returncode == 0
    assert (repo / ".chained").read_text() == "ran\n"


def test_a_failing_chained_hook_stops_the_commit(repo):
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\necho 'lint failed' >&2\nexit 3\n")
    (hooks / "pre-commit").chmod(0o755)
    install_hook(repo)
    (repo / "x.txt").write_text("x\n")
    git(repo, "add", "x.txt")
    refused = _commit(repo)
    assert refused.returncode != 0 and "lint failed" in refused.stderr


def test_install_respects_core_hooks_path(repo):
    git(repo, "config", "core.hooksPath", ".githooks")
    result = install_hook(repo)
    assert result.path == repo / ".githooks" / "pre-commit"


def test_cli_hook_run_exit_codes(repo):
    from typer.testing import CliRunner

    from hybridcode.cli.app import app

    make_plan(repo, PLAN, CODE)
    _stage_generated(repo)
    runner = CliRunner()
    blocked = runner.invoke(app, ["hook", "run", "--repo", str(repo)])
    assert blocked.exit_code == 1 and "hybrid gate:" in blocked.output
    installed = runner.invoke(app, ["hook", "install", "--repo", str(repo)])
    assert installed.exit_code == 0 and "--no-verify" in installed.output


# ---------------------------------------------------------------------- pre-commit framework

def _source_copy(dest: Path) -> Path:
    """This checkout's package as a one-commit repository: try-repo clones committed files only,
    and the files under test may not be committed yet."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("hybridcode", "prompts", "fixtures"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q", "-m", "src")
    return dest


def _this_interpreters_packages() -> str:
    """The site directories of the interpreter running the tests, as a PYTHONPATH.

    A hook environment built with --system-site-packages sees the *base* interpreter's packages,
    not a venv's: from a fresh venv that base has none of hybridcode's dependencies, and offline
    pip cannot fetch them. PYTHONPATH reaches the same packages from a venv and from a system
    interpreter alike (pip counts what is on sys.path as installed)."""
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*paths, *([existing] if existing else [])])


def test_pre_commit_framework_runs_the_gate(repo, tmp_path):
    setuptools = pytest.importorskip("setuptools", reason="building the hook's environment "
                                     "offline needs setuptools in this interpreter")
    assert int(setuptools.__version__.split(".")[0]) >= 77, (
        "pyproject.toml's SPDX license needs setuptools>=77 here: pip install -e '.[dev]'")
    src = _source_copy(tmp_path / "src")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        # Offline: the hook's environment imports this interpreter's packages (all of
        # hybridcode's dependencies and the build backend), pip never reaches an index, and
        # builds without an isolated build environment (pip reads PIP_NO_BUILD_ISOLATION=0 as
        # "--no-build-isolation").
        "PYTHONPATH": _this_interpreters_packages(),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
    }
    env.pop("VIRTUALENV_SYSTEM_SITE_PACKAGES", None)
    make_plan(repo, PLAN, CODE)
    _stage_generated(repo)

    def try_repo() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(src),
                               "hybrid-gate"], cwd=repo,
                              capture_output=True, text=True, env=env, timeout=600,
                              check=False)

    blocked = try_repo()
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "hybridcode review gate" in blocked.stdout and "Failed" in blocked.stdout
    assert "without a signed approval of this exact diff" in blocked.stdout
    record_approval(repo, staged_diff(repo), plan_id=PLAN)
    allowed = try_repo()
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "Passed" in allowed.stdout
