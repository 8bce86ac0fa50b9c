"""Model-written code tried the way a careless or hostile model would write it, through the real
CLI: the real SDKs against FakeOllama/FakeAnthropic, real git, real pytest, real bubblewrap.
Each case passed implement (or review) before the judge (issue #12)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from implement_helpers import Script, add_item, attempts_of, code, env_for, git, make_project, \
    write_plan
from review_helpers import PLAN_ID, make_planned_repo, verdict
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.testing import FakeAnthropic, FakeOllama
from toolchains import need_bwrap



@pytest.fixture(autouse=True)
def _sandbox():
    """Every case here runs hostile code in the real sandbox: outside CI a machine without
    bubblewrap skips them with the reason; with CI=true that fails (toolchains.unavailable)."""
    need_bwrap()

runner = CliRunner()
CORRECT = code("add", "a + b")


def hostile_item():
    """The item allows everything the static refusal (judge/reach.py) would stop, so these
    cases reach the sandbox, the channel and the confinement they test."""
    return add_item().model_copy(update={"allow": [
        "process", "files", "network", "native", "test-framework", "runtime"]})
WRONG = code("add", "a - b")


@pytest.fixture
def fakes(monkeypatch):
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        for name, value in env_for(ollama, claude).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HYBRID_ANTHROPIC__MAX_RETRIES", "0")
        yield ollama, claude


def configure(root: Path, **values) -> None:
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    (root / ".hybrid").mkdir(exist_ok=True)
    (root / ".hybrid" / "config.toml").write_text("\n".join(lines) + "\n")


def implement(root: Path, monkeypatch, *args: str):
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["implement", "p1", "--json", *args], catch_exceptions=False)
    return result, json.loads(result.stdout)


def fenced(body: str) -> str:
    return f"```python\n{body.strip()}\n```\n"


def worktree(root: Path) -> Path:
    return root / ".hybrid" / "worktrees" / "p1"


# ------------------------------------------------------------------ exit status is not trusted

def test_os_exit_inside_the_function_fails_the_attempt(tmp_path, fakes, monkeypatch):
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    ollama, _ = fakes
    ollama.responder = Script({"add": [fenced("""
import os


def add(a: int, b: int) -> int:
    os._exit(0)
"""), CORRECT]})
    result, data = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    attempts = attempts_of(root, "add")
    assert [a["outcome"] for a in attempts] == ["test_failed", "passed"]
    feedback = attempts[0]["feedback"]
    assert "could not judge: the runner did not finish its own way" in feedback
    assert "ended with exit status 0" in feedback


def test_skip_inside_the_function_fails_the_attempt(tmp_path, fakes, monkeypatch):
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    ollama, _ = fakes
    ollama.responder = Script({"add": [fenced("""
import pytest


def add(a: int, b: int) -> int:
    pytest.skip("flaky")
