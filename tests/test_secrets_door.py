"""No secret leaves for a model: every request passes one door, and the review's blocking scan
lets through what a project allow-listed the detect-secrets way.

Real SDKs against FakeOllama / FakeAnthropic, real git, real pytest runs; the fakes keep every
request body they received, and no secret value may appear in any of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from implement_helpers import (
    Script,
    add_item,
    arith_tests,
    code,
    fn_item,
    git,
    make_project,
    settings_for,
    write_plan,
)
from review_helpers import verdict
from typer.testing import CliRunner

from hybridcode.cli.app import app
from hybridcode.implement.runner import implement_plan
from hybridcode.ledger import Ledger
from hybridcode.testing import FakeAnthropic, FakeOllama

runner = CliRunner()

# A developer's local database password (fake).
DB_PASSWORD = "pg-Secr3t-9f2c"  # pragma: allowlist secret
# An Anthropic key shape, written in pieces so no scanner of this repository flags this file.
ANT_KEY = "sk-" + "ant-api03-" + "Zx8Qw7Er6Ty5Ui4Op3As2Df1Gh0JkLzXcVbNm"
CONTEXT_SECRET = "Zq8-hunter2-Pr0d"


def bodies(*fakes) -> list[str]:
    """Every request body the fakes received, as text (raw and JSON-decoded, so an escape
    cannot hide a value)."""
    out = []
    for fake in fakes:
        for request in fake.requests:
            out.append(request.body.decode("utf-8", "replace"))
            if request.json is not None:
                out.append(json.dumps(request.json, ensure_ascii=False))
    return out


def leaked(value: str, *fakes) -> int:
    return sum(value in body for body in bodies(*fakes))


def redactions(root: Path) -> list[dict[str, int]]:
    with Ledger.open(root) as ledger:
        rows = ledger.query("SELECT extra FROM calls ORDER BY id")
    return [json.loads(r["extra"]).get("redacted", {}) for r in rows]


@pytest.fixture
def fakes():
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        yield ollama, claude


# ---------------------------------------------------------------------------------- implement

def test_an_env_secret_in_test_output_never_reaches_the_claude_rung(tmp_path, fakes,
                                                                      monkeypatch):
    """The local model's code makes the tests print the developer's DB password; the item
    climbs to Claude with that test output as feedback: the value is replaced on the way."""
    monkeypatch.setenv("DB_PASSWORD", DB_PASSWORD)
    root = make_project(tmp_path / "repo")
    (root / "calc" / "db.txt").write_text(DB_PASSWORD + "\n")  # read by the model's code
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "db")
    write_plan(root, [add_item()])
    ollama, claude = fakes
    leaky = ("```python\ndef add(a: int, b: int) -> int:\n"
             "    return open(__file__[:-6] + 'db.txt').read().strip()\n```\n")
    ollama.responder = Script({"add": [leaky]})
    cloud = Script({"add": [code("add", "a + b")]})
    claude.responder = cloud
    settings = settings_for(root, ollama, claude, attempts=1)
    result = implement_plan(root, "p1", settings=settings)

    assert result.ok and cloud.count("add") == 1  # it did climb, with the test output
    assert "[REDACTED:env:DB_PASSWORD]" in cloud.seen["add"][0]
    assert leaked(DB_PASSWORD, ollama, claude) == 0
    assert redactions(root)[-1].get("env:DB_PASSWORD", 0) >= 1  # counted, never the value
    with Ledger.open(root) as ledger:  # the prompt recorded is the one sent
        prompts = [r["prompt"] for r in ledger.query("SELECT prompt FROM attempts")]
    assert prompts and not any(DB_PASSWORD in (p or "") for p in prompts)


# ---------------------------------------------------------------------------------- review

def _repo_with_settings(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    (root / ".gitignore").write_text(".hybrid/\n")
    (root / "settings.py").write_text(
        f'DEBUG = False\nDB_PASSWORD = "{CONTEXT_SECRET}"\nTIMEOUT = 5\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "settings")
    return root


def test_a_secret_in_an_unchanged_context_line_never_reaches_the_reviewer(tmp_path, claude):
    root = _repo_with_settings(tmp_path / "repo")
    (root / "settings.py").write_text(
        f'DEBUG = False\nDB_PASSWORD = "{CONTEXT_SECRET}"\nTIMEOUT = 10\n')
    git(root, "add", "settings.py")
    claude.enqueue_json(verdict() | {"grades": []})
    result = runner.invoke(app, ["review", "--staged", "--json", "--repo", str(root)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    secrets_check = next(c for c in report["checks"] if c["name"] == "secrets")
    # Not this change's doing, so not blocking; but not sent either.
    assert secrets_check["ok"], secrets_check
    sent = [r for r in claude.requests if r.path.endswith("/v1/messages")]
    assert sent and "TIMEOUT = 10" in bodies(claude)[0]
    assert leaked(CONTEXT_SECRET, claude) == 0
    assert "[REDACTED:secret-keyword]" in bodies(claude)[0]
    assert redactions(root)[-1] == {"Secret Keyword": 1}


# ---------------------------------------------------------------------------------- a whole flow

KEYS_PY = f'''"""Client settings for the sample project."""


def client_name() -> str:
    return "calc"

# local fallback key, do not ship: {ANT_KEY}
'''


def _planner_answer() -> dict:
    item = fn_item("add", "add", arith_tests("calc.keys", "add", [(1, 2, 3), (2, 2, 4)]),
                   file="calc/keys.py")
    data = item.model_dump(mode="json", exclude={"route", "route_reason", "route_overridden"})
    data["symbol"] = data.get("symbol") or ""
    for key in ("mutation_score", "doc_style", "allow", "sizing"):  # not the planner's to set
        data.pop(key, None)
    # The planner sizes each item first: long code behind a short spec (delegating pays).
    data["code_tokens"], data["spec_tokens"] = 900, 150
    data["under_test"], data["like"] = data["under_test"] or "", data["like"] or ""
    data["examples"] = [{"input": e["input"], "expected": e["expected"]}
                        for e in data.get("examples", [])]
    data["tests"] = {"code": item.tests.code, "path": ""}
    data["code"] = data.get("code") or ""  # spec version 2's planner answer
    data["risk"] = [name for name, raised in data["risk"].items() if raised]
    data["context"] = ["calc/keys.py"]
    return {"architecture_note": "## Design\nadd() lives next to client_name() in calc/keys.py.",
            "spec": {"title": "add", "summary": "An add function.", "items": [data]}}


def test_an_unquoted_key_in_a_comment_goes_to_no_model_in_plan_implement_or_review(
        tmp_path, monkeypatch):
    root = make_project(tmp_path / "repo")
    (root / "calc" / "keys.py").write_text(KEYS_PY)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "keys")
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        for name, value in {"OLLAMA_HOST": ollama.host, "ANTHROPIC_API_KEY": "sk-test",
                            "ANTHROPIC_BASE_URL": claude.base_url,
                            "HYBRID_ANTHROPIC__MAX_RETRIES": "0"}.items():
            monkeypatch.setenv(name, value)
        claude.enqueue_json(_planner_answer())
        planned = runner.invoke(app, ["plan", "Add add(a, b) to calc/keys.py", "--focus",
                                      "calc/keys.py", "--json", "--repo", str(root)])
        assert planned.exit_code == 0, planned.output
        plan_id = json.loads(planned.stdout)["plan_id"]

        ollama.responder = Script({"add": [code("add", "a + b")]})
        done = runner.invoke(app, ["implement", plan_id, "--json", "--repo", str(root)])
        assert done.exit_code == 0, done.output
        assert ollama.requests_to("/api/chat"), "the local model implemented the item"

        claude.enqueue_json(verdict() | {"grades": []})
        reviewed = runner.invoke(app, ["review", plan_id, "--json", "--repo", str(root)])
        assert reviewed.exit_code in (0, 1), reviewed.output
        review_body = bodies(claude)[-1]
        assert "def add(" in review_body and "client_name" in review_body

        assert len(bodies(claude)) >= 4 and bodies(ollama)
        assert leaked(ANT_KEY, ollama, claude) == 0
        assert leaked(ANT_KEY[:24], ollama, claude) == 0  # nor a prefix of it


# ---------------------------------------------------------------------------------- allow-lists

HEX = "4f2a9c81e7b3d6a05c8e1f9b2d7a3e6c"
TEST_URL = "https://tester:pw-1234@localhost:8080/api"
FAKE_KEY = "sk-" + "ant-api03-" + "FAKEFAKEFAKEFAKE0000fixture"


def test_allow_listed_false_positives_do_not_block_the_review(tmp_path, claude):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    (root / ".gitignore").write_text(".hybrid/\n")
    (root / "README.md").write_text("# web\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    (root / "web").mkdir()
    (root / "web" / "client.test.js").write_text(
        "const config = { apiKey: 'base' }; // pragma: allowlist secret\n"
        f"const fixtureKey = '{FAKE_KEY}'; // pragma: allowlist secret\n")
    (root / "tests").mkdir()
    (root / "tests" / "data.py").write_text(f'BLOB = "{HEX}"\nURL = "{TEST_URL}"\n')
    # The project's baseline, written by detect-secrets itself, as its users do.
    scan = subprocess.run([str(Path(sys.executable).with_name("detect-secrets")), "scan",
                           "tests/data.py"], cwd=root, capture_output=True, text=True,
                          check=True)
    baseline = json.loads(scan.stdout)
    assert len(baseline["results"]["tests/data.py"]) == 2
    (root / ".secrets.baseline").write_text(scan.stdout)
    git(root, "add", "-A")

    claude.enqueue_json(verdict() | {"grades": []})
    result = runner.invoke(app, ["review", "--staged", "--json", "--repo", str(root)])
    assert result.exit_code == 0, result.output
    secrets_check = next(c for c in json.loads(result.stdout)["checks"]
                         if c["name"] == "secrets")
    assert secrets_check["ok"] and "known to .secrets.baseline" in secrets_check["summary"]
    sent = bodies(claude)[0]
    # The door honours the same allow-lists: known false positives are sent as they are.
    assert HEX in sent and "apiKey: 'base'" in sent and FAKE_KEY in sent

    # Without the allow-lists, the same lines block the review.
    (root / ".secrets.baseline").unlink()
    (root / "web" / "client.test.js").write_text(f"const fixtureKey = '{FAKE_KEY}';\n")
    git(root, "add", "-A")
    blocked = runner.invoke(app, ["review", "--staged", "--json", "--repo", str(root)])
    assert blocked.exit_code == 1, blocked.output
    found = next(c for c in json.loads(blocked.stdout)["checks"] if c["name"] == "secrets")
    messages = {(f["file"], f["message"]) for f in found["findings"]}
    assert ("web/client.test.js", "secret: Anthropic API Key") in messages
    assert ("tests/data.py", "secret: Hex High Entropy String") in messages


def test_a_broken_baseline_is_one_line_with_advice(tmp_path, claude):
    root = _repo_with_settings(tmp_path / "repo")
    (root / ".secrets.baseline").write_text("{not json")
    (root / "settings.py").write_text("TIMEOUT = 10\n")
    git(root, "add", "-A")
    result = runner.invoke(app, ["review", "--staged", "--repo", str(root)])
    assert result.exit_code != 0
    assert ".secrets.baseline is not a detect-secrets baseline" in result.output
    assert "detect-secrets scan" in result.output and "Traceback" not in result.output


def test_the_baseline_clears_every_nets_finding_at_its_place(repo, claude):
    """detect-secrets never lists a Bearer test string (only hybrid's token shapes see it) nor
    anything in a file that is not UTF-8 (it skips the file); the baseline still accepts them
    — through its own --exclude-lines/--exclude-files — and an entry detect-secrets does list
    accepts every other net's finding on its line (issue 26)."""
    (repo / "tests").mkdir()
    (repo / "tests" / "test_api.py").write_text(
        "def test_auth():\n"
        '    headers = {"Authorization": "Bearer abc123def456ghi789"}\n'
        '    api_key = "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0"\n'
        "    assert headers and api_key\n")
    (repo / "legacy.py").write_bytes('api_key = "Café-s3cr3tV4lu3-xyzzy"\n'.encode("mac_roman"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tests with fake credentials")

    def secrets_check(*scan_args: str):
        if scan_args:
            scan = subprocess.run([str(Path(sys.executable).with_name("detect-secrets")),
                                   "scan", *scan_args], cwd=repo, capture_output=True,
                                  text=True, check=True)
            (repo / ".secrets.baseline").write_text(scan.stdout)
        result = runner.invoke(app, ["review", "--base", "HEAD~1", "--head", "HEAD", "--json",
                                     "--repo", str(repo)])
        data = json.loads(result.stdout)
        check = next(c for c in data["checks"] if c["name"] == "secrets")
        return result.exit_code, check, {(f["file"], f["line"], f["message"])
                                         for f in check["findings"]}

    code, check, found = secrets_check()  # no baseline: four findings, three places
    assert code == 1 and found == {
        ("tests/test_api.py", 2, "secret: Bearer Token"),
        ("tests/test_api.py", 3, "secret: Secret Keyword"),
        ("tests/test_api.py", 3, "secret: Bearer Token"),
        ("legacy.py", 1, "secret: Secret Keyword")}
    assert "--exclude-lines" in check["details"]  # says how to accept one

    # detect-secrets lists the keyword on line 3: the token inside it goes with it
    code, check, found = secrets_check(".")
    baseline = json.loads((repo / ".secrets.baseline").read_text())
    assert list(baseline["results"]) == ["tests/test_api.py"]  # legacy.py was skipped
    assert code == 1 and found == {("tests/test_api.py", 2, "secret: Bearer Token"),
                                   ("legacy.py", 1, "secret: Secret Keyword")}

    # what detect-secrets never lists is accepted through its own exclude patterns
    claude.enqueue_json(verdict(ids=None) | {"grades": []})
    code, check, found = secrets_check(".", "--exclude-lines", "Bearer abc123def456ghi789",
                                       "--exclude-files", r"^legacy\.py$")
    assert check["ok"] and not found, check
    assert code == 0
    assert "(4 known to .secrets.baseline)" in check["summary"]
