"""`hybrid review` as a user runs it: reports, JSON, and exit codes a CI can gate on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridcode.cli.app import app
from review_helpers import PLAN_ID, WRONG, finding, git, make_planned_repo, verdict

runner = CliRunner()


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    return make_planned_repo(tmp_path / "repo")[0]


def review(root: Path, *args: str):
    return runner.invoke(app, ["review", *args, "--repo", str(root)])


def test_approved_plan_prints_the_report_and_exits_0(planned, claude):
    claude.enqueue_json(verdict(findings=[finding("minor")]))
    result = review(planned, PLAN_ID)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Checks", "Checklist", "meaningful-tests", "Findings", "app/text.py:5",
                 "Grades", "slugify", "APPROVED by claude-sonnet-5-5"):
        assert text in out, text


def test_json_output(planned, claude):
    claude.enqueue_json(verdict())
    result = review(planned, "--json")  # no plan named: the newest plan
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["decision"] == "approved" and data["plan_id"] == PLAN_ID
    assert len(data["diff_sha256"]) == 64 and data["source"] == "worktree"
    assert {f["path"] for f in data["files"]} == {"app/text.py", "tests/hybrid/test_hybrid_slugify.py"}
    assert data["verdict"]["checklist"][0]["reasoning"]
    assert [c["name"] for c in data["checks"]][0] == "syntax"
    again = json.loads(review(planned, "--json").stdout)
    assert again["cached"] and again["review_id"] == data["review_id"]


def test_changes_requested_exits_1(planned, claude):
    claude.enqueue_json(verdict("request_changes", findings=[finding("major")]))
    result = review(planned, PLAN_ID)
    assert result.exit_code == 1
    assert "CHANGES REQUESTED" in result.stdout


def test_blocked_exits_1_and_says_the_checks_decided(tmp_path, claude):
    root = make_planned_repo(tmp_path / "repo", code=WRONG)[0]
    result = review(root, PLAN_ID)
    assert result.exit_code == 1
    assert "BLOCKED" in result.stdout and "the checks decided" in result.stdout


def test_model_text_is_not_rich_markup(planned, claude):
    claude.enqueue_json(verdict(findings=[finding("info") | {"title": "[red]x[/red] [bold]"}]))
    result = review(planned, PLAN_ID)
    assert result.exit_code == 0, result.output
    assert "[red]x[/red] [bold]" in result.stdout


@pytest.mark.parametrize("args", [
    ["--staged", PLAN_ID],
    ["--staged", "--base", "HEAD"],
    [PLAN_ID, "--base", "HEAD"],
    ["--head", "HEAD"],
])
def test_usage_errors_exit_2(planned, args):
    result = review(planned, *args)
    assert result.exit_code == 2
    assert "Error:" in result.output


def test_nothing_staged_exits_2(repo):
    result = review(repo, "--staged")
    assert result.exit_code == 2 and "nothing staged" in result.output


def test_no_plans_exits_2_with_a_hint(repo):
    result = review(repo)
    assert result.exit_code == 2 and "hybrid plan" in result.output


def test_range_review(repo, claude):
    (repo / "util.py").write_text("def double(x: int) -> int:\n    return 2 * x\n")
    git(repo, "add", "util.py")
    git(repo, "commit", "-q", "-m", "util")
    claude.enqueue_json(verdict() | {"grades": []})
    result = review(repo, "--base", "HEAD~1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "range"


# ---------------------------------------------------------- file names and encodings (13)

LATIN_NAME = b"caf\xe9.py"


def _latin_range(repo: Path) -> None:
    (repo / os.fsdecode(LATIN_NAME)).write_bytes(
        'MESSAGE = "Déjà vu: ça marche"\n'.encode("latin-1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "latin-1 name and content")


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "markdown", "junit", "text"])
def test_a_file_name_that_is_not_utf8_prints_valid_reports(repo, claude, fmt):
    _latin_range(repo)
    # the model names the file as the diff's header spells it; a failed checklist entry is a
    # whole-change result pinned to the same file
    claude.enqueue_json(verdict("request_changes", failed=("security",), ids=None,
                                findings=[finding(file="caf\\351.py", line=1)])
                        | {"grades": []})
    result = review(repo, "--base", "HEAD~1", "--format", fmt)
    assert result.exit_code == 1, result.output
    text = result.stdout_bytes.decode("utf-8")  # strict: valid UTF-8
    assert "\udce9" not in text
    if fmt not in ("json", "sarif"):
        assert "caf\\351.py" in text  # as git spells it
    if fmt == "json":
        data = json.loads(text)
        assert data["files"][0]["path"] == "caf\\351.py"
        assert data["files"][0]["encoding"] == "cp1252"
    elif fmt == "sarif":
        from gate_helpers import sarif_schema
        import jsonschema

        data = json.loads(text)
        jsonschema.validate(data, sarif_schema())
        uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in data["runs"][0]["results"]}
        assert uris == {"caf%E9.py"}  # the real bytes, percent-encoded
    elif fmt == "github":
        # the file as the runner reads the checkout's name (its byte is not UTF-8), not
        # git's spelling, which names no file; the message keeps git's spelling
        assert "file=caf\ufffd.py,line=1" in text and "file=caf\\351.py" not in text
    elif fmt == "junit":
        import xml.etree.ElementTree as ET

        ET.fromstring(result.stdout_bytes)


def test_a_file_name_that_is_not_utf8_in_a_subprocess_sarif_file(repo, claude, tmp_path):
    """The way CI runs it: a real process whose stdout is a file (no terminal, C locale)."""
    import subprocess
    import sys

    _latin_range(repo)
    claude.enqueue_json(verdict("request_changes", failed=("security",), ids=None)
                        | {"grades": []})
    out = tmp_path / "report.sarif"
    with out.open("wb") as sink:
        proc = subprocess.run([sys.executable, "-m", "hybridcode", "review", "--base", "HEAD~1",
                               "--format", "sarif"], cwd=repo, stdout=sink,
                              stderr=subprocess.PIPE, env={**os.environ, "LC_ALL": "C"})
    assert proc.returncode == 1, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    data = json.loads(out.read_bytes().decode("utf-8"))
    assert data["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"] == "caf%E9.py"


# ---------------------------------------------------- exit codes and empty ranges (17)

@pytest.mark.parametrize("extra", [[], ["--ci"]])
def test_an_unknown_base_is_a_usage_error_with_and_without_ci(repo, extra):
    result = review(repo, "--base", "no-such-branch", *extra)
    assert result.exit_code == 2, result.output
    assert "unknown revision 'no-such-branch'" in result.output and "fetch" in result.output


@pytest.mark.parametrize("fmt", ["sarif", "json", "junit", "markdown", "github", "text"])
def test_an_empty_range_prints_a_valid_empty_report(repo, fmt, tmp_path):
    git(repo, "commit", "-q", "--allow-empty", "-m", "nothing")
    out = tmp_path / f"report.{fmt}"
    result = review(repo, "--base", "HEAD~1", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.strip()
    if fmt == "sarif":
        from gate_helpers import sarif_schema
        import jsonschema

        data = json.loads(text)
        jsonschema.validate(data, sarif_schema())
        assert data["runs"][0]["results"] == []
        assert data["runs"][0]["properties"]["decision"] == "nothing_to_review"
    elif fmt in ("json", "text"):  # with -o, text writes JSON to the file
        data = json.loads(text)
        assert data["decision"] == "nothing_to_review" and data["files"] == []
        assert data["reviewer_calls"] == 0
    elif fmt == "junit":
        import xml.etree.ElementTree as ET

        root = ET.fromstring(text.encode())
        assert root.get("tests") == "0" and root.get("failures") == "0"
    elif fmt == "markdown":
        assert text.startswith("## hybridcode review: ➖ nothing to review")
        assert "nothing to review: HEAD makes no change to HEAD~1" in text
    else:
        assert text.strip() == ("::notice title=hybridcode::nothing to review: HEAD makes no "
                                "change to HEAD~1")


def test_an_empty_range_says_so_on_the_terminal(repo):
    result = review(repo, "--base", "HEAD")
    assert result.exit_code == 0, result.output
    assert "nothing to review: HEAD makes no change to HEAD" in result.stdout


# ------------------------------------------------ a verdict answered from the record (26)

def test_a_review_answered_from_the_record_keeps_its_figures_and_notes(repo, claude):
    """The second review of the same range repeats the stored verdict: same parts, same cut
    hunks, same caveats — not zeros and a silent report."""
    from gate_helpers import sarif_schema
    import jsonschema

    for n in range(3):  # three new files, each one hunk over the reviewer's per-call budget
        (repo / f"data{n}.txt").write_text("".join(f"row {n}-{i} of the table\n"
                                                   for i in range(6_000)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "big")
    (repo / ".hybrid").mkdir(exist_ok=True)
    (repo / ".hybrid" / "config.toml").write_text("[review]\nmax_parts = 2\n")
    claude.responder = lambda body: json.dumps(verdict(ids=None) | {"grades": []})
    first = review(repo, "--base", "HEAD~1", "--head", "HEAD", "--json")
    assert first.exit_code == 1, first.output
    calls = len(claude.requests)
    again = review(repo, "--base", "HEAD~1", "--head", "HEAD", "--json")
    assert again.exit_code == 1, again.output
    assert len(claude.requests) == calls  # answered from the record: no model call
    before, after = json.loads(first.stdout), json.loads(again.stdout)
    assert after["cached"] and after["review_id"] == before["review_id"]
    figures = ("reviewer_calls", "diff_parts", "diff_parts_not_reviewed", "cut_hunks")
    assert [after[k] for k in figures] == [before[k] for k in figures] == [2, 3, 1, 2]
    assert after["cost_usd"] == 0
    assert after["notes"][0].startswith("answered from the review of")
    assert after["notes"][1:] == before["notes"]
    assert any(n.startswith("2 hunks too large to show the reviewer in full")
               for n in after["notes"])
    markdown = review(repo, "--base", "HEAD~1", "--format", "markdown").stdout
    assert "2 reviewer calls for 3 parts of the diff, 1 not reviewed, 2 hunks cut" in markdown
    assert "2 hunks too large to show the reviewer in full" in markdown
    sarif = json.loads(review(repo, "--base", "HEAD~1", "--format", "sarif").stdout)
    jsonschema.validate(sarif, sarif_schema())
    props = sarif["runs"][0]["properties"]
    assert (props["diffParts"], props["cutHunks"], props["diffPartsNotReviewed"]) == (3, 2, 1)


# ---------------------------------------------------------- legacy encodings (26)

LEGACY = {  # file → (text, the encoding it is written in, the name hybrid reports)
    "oyun.py": ('# Oyun karakterleri\nSAVASCI = "Savaşçısı güçlü ve çevik"\n'
                'MESAJ = "Işığın gölgesinde yaşayan şövalye"\n', "iso-8859-9", "iso8859-9"),
    "komunikaty.py": ('# Komunikaty\nBLAD = "Nie można otworzyć pliku: źle podana ścieżka"\n'
                      'PANGRAM = "Zażółć gęślą jaźń"\n', "iso-8859-2", "iso8859-2"),
    "zpravy.py": ('# Zprávy\nCHYBA = "Příliš žluťoučký kůň úpěl ďábelské ódy"\n',
                  "iso-8859-2", "iso8859-2"),
    "cafe.py": ('MESSAGE = "Déjà vu: ça marche très bien"\n', "latin-1", "cp1252"),
}


def test_legacy_single_byte_files_reach_the_reviewer_as_written(repo, claude):
    """Turkish (ISO-8859-9) and Polish and Czech (ISO-8859-2) files are read in their own code
    page, not as cp1252 (which gave "Savaþçýsý" for "Savaşçısı")."""
    for name, (text, encoding, _) in LEGACY.items():
        (repo / name).write_bytes(text.encode(encoding))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "legacy encodings")
    claude.enqueue_json(verdict(ids=None) | {"grades": []})
    result = review(repo, "--base", "HEAD~1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {f["path"]: f["encoding"] for f in data["files"]} == {
        name: reported for name, (_, _, reported) in LEGACY.items()}
    sent = json.dumps(claude.requests[-1].json["messages"], ensure_ascii=False)
    for text, _, _ in LEGACY.values():
        for line in text.splitlines():
            assert line in sent.replace('\\"', '"'), line
    assert "Savaþçýsý" not in sent and "oyun.py is not UTF-8: its lines are shown decoded " \
        "as iso8859-9" in sent


# ------------------------------------------------ whole-change results' anchor (26)

def test_whole_change_results_point_at_a_file_with_lines(repo, claude):
    """An emptied package moved first in the diff (a 0-byte file renamed) has no line 1: a
    failed checklist entry points at the first file whose new version has lines."""
    from gate_helpers import sarif_schema
    import jsonschema

    (repo / "pkg_old").mkdir()
    (repo / "pkg_old" / "__init__.py").write_bytes(b"")
    (repo / "zz.py").write_text("X = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "mv", "pkg_old", "pkg")
    (repo / "zz.py").write_text("X = 2\n")
    git(repo, "commit", "-q", "-am", "move the package")
    claude.responder = lambda body: json.dumps(
        verdict("request_changes", failed=("security",), ids=None) | {"grades": []})
    data = json.loads(review(repo, "--base", "HEAD~1", "--json").stdout)
    assert [f["path"] for f in data["files"]][0].startswith("pkg")  # listed before zz.py
    sarif = json.loads(review(repo, "--base", "HEAD~1", "--format", "sarif").stdout)
    jsonschema.validate(sarif, sarif_schema())
    [result] = sarif["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert (location["artifactLocation"]["uri"], location["region"]["startLine"]) == ("zz.py", 1)
    github = review(repo, "--base", "HEAD~1", "--format", "github").stdout
    assert "::error file=zz.py,line=1,title=security?::" in github
    assert "pkg/__init__.py" not in github


# ------------------------------------------------ file names in annotations (26)

def test_annotations_name_files_as_the_checkout_spells_them(repo, claude):
    """A model copies a non-ASCII name the way the diff's headers spell it (git's quoting);
    every report names the file the checkout has."""
    from gate_helpers import sarif_schema
    import jsonschema

    (repo / "café.py").write_text("x = 1\n")
    (repo / "naïve dir").mkdir()
    (repo / "naïve dir" / "mod.py").write_text("y = 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "accents")
    spellings = ['"b/caf\\303\\251.py"', '"caf\\303\\251.py"', "b/caf\\303\\251.py",
                 "caf\\303\\251.py", "./café.py", '"naïve dir/mod.py"',
                 '"b/na\\303\\257ve dir/mod.py"']
    claude.responder = lambda body: json.dumps(verdict(
        "request_changes", ids=None,
        findings=[finding(file=name, line=1) for name in spellings]) | {"grades": []})
    github = review(repo, "--base", "HEAD~1", "--format", "github").stdout
    files = [line.split("file=", 1)[1].split(",line=")[0]
             for line in github.splitlines() if "file=" in line]
    assert files == ["café.py"] * 5 + ["naïve dir/mod.py"] * 2
    assert "which this diff does not change" not in github and "\\303" not in github
    sarif = json.loads(review(repo, "--base", "HEAD~1", "--format", "sarif").stdout)
    jsonschema.validate(sarif, sarif_schema())
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]]
    assert uris == ["caf%C3%A9.py"] * 5 + ["na%C3%AFve%20dir/mod.py"] * 2
    markdown = review(repo, "--base", "HEAD~1", "--format", "markdown").stdout
    assert markdown.count("`café.py:1`") == 5 and "not in this diff" not in markdown