"""), CORRECT]})
    result, _ = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    attempts = attempts_of(root, "add")
    assert [a["outcome"] for a in attempts] == ["test_failed", "passed"]
    assert "tests/hybrid/test_hybrid_add.py::test_add_0: was skipped: flaky" in attempts[0]["feedback"]


# ------------------------------------------------------------------ change-set confinement

CONFTEST_WRITER = fenced('''
import pathlib


def add(a: int, b: int) -> int:
    (pathlib.Path(__file__).resolve().parents[1] / "conftest.py").write_text(
        "def pytest_collection_modifyitems(items):\\n"
        "    for item in items:\\n"
        "        item.obj = lambda *a, **k: None\\n")
    return a - b
''')


def test_a_conftest_planted_by_one_attempt_is_gone_for_the_next(tmp_path, fakes, monkeypatch):
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    ollama, _ = fakes
    ollama.responder = Script({"add": [CONFTEST_WRITER, WRONG, CORRECT]})
    result, data = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    attempts = attempts_of(root, "add")
    # Before: the planted conftest survived attempt 1 and passed attempt 2's wrong code.
    assert [a["outcome"] for a in attempts] == ["refused", "test_failed", "passed"]
    assert "created conftest.py" in attempts[0]["feedback"]
    wt = worktree(root)
    assert not (wt / "conftest.py").exists()
    assert "a + b" in (wt / "calc" / "add.py").read_text()
    status = git(wt, "status", "--porcelain", "--untracked-files=all")
    assert "conftest" not in status
    assert any("restored the worktree" in m for m in data["messages"])


ADDOPTS_WRITER = fenced('''
import pathlib


def add(a: int, b: int) -> int:
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    if "collect-only" not in pyproject.read_text():
        with pyproject.open("a") as fh:
            fh.write('\\n[tool.pytest.ini_options]\\naddopts = "--collect-only"\\n')
    return a - b
''')


def test_addopts_appended_to_pyproject_is_rolled_back(tmp_path, fakes, monkeypatch):
    root = make_project(tmp_path / "repo")
    (root / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0.1"\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pyproject")
    write_plan(root, [hostile_item()])
    ollama, _ = fakes
    ollama.responder = Script({"add": [ADDOPTS_WRITER, WRONG, CORRECT]})
    result, _ = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    attempts = attempts_of(root, "add")
    assert [a["outcome"] for a in attempts] == ["refused", "test_failed", "passed"]
    assert "changed pyproject.toml" in attempts[0]["feedback"]
    assert "collect-only" not in (worktree(root) / "pyproject.toml").read_text()


def test_collect_only_alone_does_not_pass(tmp_path, fakes, monkeypatch):
    """Even with the addopts in the committed project, no test ran, so nothing passed."""
    root = make_project(tmp_path / "repo")
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--collect-only"\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pyproject")
    write_plan(root, [hostile_item()])
    configure(root, attempts=1)
    ollama, claude = fakes
    ollama.responder = Script({"add": [WRONG]})
    claude.responder = Script({"add": [WRONG]})
    result, data = implement(root, monkeypatch)
    assert result.exit_code == 1 and data["failed"] == 1
    assert "test_add_0: did not run" in attempts_of(root, "add")[0]["feedback"]


# ------------------------------------------------------------------ the sandbox (review's tests)

PROBE = '''"""Text helpers."""
import json
import os
import socket
import tempfile


def _probe():
    seen = {}
    try:
        with open(os.path.join(tempfile.gettempdir(), "hybrid-probe-TOKEN"), "w") as fh:
            fh.write("written")
        seen["tmp"] = "written"
    except OSError as exc:
        seen["tmp"] = f"blocked: {exc}"
    accounts = open("/etc/" + "passwd").read()
    seen["accounts"] = "others visible" if "daemon:" in accounts else "blocked"
    home = os.listdir(os.path.expanduser("~"))
    seen["home"] = "visible" if "secret.txt" in home else "blocked"
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
        seen["net"] = "connected"
    except OSError as exc:
        seen["net"] = f"blocked: {exc}"
    seen["key"] = "visible" if os.environ.get("ANTHROPIC_API_KEY") else "blocked"
    try:
        # the repository's own .git (a worktree's .git is a file pointing there)
        here = os.path.dirname(os.path.abspath(__file__))
        open(os.path.join(here, "..", "..", "..", "..", ".git", "probe"), "w").close()
        seen["git"] = "written"
    except OSError:
        seen["git"] = "blocked"
    with open("probe.json", "w") as fh:
        json.dump(seen, fh)
    return seen


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens."""
    # /tmp is the run's private one: that write is checked from outside.
    leaks = {k: v for k, v in _probe().items() if k != "tmp" and not v.startswith("blocked")}
    if leaks:
        raise RuntimeError(f"leaked: {leaks}")
    return "-".join(text.lower().split())
'''


def _allowing_everything():
    import review_helpers

    base = review_helpers.spec

    def spec():
        data = base().model_dump(mode="json")
        data["items"][0]["allow"] = ["process", "files", "network", "native",
                                     "test-framework", "runtime"]
        from hybridcode.spec import Spec

        return Spec.model_validate(data)
    return spec


def test_review_runs_model_code_in_the_sandbox(tmp_path, claude, monkeypatch):
    import review_helpers

    # The probe opens files and sockets: its item allows that, so the sandbox is what stops it.
    monkeypatch.setattr(review_helpers, "spec", _allowing_everything())
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("the user's files\n")
    monkeypatch.setenv("HOME", str(home))
    token = os.urandom(4).hex()
    port = int(claude.base_url.rsplit(":", 1)[1].split("/")[0])
    probe = PROBE.replace("TOKEN", token).replace("PORT", str(port))
    root, wt = make_planned_repo(tmp_path / "repo", code=probe)
    claude.enqueue_json(verdict())
    result = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    data = json.loads(result.stdout)
    tests = next(c for c in data["checks"] if c["name"] == "tests")
    assert tests["ok"], tests
    seen = json.loads((wt / "probe.json").read_text())
    assert set(seen) == {"tmp", "accounts", "home", "net", "key", "git"}
    assert seen["net"].startswith("blocked") and seen["key"] == "blocked"
    assert seen["accounts"] == seen["home"] == seen["git"] == "blocked"
    assert seen["tmp"] == "written"  # into the run's private /tmp, gone afterwards:
    assert not (Path(tempfile.gettempdir()) / f"hybrid-probe-{token}").exists()
    assert not (root / ".git" / "probe").exists()
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ timeouts are a bound

HANG = fenced('''
import subprocess
import sys
import time


def add(a: int, b: int) -> int:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(40)  # MARK"],
                     start_new_session=True)
    time.sleep(60)
    return a + b
