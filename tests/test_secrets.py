"""hybridcode.secrets: one pattern set, the known values, the allow-lists, and the door every
request passes — for each real backend, over real HTTP against the fakes."""

from __future__ import annotations

import json

import pytest

from hybridcode.config import ModelSpec, load_settings
from hybridcode.context.files import find_secret
from hybridcode.ledger import Ledger
from hybridcode.ledger.redact import redact
from hybridcode.models.base import Block, Message, ModelRequest
from hybridcode.models.caller import Caller
from hybridcode.secrets import find_secrets, known_values, placeholder, redact_findings
from hybridcode.secrets.door import Door
from hybridcode.testing import FakeAnthropic, FakeOllama

# Token shapes, assembled so that no scanner reading this file flags it.
ANT = "sk-" + "ant-api03-" + "Qm4Rt7Yu1Io9Pa3Sd6Fg2Hj5Kl8Zx0Cv"
AWS = "AKIA" + "Z3MHQWERTYUIOPAS"
GHP = "ghp_" + "a1B2c3D4" * 5
PEM = ("-----BEGIN " + "RSA PRIVATE KEY-----\n"
       "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6\n"
       "ffAt0gBqeQyfHmQGf9bq0C5c0Eb1f9v9q3F0\n-----END " + "RSA PRIVATE KEY-----")


@pytest.mark.parametrize("text, kind", [
    (f"# fallback: {ANT}\n", "Anthropic API Key"),  # unquoted, in a comment
    (f"log: using {AWS} for s3\n", "AWS Access Key"),
    (f"token {GHP} expired\n", "GitHub Token"),
    (f"{PEM}\n", "Private Key"),
    ("remote: https://deploy:Zx9vQ2pL7@git.example.com/app.git\n", "Basic Auth Credentials"),
    ("curl -H 'Authorization: Bearer eyJhbGciOi.J9x1-abc'\n", "Bearer Token"),
])
def test_the_one_pattern_set_is_what_every_user_sees(text, kind):
    """Context vetting, the review's scan (find_secrets) and ledger redaction agree."""
    found = find_secrets("notes.txt", text, values={})
    assert kind in {f.kind for f in found}
    assert find_secret("notes.txt", text, values={}) == (found[0].kind, 1)
    assert found[0].value not in redact(text)
    assert found[0].value not in Door().vet(text)[0]


def test_ordinary_text_has_no_findings():
    text = ("def verify_password(user, password):\n    return bearer_authentication(user)\n"
            "pip install scikit-learn; task-ant\nurl = f'https://{user}:{password}@host'\n")
    assert find_secrets("app.py", text, values={}) == []
    assert redact(text) == text


def test_secret_env_values_are_known_and_words_are_not():
    values = known_values(environ={
        "DB_PASSWORD": "pg-Secr3t-9f2c", "GITHUB_TOKEN": GHP, "AWS_SECRET_ACCESS_KEY": "x" * 3,
        "POSTGRES_PASSWORD": "postgres", "TOKENIZERS_PARALLELISM": "false",
        "HOME": "/home/someone-9", "PGPASSWORD": "Tr0ub4dor&3",
        "DATABASE_URL": "postgres://app:x9-Y8@db/app", "PATH": "/usr/bin:/bin"})
    assert values == {"pg-Secr3t-9f2c": "env:DB_PASSWORD", GHP: "env:GITHUB_TOKEN",
                      "Tr0ub4dor&3": "env:PGPASSWORD",
                      "postgres://app:x9-Y8@db/app": "env:DATABASE_URL"}


def test_short_heuristic_values_are_replaced_on_their_line_only():
    text = "const c = {apiKey: 'base'};\nconst database = 'base' + 'ball';\n"
    found = find_secrets("c.js", text, values={})
    vetted, counts = redact_findings(text, found)
    assert vetted.splitlines() == ["const c = {apiKey: '[REDACTED:secret-keyword]'};",
                                   "const database = 'base' + 'ball';"]
    assert counts == {"Secret Keyword": 1}


def test_pragma_silences_every_net_on_its_line():
    text = (f"KEY = '{ANT}'  # pragma: allowlist secret\n"
            f"OTHER = '{AWS}'\n")
    assert [f.kind for f in find_secrets("k.py", text, values={})] == ["AWS Access Key"]


def test_the_door_is_deterministic_and_idempotent(tmp_path):
    door = Door(tmp_path, environ={"DB_PASSWORD": "pg-Secr3t-9f2c"})
    text = f"E  assert 'pg-Secr3t-9f2c' == 3\n# {ANT}\n"
    once, counts = door.vet(text)
    assert once == (f"E  assert '{placeholder('env:DB_PASSWORD')}' == 3\n"
                    f"# {placeholder('Anthropic API Key')}\n")
    assert counts == {"env:DB_PASSWORD": 1, "Anthropic API Key": 1}
    assert door.vet(text) == (once, counts)  # the same bytes: a cached prefix stays cached
    assert Door(tmp_path).vet(once) == (once, {})  # placeholders are not secrets


