"""Measure how many secrets leave for a model in a whole run over a repository full of them.

    python tests/bench/bench_secrets_sent.py            # one flow, figures on stdout
    python tests/bench/bench_secrets_sent.py --keep DIR # keep the repository to inspect

Builds a real git repository whose files hold secrets of many kinds — AWS access and secret
keys, Anthropic and OpenAI keys, GitHub and Slack tokens, passwords in URLs, a private key, a
quoted ``password = "…"``, and the values of this run's secret environment variables
(``DB_PASSWORD``, ``STRIPE_SECRET_KEY``, ``SERVICE_TOKEN``) — unquoted in comments, in a data
file, in the lines around the change. Then runs ``hybrid plan`` (with ``--focus`` on the file
full of secrets), ``hybrid implement`` (the local model's first answer makes the tests print a
file of secrets; the item climbs to Claude with that output) and ``hybrid review``, through
the real SDKs against FakeOllama and FakeAnthropic, and prints:

- secrets sent: how many of the planted values appear in any request body the fakes received
  (goal 0), and how many (value, request) pairs;
- redacted: what the ledger counted as removed by the door, per kind;
- the door's cost: the time to vet every text of every request sent, again, with a fresh door.

Every secret is generated at random when the script runs: none is written in this file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from implement_helpers import (  # noqa: E402
    _prompt_text,
    arith_tests,
    code,
    fn_item,
    git,
    make_project,
)
from review_helpers import verdict  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from hybridcode.cli.app import app  # noqa: E402
from hybridcode.ledger import Ledger  # noqa: E402
from hybridcode.testing import FakeAnthropic, FakeOllama  # noqa: E402

rng = random.Random(20261201)


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted() -> dict[str, str]:
    """kind → a fresh secret value."""
    upper = string.ascii_uppercase + string.digits
    b64 = string.ascii_letters + string.digits + "+/"
    pem_body = "\n".join(_rand(64, b64) for _ in range(6))
    return {
        "aws-access-key": "AKIA" + _rand(16, upper),
        "aws-secret-key": _rand(40, b64),
        "anthropic-key": "sk-" + "ant-api03-" + _rand(40) + "-" + _rand(8),
        "openai-key": "sk-" + "proj-" + _rand(40),
        "github-token": "ghp_" + _rand(36),
        "slack-token": "xoxb-" + _rand(12, string.digits) + "-" + _rand(24),
        "url-password": _rand(6) + "-" + _rand(6),
        "private-key": pem_body,
        "keyword-password": _rand(5) + "!" + _rand(7),
        "env:DB_PASSWORD": "pg-" + _rand(10),
        "env:STRIPE_SECRET_KEY": _rand(12) + "_" + _rand(12),
        "env:SERVICE_TOKEN": _rand(8) + "." + _rand(16),
    }


def plant(root: Path, s: dict[str, str]) -> None:
    pem = ("-----BEGIN " + "RSA PRIVATE KEY-----\n" + s["private-key"] + "\n-----END "
           + "RSA PRIVATE KEY-----")
    shaped = (f"# aws: {s['aws-access-key']}\n"
              f"# aws_secret_access_key = {s['aws-secret-key']}\n"
              f"# claude: {s['anthropic-key']}\n# openai: {s['openai-key']}\n"
              f"# github: {s['github-token']}\n# slack: {s['slack-token']}\n"
              f"# db: postgres://app:{s['url-password']}@db.internal/app\n")
    (root / "calc" / "creds.py").write_text(
        '"""Client settings."""\n\n' + shaped
        + f'\nADMIN_PASSWORD = "{s["keyword-password"]}"\n'
        + f'DEPLOY_KEY = """\n{pem}\n"""\n\n\ndef client_name() -> str:\n    return "calc"\n\n'
        + f"# fallbacks: {s['env:DB_PASSWORD']} {s['env:SERVICE_TOKEN']}\n"
        + f"# old key: {s['anthropic-key']}\n")
    (root / "calc" / "leak.txt").write_text(
        shaped + pem + "\n" + " ".join(s[k] for k in s if k.startswith("env:")) + "\n")
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "ops.md").write_text("# Ops\n\n" + shaped)
    (root / ".env").write_text("".join(f"{k[4:]}={v}\n" for k, v in s.items()
                                       if k.startswith("env:")))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a repository full of secrets")


def planner_answer() -> dict:
    item = fn_item("add", "add", arith_tests("calc.creds", "add", [(1, 2, 3), (2, 5, 7)]),
                   file="calc/creds.py")
    data = item.model_dump(mode="json", exclude={"route", "route_reason", "route_overridden"})
    data["symbol"] = data.get("symbol") or ""
    for key in ("mutation_score", "doc_style"):  # the project's settings, not the planner's
        data.pop(key, None)
    data["under_test"], data["like"] = data["under_test"] or "", data["like"] or ""
    data["examples"] = [{**e, "note": e.get("note") or ""} for e in data.get("examples", [])]
    data["tests"] = {"code": item.tests.code if item.tests else "", "path": ""}
    data["context"] = ["calc/creds.py", "calc/leak.txt", "docs/ops.md", ".env"]
    return {"architecture_note": "## Design\nadd() goes next to client_name().",
            "spec": {"title": "add", "summary": "An add function.", "items": [data]}}


LEAKY = ("```python\ndef add(a: int, b: int) -> int:\n"
         "    raise RuntimeError(open(__file__[:-8] + 'leak.txt').read())\n```\n")


def bodies(*fakes) -> list[str]:
    out = []
    for fake in fakes:
        for request in fake.requests:
            raw = getattr(request, "body", b"") or b""
            text = raw.decode("utf-8", "replace")
            if request.json is not None:
                text += "\n" + json.dumps(request.json, ensure_ascii=False)
            out.append(text)
    return out


def run(keep: Path | None) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-secrets-"))
    root = make_project(work / "repo")
    secrets = planted()
    plant(root, secrets)
    (root / ".hybrid").mkdir(exist_ok=True)
    (root / ".hybrid" / "config.toml").write_text("attempts = 1\n")  # one local try, then Claude
    cli = CliRunner()
    with FakeOllama() as ollama, FakeAnthropic() as claude:
        os.environ.update({"OLLAMA_HOST": ollama.host, "ANTHROPIC_API_KEY": "sk-test",
                           "ANTHROPIC_BASE_URL": claude.base_url,
                           "HYBRID_ANTHROPIC__MAX_RETRIES": "0",
                           **{k[4:]: v for k, v in secrets.items() if k.startswith("env:")}})
        claude.enqueue_json(planner_answer())
        steps = []
        plan = cli.invoke(app, ["plan", "Add add(a, b) to calc/creds.py", "--focus",
                                "calc/creds.py", "--focus", "docs/ops.md", "--json",
                                "--repo", str(root)])
        steps.append(("plan", plan.exit_code))
        if plan.exit_code != 0:
            print(plan.output)
            return 1
        plan_id = json.loads(plan.stdout)["plan_id"]
        ollama.responder = lambda body: LEAKY
        claude.enqueue_text(code("add", "a + b"))
        done = cli.invoke(app, ["implement", plan_id, "--json", "--repo", str(root)])
        steps.append(("implement", done.exit_code))
        claude.enqueue_json(verdict() | {"grades": []})
        review = cli.invoke(app, ["review", plan_id, "--json", "--repo", str(root)])
        steps.append(("review", review.exit_code))
        sent = bodies(ollama, claude)
        texts = [_prompt_text(r.json) for r in ollama.requests + claude.requests
                 if isinstance(r.json, dict) and r.json.get("messages")]
        n_ollama, n_claude = len(ollama.requests), len(claude.requests)

    values = {kind: value for kind, value in secrets.items()}
    values["private-key"] = secrets["private-key"].splitlines()[0]  # any line of it counts
    leaked = {kind: sum(v in body for body in sent) for kind, v in values.items()}
    redacted: dict[str, int] = {}
    with Ledger.open(root) as ledger:
        rows = ledger.query("SELECT step, extra FROM calls ORDER BY id")
    for row in rows:
        for kind, n in json.loads(row["extra"]).get("redacted", {}).items():
            redacted[kind] = redacted.get(kind, 0) + n

    print("steps:", ", ".join(f"{name} exit {code}" for name, code in steps))
    print(f"requests received: {n_ollama} by FakeOllama (incl. /api/show), {n_claude} by "
          f"FakeAnthropic; model calls in the ledger: {len(rows)} "
          f"({', '.join(r['step'] for r in rows)})")
    print(f"secret values planted: {len(values)} kinds")
    print(f"secrets sent: {sum(1 for n in leaked.values() if n)} of {len(values)} values "
          f"appear in some request; {sum(leaked.values())} (value, request) pairs  [goal 0]")
    for kind, n in leaked.items():
        if n:
            print(f"  leaked: {kind} in {n} request(s)")
    print(f"redacted by the door (ledger): {sum(redacted.values())} occurrence(s)")
    for kind, n in sorted(redacted.items()):
        print(f"  {kind}: {n}")
    _door_cost(texts)
    if keep is not None:
        shutil.copytree(root, keep / "repo", dirs_exist_ok=True)
        print(f"repository kept in {keep / 'repo'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _door_cost(texts: list[str]) -> None:
    """Time to vet the prompt text of every model request again, with a fresh door (no memo)."""
    try:
        from hybridcode.secrets.door import Door
    except ImportError:  # measuring a tree without the door
        return
    door = Door()
    started = time.perf_counter()
    for text in texts:
        door.vet(text)
    ms = (time.perf_counter() - started) * 1000
    chars = sum(len(t) for t in texts)
    print(f"door cost: {ms:.0f} ms to vet the text of {len(texts)} requests "
          f"({chars / 1000:.0f} kB), {ms / max(1, len(texts)):.1f} ms per request")
    # A large prompt: hybridcode's own source, as one text (a planner prompt on a big map).
    big = "\n".join(p.read_text() for p in sorted((ROOT / "hybridcode").rglob("*.py")))
    started = time.perf_counter()
    _, found = Door().vet(big)
    ms = (time.perf_counter() - started) * 1000
    print(f"door throughput: {ms:.0f} ms for one {len(big) / 1000:.0f} kB text "
          f"({ms / (len(big) / 100_000):.0f} ms per 100 kB; {sum(found.values())} finding(s))")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="copy the repository here")
    args = parser.parse_args()
    return run(args.keep)


if __name__ == "__main__":
    sys.exit(main())
