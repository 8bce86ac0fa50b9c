"""Which files may reach a model: git's view, .hybridignore, env/key files, secrets, binaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridcode.vcs import repo as gitrepo
from hybridcode.context import files
from hybridcode.secrets import detector
from hybridcode.errors import GitError

from conftest import git

AWS_LINE = 'AWS_ACCESS_KEY_ID = "AKIAZ3MHQWERTYUIOPAS"\n'


@pytest.mark.parametrize("path, reason", [
    (".env", "env file"), ("config/.env.local", "env file"), (".envrc", "env file"),
    ("deploy/server.pem", "key file"), ("id_rsa", "key file"), ("keys/id_ed25519.pub", "key file"),
    ("cert.p12", "key file"), ("store.PFX", "key file"), ("tls/site.key", "key file"),
    (".netrc", "key file"),
    ("src/app.py", None), ("environment.py", None), ("docs/keys.md", None), ("Makefile", None),
])
def test_name_reason(path: str, reason: str | None) -> None:
    assert files.name_reason(path) == reason


@pytest.mark.parametrize("text, expected", [
    (AWS_LINE, ("AWS Access Key", 1)),
    ("import os\n\n" + AWS_LINE, ("AWS Access Key", 3)),
    ('db_password = "s3cr3t-Hunter2!"\n', ("Secret Keyword", 1)),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n", ("Private Key", 1)),
    ('TOKEN = "ghp_' + "a1B2" * 9 + '"\n', ("GitHub Token", 1)),
    ('URL = "https://admin:Zx9vQ2pL@db.example.com/prod"\n', ("Basic Auth Credentials", 1)),
    ('SALT = "8f14e45fceea167a5a36dedd4bea2543"\n', ("Hex High Entropy String", 1)),
])
def test_find_secret_flags_what_detect_secrets_flags(text: str, expected: tuple) -> None:
    assert files.find_secret("settings.py", text) == expected


@pytest.mark.parametrize("text", [
    "def password_reset(user):\n    return user.password\n",
    'LABEL = "Enter your password"\n',
    'MODULE = "django.contrib.auth.backends"\n',
    'db_password = "s3cr3t-Hunter2!"  # pragma: allowlist secret\n',
    "",
])
def test_find_secret_leaves_ordinary_code_alone(text: str) -> None:
    assert files.find_secret("app.py", text) is None


def test_crlf_and_form_feed_keep_line_numbers() -> None:
    text = "a = 1\r\n\x0c\r\nb = 2\r\n" + AWS_LINE.replace("\n", "\r\n")
    assert files.find_secret("app.py", text) == ("AWS Access Key", 4)


def test_secret_scanning_batches_share_settings() -> None:
    with files.secret_scanning():
        assert files.find_secret("a.py", AWS_LINE) == ("AWS Access Key", 1)
        assert files.find_secret("b.py", "x = 1\n") is None


def test_content_reason() -> None:
    assert files.content_reason("a.bin", b"\x89PNG\r\n\x1a\n\0\0\0") == "binary"
    assert files.content_reason("a.py", AWS_LINE.encode()) == "secret: AWS Access Key line 1"
    assert files.content_reason("a.py", b"def f():\n    return 1\n") is None


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_select_files_applies_gitignore_hybridignore_and_names(repo: Path) -> None:
    _write(repo, ".gitignore", "build/\n*.log\n")
    _write(repo, ".hybridignore", "vendor/\n*.generated.py\n!keep.generated.py\n")
    _write(repo, "src/app.py", "x = 1\n")
    _write(repo, "vendor/lib.py", "y = 2\n")                  # tracked, hybridignored
    _write(repo, "src/api.generated.py", "z = 3\n")           # untracked, hybridignored
    _write(repo, "src/keep.generated.py", "z = 3\n")          # negated: kept
    _write(repo, "build/out.py", "w = 4\n")                   # gitignored
    _write(repo, "run.log", "log\n")                          # gitignored
    _write(repo, ".env", "SECRET=1\n")
    _write(repo, "certs/server.pem", "pem\n")
    _write(repo, ".hybrid/cache/junk.py", "state\n")          # the tool's own state
    git(repo, "add", ".gitignore", ".hybridignore", "src/app.py", "vendor/lib.py")
    git(repo, "commit", "-qm", "files")

    sel = files.select_files(repo)
    assert sorted(sel.candidates) == [".gitignore", ".hybridignore", "README.md",
                                      "src/app.py", "src/keep.generated.py"]
    assert sel.excluded == {"vendor/lib.py": "ignored", "src/api.generated.py": "ignored",
                            ".env": "env file", "certs/server.pem": "key file"}


def test_select_files_without_hybridignore(repo: Path) -> None:
    _write(repo, "a.py", "x = 1\n")
    sel = files.select_files(repo)
    assert sorted(sel.candidates) == ["README.md", "a.py"]
    assert sel.excluded == {}


def test_odd_file_names_survive(repo: Path) -> None:
    _write(repo, "dir with space/naïve \"quoted\".py", "x = 1\n")
    assert 'dir with space/naïve "quoted".py' in files.select_files(repo).candidates


def test_repo_root_and_errors(repo: Path, tmp_path: Path) -> None:
    (repo / "pkg").mkdir()
    assert gitrepo.repo_root(repo / "pkg") == repo.resolve()
    assert gitrepo.repo_root(repo / "README.md") == repo.resolve()
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(GitError) as err:
        gitrepo.repo_root(outside)
    assert "git init" in str(err.value)
    with pytest.raises(GitError, match="does not exist"):
        gitrepo.repo_root(tmp_path / "missing")


def test_missing_git_says_how_to_install(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GitError) as err:
        gitrepo.repo_root(repo)
    assert err.value.hint is not None and "install git" in err.value.hint


def test_check_ignore(repo: Path) -> None:
    _write(repo, ".gitignore", "*.log\n")
    assert gitrepo.check_ignore(repo, ["a.log", "a.py", "dir/b.log"]) == {"a.log", "dir/b.log"}
    assert gitrepo.check_ignore(repo, ["a.py"]) == set()
    assert gitrepo.check_ignore(repo, []) == set()


def _naive_risky_lines(text: str) -> list[int]:
    """The prefilter as first written: one find sweep per literal, every entropy computed."""
    lower, hits = text.lower(), []
    for literal in detector._TRIGGERS:
        pos = lower.find(literal)
        while pos != -1:
            hits.append(pos)
            pos = lower.find(literal, pos + 1)
    for match in detector._QUOTED.finditer(text):
        token = match.group(2)
        limit = detector._HEX_LIMIT if detector._HEX.issuperset(token) else detector._BASE64_LIMIT
        line = lower[lower.rfind("\n", 0, match.start()) + 1:].split("\n", 1)[0]
        if detector._entropy(token) > limit or (len(token) >= 20 and "key" in line):
            hits.append(match.start())
    for shape in detector._SHAPES:
        hits.extend(m.start() for m in shape.finditer(text))
    return sorted({text.count("\n", 0, pos) + 1 for pos in hits})


@pytest.mark.parametrize("text", [
    "x = 1\napi_key = 'a'\nprivate_key\ndb_pass = 2\n",
    "keykeykey\n  mykeypass = 1\nkey\n-key-file x\nprivate key here\n",
    "ghp_x\ngh gl\nglpat-abc\n  glagent-1\nnothing\n",
    "a = '0123456789abcdef0123'\nb = '01234567'\nc = 'aaaaaaaaaaaaaaaaaaaaaaaaa'\n",
    "d = 'ABCDEFGHIJKLMNOPQRSTUVWabc'\ne = 'ABCDEFGHIJKLMNOPQRSTUVW'\n",
    "f = 'abcdefghijklmnopqrstuv0123456789'  # key\n",
    "key\npass\n" * 3 + "PASSWORD = 'x'\nToken = 1\n",
])
def test_risky_lines_equal_the_plain_scan(text: str) -> None:
    assert detector._risky_lines(text) == _naive_risky_lines(text)


def test_entropy_bound_is_safe() -> None:
    # The skip rule may only drop tokens whose entropy cannot pass the limit.
    for token in ("0123456", "abcdefghijklmnopqrstuv" * 3, "01234567" * 4):
        limit = detector._HEX_LIMIT if detector._HEX.issuperset(token) else detector._BASE64_LIMIT
        if not detector._could_pass_entropy(token):
            assert detector._entropy(token) <= limit


# --- the per-plugin gates of _detect ---------------------------------------------------------

def _full_pipeline(path: str, text: str, risky: list[int]) -> tuple[str, int] | None:
    """scan_file()'s steps on the given lines with no gates: every plugin on every line, the
    line filters first. The gated scan must agree with it exactly."""
    from detect_secrets.core import scan

    all_lines = text.split("\n")
    with files.secret_scanning():
        if scan._is_filtered_out(required_filter_parameters=["filename"], filename=path):
            return None
        plugins = list(scan.get_plugins())
        for number in risky:
            line = all_lines[number - 1].rstrip()
            snippet = scan.get_code_snippet(lines=all_lines, line_number=number)
            if scan._is_filtered_out(required_filter_parameters=["line"], filename=path,
                                     line=line, context=snippet):
                continue
            for plugin in plugins:
                for secret in scan._scan_line(plugin=plugin, filename=path, line=line,
                                              line_number=number, context=snippet):
                    if not scan._is_filtered_out(
                            required_filter_parameters=["context"], filename=secret.filename,
                            secret=secret.secret_value, plugin=plugin, line=line,
                            context=snippet):
                        return secret.type, number
    return None


# One line per default plugin that the plugin matches (most survive the filters too).
PLUGIN_SAMPLES = {
    "ArtifactoryDetector": "artifactory_token AKCp8jQ8Ab4kfahoWkEzP4MNjVHCZz3tQu7BfYA",
    "AWSKeyDetector": "aws_key = AKIAZ3MHQWERTYUIOPAS",
    "AzureStorageKeyDetector": "conn = DefaultEndpointsProtocol=https;AccountKey="
                               "lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+"
                               "qnlcNQSnIYVTkLWntUOTtJG+Gw==",
    "BasicAuthDetector": "url = https://admin:Zx9vQ2pL@db.example.com/prod",
    "CloudantDetector": "cloudant_password = " + "abcdef" * 10 + "abcd",
    "DiscordBotTokenDetector": "bot MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    "GitHubTokenDetector": "tok ghp_" + "a1B2" * 9,
    "GitLabTokenDetector": "tok glpat-" + "a1B2c3D4e5" * 2,
    "Base64HighEntropyString": 'x = "Zx9vQ2pLm4N7qR1sT5uV8wY0zA3bC6dE9fG2hJ5k"',
    "HexHighEntropyString": 'x = "8f14e45fceea167a5a36dedd4bea2543"',
    "IbmCloudIamDetector": "ibm_cloud_iam_api_key = " + "abcd1234" * 5 + "abcd",
    "IbmCosHmacDetector": "ibm_cos_secret_access_key = " + "0123456789abcdef" * 3,
    "IPPublicDetector": "server = 54.23.111.9:80",
    "JwtTokenDetector": "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
                        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "KeywordDetector": 'db_password = "s3cr3t-Hunter2!"',
    "MailchimpDetector": "mc 0123456789abcdef0123456789abcdef-us12",
    "NpmDetector": "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnop",
    "OpenAIDetector": "k sk-abcdefghijklmnopqrstT3BlbkFJabcdefghijklmnopqrst",
    "PrivateKeyDetector": "-----BEGIN RSA PRIVATE KEY-----",
    "PypiTokenDetector": "p pypi-AgEIcHlwaS5vcmc" + "A" * 70,
    "SendGridDetector": "sg SG." + "a" * 22 + "." + "b" * 43,
    "SlackDetector": "slack xoxb-123456789012-abcdefghijk",
    "SoftlayerDetector": "softlayer_api_key = " + "abcdef0123456789" * 4,
    "SquareOAuthDetector": "sq sq0csp-" + "a" * 43,
    "StripeDetector": "stripe sk_live_" + "a1" * 12,
    "TelegramBotTokenDetector": "tg 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
    "TwilioKeyDetector": "tw ACabcdef0123456789abcdef0123456789",
}


def _default_plugins() -> dict[str, object]:
    from detect_secrets.core import scan

    with files.secret_scanning():
        return {type(p).__name__: p for p in scan.get_plugins()}


def test_every_default_plugin_has_a_sample_and_a_gate() -> None:
    # A detect-secrets upgrade that adds a plugin runs it ungated (safe) but fails here, so
    # someone writes its gate and sample.
    assert sorted(_default_plugins()) == sorted(PLUGIN_SAMPLES)
    assert set(PLUGIN_SAMPLES) - {"KeywordDetector"} == set(detector._GATES)


@pytest.mark.parametrize("name", sorted(PLUGIN_SAMPLES))
def test_each_gate_passes_a_line_its_plugin_matches(name: str) -> None:
    plugin = _default_plugins()[name]
    line = PLUGIN_SAMPLES[name]
    with files.secret_scanning():
        assert plugin.analyze_line(filename="settings.py", line=line, line_number=1)
    gate = detector._keyword_gate("settings.py") if name == "KeywordDetector" else detector._GATES[name]
    assert gate(line, line.casefold())


@pytest.mark.parametrize("path", ["settings.py", "main.go", "app.ts", "config.yaml"])
@pytest.mark.parametrize("name", sorted(PLUGIN_SAMPLES))
def test_gated_scan_agrees_with_the_full_pipeline(name: str, path: str) -> None:
    text = f"import os\n{PLUGIN_SAMPLES[name]}\nx = 1\n"
    assert detector._detect(path, text, [1, 2, 3]) == _full_pipeline(path, text, [1, 2, 3])


_FRAGMENTS = ["password", "PASSWD", "api_key", "secret", "token", "Key", "=", " = ", ":", "'",
              '"', "`", "(", ")", ";", " ", "AKIA", "ghp_", "eyJ", "xoxb-", "SG.", "://", "@",
              "8f14e45fceea167a5a36dedd4bea2543", "Zx9vQ2pLm4N7qR1sT5uV8wY0zA3bC6dE9fG2hJ5k",
              "s3cr3t-Hunter2!", "user", "db", "_", "-", ".", "cl", "sl", "ibm", "cos", "aws",
              "54.23.111.9", "AC", "0123456789abcdef" * 2, "ſ"]


@pytest.mark.parametrize("seed", range(6))
def test_gated_scan_agrees_on_random_lines(seed: int) -> None:
    import random

    rng = random.Random(seed)
    lines = ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 9)))
             for _ in range(150)]
    for path in ("settings.py", "main.go"):
        for number in range(1, len(lines) + 1):
            text = "\n".join(lines)
            assert detector._detect(path, text, [number]) == _full_pipeline(path, text, [number]), \
                lines[number - 1]