def test_a_baselined_value_audited_as_real_is_still_not_sent(tmp_path):
    from hybridcode.secrets.allowlist import hash_secret

    fixture, real = "4f2a9c81e7b3d6a05c8e1f9b2d7a3e6c", "9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e"
    entry = {"type": "Hex High Entropy String", "line_number": 1, "is_verified": False}
    baseline = {"version": "1.5.0", "plugins_used": [], "filters_used": [], "results": {
        "t.py": [{**entry, "hashed_secret": hash_secret(fixture)},
                 {**entry, "hashed_secret": hash_secret(real), "is_secret": True}]}}
    (tmp_path / ".secrets.baseline").write_text(json.dumps(baseline))
    vetted, counts = Door(tmp_path).vet(f'A = "{fixture}"\nB = "{real}"\n')
    assert fixture in vetted and real not in vetted
    assert counts == {"Hex High Entropy String": 1}


# ---------------------------------------------------------------------------- every backend

def _request(secret: str) -> ModelRequest:
    return ModelRequest(
        system=(Block("You write code.", cache=True), Block(f"Repository map\n# {secret}\n")),
        messages=(Message("user", (Block(f"## Item\nkey={secret}", cache=True),)),
                  Message("assistant", "```python\npass\n```"),
                  Message("user", f"E   assert '{secret}' == 1")))


@pytest.mark.parametrize("backend", ["ollama", "openai", "anthropic"])
def test_every_backend_is_reached_only_through_the_door(tmp_path, backend):
    with FakeOllama(models={"qwen2.5-coder:32b": 1}) as ollama, FakeAnthropic() as claude:
        settings = load_settings(tmp_path, environ={
            "OLLAMA_HOST": ollama.host, "HYBRID_OPENAI_BASE_URL": ollama.base_url,
            "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": claude.base_url})
        model = "claude-sonnet-5-5" if backend == "anthropic" else "qwen2.5-coder:32b"
        ollama.enqueue_text("ok")
        claude.enqueue_text("ok")
        with Ledger.open(tmp_path) as ledger:
            caller = Caller(settings, ledger, root=tmp_path)
            caller.call(ModelSpec(backend=backend, model=model), _request(ANT),
                        step="implement", tier="implementer")
            extra = json.loads(ledger.query("SELECT extra FROM calls")[0]["extra"])
        sent = [r.body.decode() for r in ollama.requests + claude.requests if r.body]
        assert sent and not any(ANT in body for body in sent)
        assert any(placeholder("Anthropic API Key") in body for body in sent)
    assert extra["redacted"] == {"Anthropic API Key": 3}


def test_a_short_plain_configured_key_is_a_word_not_a_secret(tmp_path):
    """ANTHROPIC_API_KEY=test must not cut "test" out of every prompt and every ledger row;
    a real-looking configured key is still removed wherever it appears."""
    with FakeOllama(models={"qwen2.5-coder:32b": 1}) as ollama, FakeAnthropic() as claude:
        for key, kept in (("test", True), ("gw-7f3a9c2e", False)):
            settings = load_settings(tmp_path, environ={
                "OLLAMA_HOST": ollama.host, "ANTHROPIC_API_KEY": key,
                "ANTHROPIC_BASE_URL": claude.base_url})
            claude.enqueue_text("ok")
            text = f"def test_add():\n    assert add(1, 2) == 3  # {key}\n"
            with Ledger.open(tmp_path) as ledger:
                Caller(settings, ledger, root=tmp_path).call(
                    ModelSpec(backend="anthropic", model="claude-sonnet-5-5"),
                    ModelRequest(system=(Block("You write code."),),
                                 messages=(Message("user", text),)),
                    step="implement", tier="implementer")
            sent = claude.requests[-1].body.decode()
            assert (f"# {key}" in sent) is kept
            assert ("[REDACTED:configured-key]" in sent) is not kept
            assert ("test_add" in sent) and (redact(f"key={key}", [key]) == f"key={key}") is kept


# ---------------------------------------------------------------------------- context vetting

def test_map_leaves_out_an_unquoted_key_and_shows_a_baselined_false_positive(repo):
    import subprocess
    import sys
    from pathlib import Path

    from typer.testing import CliRunner

    from hybridcode.cli.app import app

    (repo / "keys.py").write_text(f"def client():\n    return 1\n# old: {ANT}\n")
    (repo / "data.py").write_text('def blob():\n    return "4f2a9c81e7b3d6a05c8e1f9b2d7a3e6c"\n')
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)

    def excluded() -> dict[str, str]:
        result = CliRunner().invoke(app, ["map", str(repo), "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return {e["path"]: e["reason"] for e in json.loads(result.stdout)["excluded"]}

    assert excluded() == {"keys.py": "secret: Anthropic API Key line 3",
                          "data.py": "secret: Hex High Entropy String line 2"}
    scan = subprocess.run([str(Path(sys.executable).with_name("detect-secrets")), "scan",
                           "data.py"], cwd=repo, capture_output=True, text=True, check=True)
    (repo / ".secrets.baseline").write_text(scan.stdout)
    assert excluded() == {"keys.py": "secret: Anthropic API Key line 3"}  # a fresh verdict


def test_a_baseline_exclude_pattern_that_is_not_a_regex_is_one_line_with_advice(tmp_path):
    from hybridcode.errors import ConfigError
    from hybridcode.secrets import Allowlist

    baseline = {"version": "1.5.0", "plugins_used": [], "results": {}, "filters_used": [
        {"path": "detect_secrets.filters.regex.should_exclude_line", "pattern": ["Bearer ("]}]}
    (tmp_path / ".secrets.baseline").write_text(json.dumps(baseline))
    with pytest.raises(ConfigError) as info:
        Allowlist.load(tmp_path)
    assert "--exclude-lines pattern 'Bearer (' is not a regular expression" in str(info.value)
    assert "detect-secrets scan" in info.value.hint