''')


def _processes_with(mark: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if mark in cmdline:
            found.append(int(entry.name))
    return found


def test_a_hanging_test_with_a_detached_grandchild_is_bounded(tmp_path, fakes, monkeypatch):
    mark = f"hang-{os.urandom(4).hex()}"
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    configure(root, test_timeout_s=4, attempts=1)
    ollama, claude = fakes
    ollama.responder = Script({"add": [HANG.replace("MARK", mark)]})
    claude.responder = Script({"add": [HANG.replace("MARK", mark)]})
    started = time.monotonic()
    result, _ = implement(root, monkeypatch)
    wall = time.monotonic() - started
    assert result.exit_code == 1, result.output
    attempts = attempts_of(root, "add")
    assert len(attempts) == 2  # the local rung, then Claude: each run bounded
    for attempt in attempts:
        feedback = attempt["feedback"]
        stopped = float(re.search(r"stopped after ([\d.]+) s", feedback).group(1))
        print(f"\nhang case: test run stopped after {stopped:.2f} s (timeout 4 s)")
        assert stopped <= 4 + 2
        assert "every process they started was killed" in feedback
    print(f"whole implement (two hanging attempts): {wall:.1f} s")
    assert _processes_with(mark) == []


def test_review_of_a_hanging_test_is_bounded(tmp_path, claude, monkeypatch):
    mark = f"hang-{os.urandom(4).hex()}"
    hang = ('import subprocess, sys, time\n\n\ndef slugify(text: str) -> str:\n'
            '    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(40)  # '
            f'{mark}"], start_new_session=True)\n    time.sleep(60)\n')
    root, _ = make_planned_repo(tmp_path / "repo", code=hang)
    configure(root, test_timeout_s=4)
    started = time.monotonic()
    result = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    wall = time.monotonic() - started
    data = json.loads(result.stdout)
    tests = next(c for c in data["checks"] if c["name"] == "tests")
    assert result.exit_code == 1 and data["decision"] == "blocked"
    assert tests["summary"].startswith("tests did not finish within 4 s")
    stopped = float(re.search(r"stopped after ([\d.]+) s", tests["summary"]).group(1))
    print(f"\nreview hang case: stopped after {stopped:.2f} s; whole review {wall:.1f} s")
    assert stopped <= 4 + 2
    assert _processes_with(mark) == []


def test_sigkill_of_hybrid_implement_leaves_no_test_process(tmp_path):
    mark = f"orphan-{os.urandom(4).hex()}"
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    configure(root, test_timeout_s=120)
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        ollama.responder = Script({"add": [HANG.replace("MARK", mark)]})
        env = {**os.environ, **env_for(ollama, claude)}
        proc = subprocess.Popen([sys.executable, "-m", "hybridcode", "implement", "p1", "--json"],
                                cwd=root, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not _processes_with(mark) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _processes_with(mark), "the test never started"
            wt = str(worktree(root).resolve())
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 5
            while (_processes_with(mark) or _pytest_in(wt)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _processes_with(mark) == [] and _pytest_in(wt) == []
        finally:
            if proc.poll() is None:
                proc.kill()


def _pytest_in(directory: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if b"pytest" in cmdline and cwd == directory:
            found.append(int(entry.name))
    return found


# ------------------------------------------------------------------ the project's environment

def _venv(path: Path, with_pytest: bool, module: str | None = None) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next(path.glob("lib/python*/site-packages"))
    if with_pytest:  # the project's deps: hybrid's own site-packages stand in for them
        import pytest as _pytest

        (site / "deps.pth").write_text(str(Path(_pytest.__file__).resolve().parents[1]) + "\n")
    if module:
        (site / f"{module}.py").write_text("VALUE = 'only in the project venv'\n")
    return path / "bin" / "python"


PROJECT_TESTS = '''from app.text import slugify
import projdep


def test_lowercases_and_joins_words():
    assert slugify("Hello World") == "hello-world"
    assert projdep.VALUE == "only in the project venv"
'''


def _with_tests(tests: str):
    from review_helpers import spec as base_spec

    def spec():
        data = base_spec().model_dump(mode="json")
        data["items"][0]["tests"]["code"] = tests
        from hybridcode.spec import Spec

        return Spec.model_validate(data)
    return spec


def test_review_uses_the_repository_venv(tmp_path, claude, monkeypatch):
    import review_helpers

    monkeypatch.setattr(review_helpers, "spec", _with_tests(PROJECT_TESTS))
    monkeypatch.setattr(review_helpers, "TESTS", PROJECT_TESTS)
    root, _ = review_helpers.make_planned_repo(tmp_path / "repo")
    _venv(root / ".venv", with_pytest=True, module="projdep")
    claude.enqueue_json(verdict())
    result = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    data = json.loads(result.stdout)
    tests = next(c for c in data["checks"] if c["name"] == "tests")
    assert tests["ok"], tests
    assert result.exit_code == 0


def test_tests_that_cannot_run_are_not_reported_as_failures(tmp_path, claude):
    root, _ = make_planned_repo(tmp_path / "repo")
    python = _venv(tmp_path / "bare", with_pytest=False)
    (root / ".hybrid" / "config.toml").write_text(f'[checks]\npython = "{python}"\n')
    result = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    data = json.loads(result.stdout)
    tests = next(c for c in data["checks"] if c["name"] == "tests")
    assert tests["could_not_run"] and not tests["ok"]
    assert tests["summary"].startswith(f"could not run: pytest is not installed for {python}")
    # Its own exit code (docs/ci.md): an environment to fix, not code to reject.
    assert data["decision"] == "blocked" and result.exit_code == 3
    report = runner.invoke(app, ["review", PLAN_ID, "--repo", str(root)])
    assert "could not run" in report.output


# ------------------------------------------------------------------ review scope

def test_a_diff_touching_an_undeclared_file_is_blocked(tmp_path, claude):
    root, wt = make_planned_repo(tmp_path / "repo")
    (wt / "conftest.py").write_text("# not in the spec\n")
    result = runner.invoke(app, ["review", PLAN_ID, "--json", "--repo", str(root)])
    data = json.loads(result.stdout)
    scope = next(c for c in data["checks"] if c["name"] == "scope")
    assert not scope["ok"] and "conftest.py" in scope["summary"]
    assert data["decision"] == "blocked" and result.exit_code == 1


# ------------------------------------------------------------------ no sandbox, and mode "off"

def _path_without_bwrap(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "ssh-keygen"):  # the demo signs its approval
        os.symlink(shutil.which(tool), bin_dir / tool)
    return str(bin_dir)


def test_without_a_sandbox_model_code_is_not_run(tmp_path):
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        ollama.responder = script = Script({"add": [CORRECT]})
        env = {**os.environ, **env_for(ollama, claude), "PATH": _path_without_bwrap(tmp_path)}
        proc = subprocess.run([sys.executable, "-m", "hybridcode", "implement", "p1"], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "not run without a sandbox" in lines[0] and "install bubblewrap" in lines[0]
    assert 'mode = "off"' in lines[0]
    assert script.count("add") == 0  # nothing was paid for


def test_mode_off_is_named_in_every_run_and_review_report(tmp_path, fakes, monkeypatch, claude):
    monkeypatch.setenv("HYBRID_SANDBOX__MODE", "off")
    root = make_project(tmp_path / "repo")
    write_plan(root, [hostile_item()])
    ollama, _ = fakes
    ollama.responder = Script({"add": [CORRECT]})
    result, data = implement(root, monkeypatch)
    assert result.exit_code == 0, result.output
    assert any('[sandbox] mode = "off"' in m for m in data["messages"])

    review_root, _ = make_planned_repo(tmp_path / "review")
    claude.enqueue_json(verdict())
    shown = runner.invoke(app, ["review", PLAN_ID, "--repo", str(review_root)])
    assert 'without a sandbox ([sandbox] mode = "off")' in shown.output


def test_doctor_shows_the_sandbox(repo, monkeypatch):
    monkeypatch.chdir(repo)
    data = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    box = next(c for c in data["checks"] if c["name"] == "sandbox")
    assert box["ok"] and box["detail"].startswith("bubblewrap")
    monkeypatch.setenv("HYBRID_SANDBOX__MODE", "off")
    data = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    box = next(c for c in data["checks"] if c["name"] == "sandbox")
    assert not box["ok"] and "without a sandbox" in box["detail"]


def test_doctor_without_bubblewrap_says_what_to_install(repo, tmp_path):
    env = {**os.environ, "PATH": _path_without_bwrap(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "hybridcode", "doctor", "--json"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)
    box = next(c for c in json.loads(proc.stdout)["checks"] if c["name"] == "sandbox")
    assert not box["ok"] and box["required"]
    assert "bubblewrap" in box["detail"] and "apt-get install bubblewrap" in box["hint"]




def test_the_demo_still_runs_on_a_machine_without_bubblewrap(tmp_path):
    """The demo's code is the bundled recordings: it runs unsandboxed there, and says so."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OLLAMA_", "HYBRID_", "OPENAI_"))}
    env.update({"PATH": _path_without_bwrap(tmp_path), "OLLAMA_HOST": "http://127.0.0.1:9",
                "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "NO_COLOR": "1",
                "HYBRID_USER_CONFIG": str(tmp_path / "none.toml")})
    proc = subprocess.run([sys.executable, "-m", "hybridcode", "demo", "--json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    review = json.loads(proc.stdout)["review"]
    assert review["decision"] == "approved"
    assert any('[sandbox] mode = "off"' in note for note in review["notes"])
