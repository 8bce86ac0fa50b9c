"""Diffs from real temporary repositories: parsing, and the hash invariant approvals rely on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hybridcode.errors import UsageError
from hybridcode.vcs.diff import (
    commit_diff,
    diff_sha256,
    range_diff,
    staged_diff,
    worktree_diff,
    worktree_tree,
)

FIVE = "".join(f"line {n}\n" for n in range(1, 21))
ODD_NAME = "sp ace é.py"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def init(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Test")
    (root / "keep.txt").write_text("a\nb\n")
    (root / "gone.txt").write_text("x\n")
    (root / "old_name.txt").write_text(FIVE)
    (root / "image.bin").write_bytes(b"\x00\x01\x02binary")
    (root / "script.sh").write_text("echo hi\n")
    (root / "latin.txt").write_bytes(b"caf\xe9\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def edit(tree: Path) -> None:
    """The same change, applicable to any checkout of the base."""
    (tree / "keep.txt").write_text("a\nb\nc")  # no newline at end of file
    (tree / "gone.txt").unlink()
    (tree / "old_name.txt").rename(tree / "new_name.txt")
    (tree / "image.bin").write_bytes(b"\x00\x01\x03binary")
    (tree / "script.sh").chmod(0o755)
    (tree / "latin.txt").write_bytes(b"caf\xe9 cr\xe8me\n")
    (tree / ODD_NAME).write_text("x = 1\n")  # untracked in the worktree


@pytest.fixture
def base_repo(tmp_path: Path) -> Path:
    return init(tmp_path / "repo")


@pytest.fixture
def worktree(base_repo: Path) -> Path:
    path = base_repo / ".hybrid" / "worktrees" / "p1"
    git(base_repo, "worktree", "add", "-q", "-b", "hybrid/p1", str(path), "HEAD")
    edit(path)
    return path


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def by_path(diff):
    return {f.path: f for f in diff.files}


def test_worktree_diff_parses_every_kind_of_change(base_repo, worktree):
    diff = worktree_diff(worktree, head(base_repo))
    files = by_path(diff)
    assert set(files) == {"keep.txt", "gone.txt", "new_name.txt", "image.bin", "script.sh",
                          "latin.txt", ODD_NAME}
    assert files["keep.txt"].status == "modified"
    assert files["keep.txt"].added == [(3, "c")]  # the "\ No newline" marker is not a line
    assert files["gone.txt"].status == "deleted" and files["gone.txt"].removed_count == 1
    renamed = files["new_name.txt"]
    assert renamed.status == "renamed" and renamed.old_path == "old_name.txt"
    assert files["image.bin"].binary and not files["image.bin"].is_text
    mode = files["script.sh"]
    assert (mode.old_mode, mode.new_mode) == ("100644", "100755") and mode.mode_changed
    latin = files["latin.txt"]
    # not UTF-8: its lines read in the encoding detected from its bytes, which is named
    assert not latin.is_text and latin.added == [(1, "café crème")]
    assert latin.encoding == "cp1252" and files["keep.txt"].encoding == "utf-8"
    assert b"caf\xe9 cr\xe8me" in diff.raw  # hashed as bytes, decoded only for display
    new = files[ODD_NAME]
    assert new.status == "added" and new.added == [(1, "x = 1")] and new.new_mode == "100644"
    assert diff.sha256 == diff_sha256(diff.raw) and len(diff.sha256) == 64


def test_worktree_diff_leaves_the_worktree_index_alone(base_repo, worktree):
    before = git(worktree, "status", "--porcelain")
    worktree_diff(worktree, head(base_repo))
    assert git(worktree, "status", "--porcelain") == before
    assert '?? "sp ace' in before  # still untracked (git quotes the name)


def test_tool_and_test_run_leftovers_are_not_part_of_the_diff(base_repo, worktree):
    (worktree / "__pycache__").mkdir()
    (worktree / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\x00pyc")
    (worktree / ".pytest_cache").mkdir()
    (worktree / ".pytest_cache" / "README.md").write_text("cache\n")
    (worktree / ".hybrid").mkdir()
    (worktree / ".hybrid" / "state.json").write_text("{}\n")
    paths = set(by_path(worktree_diff(worktree, head(base_repo))))
    assert not any("pycache" in p or p.startswith((".hybrid", ".pytest_cache")) for p in paths)


def test_hash_is_the_same_committed_staged_or_in_the_worktree(base_repo, worktree, tmp_path):
    base = head(base_repo)
    wt = worktree_diff(worktree, base)
    # committed on the plan's branch, one commit whose parent is the base
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "generated")
    commit = head(worktree)
    assert commit_diff(base_repo, commit).sha256 == wt.sha256
    assert range_diff(base_repo, base, commit).sha256 == wt.sha256
    assert commit_diff(base_repo, commit).raw == wt.raw
    # the same edits staged in a separate clone at the base
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(base_repo), str(clone))
    git(clone, "checkout", "-q", base)
    edit(clone)
    git(clone, "add", "-A")
    assert staged_diff(clone).sha256 == wt.sha256


def test_worktree_tree_committed_as_is_keeps_the_hash(base_repo, worktree):
    base = head(base_repo)
    tree = worktree_tree(worktree, base)
    commit = git(worktree, "commit-tree", tree, "-p", base, "-m", "gate").strip()
    assert commit_diff(base_repo, commit).sha256 == worktree_diff(worktree, base).sha256


def test_user_configuration_does_not_change_the_hash(base_repo, worktree, monkeypatch):
    base = head(base_repo)
    expected = worktree_diff(worktree, base).sha256
    for key, value in [("diff.noprefix", "true"), ("diff.mnemonicprefix", "true"),
                       ("diff.algorithm", "histogram"), ("diff.context", "10"),
                       ("diff.renames", "false"), ("core.quotepath", "false"),
                       ("color.ui", "always"), ("diff.relative", "true"),
                       ("diff.interHunkContext", "5"), ("diff.suppressBlankEmpty", "true"),
                       ("core.compression", "9")]:
        git(base_repo, "config", key, value)
    monkeypatch.setenv("GIT_DIFF_OPTS", "--unified=0")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "false")
    assert worktree_diff(worktree, base).sha256 == expected
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "generated")
    assert commit_diff(base_repo, head(worktree)).sha256 == expected


def test_any_change_changes_the_hash(base_repo, worktree):
    base = head(base_repo)
    first = worktree_diff(worktree, base).sha256
    (worktree / "image.bin").write_bytes(b"\x00\x01\x04binary")  # a binary byte
    second = worktree_diff(worktree, base).sha256
    (worktree / "script.sh").chmod(0o644)  # a mode
    third = worktree_diff(worktree, base).sha256
    assert len({first, second, third}) == 3


def test_staged_diff_before_the_first_commit(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("print('hi')\n")
    git(root, "add", "a.py")
    diff = staged_diff(root)
    assert [(f.path, f.status) for f in diff.files] == [("a.py", "added")]


def test_root_commit_diffs_against_the_empty_tree(base_repo):
    files = by_path(commit_diff(base_repo, head(base_repo)))
    assert files["keep.txt"].status == "added"


def test_empty_diff(base_repo):
    diff = staged_diff(base_repo)
    assert diff.empty and diff.files == [] and diff.sha256 == diff_sha256(b"")


def test_unknown_revision_is_a_usage_error_with_a_hint(base_repo):
    """The revisions of a range are the user's: exit 2, as --ci says for the same --base."""
    for args in (("no-such-branch",), ("HEAD", "no-such-head")):
        with pytest.raises(UsageError) as info:
            range_diff(base_repo, *args)
        assert args[-1] in info.value.message and "fetch" in info.value.hint
        assert info.value.exit_code == 2


def test_staged_diff_honours_the_hook_index(base_repo, tmp_path, monkeypatch):
    """Inside a pre-commit hook git points GIT_INDEX_FILE at the index being committed."""
    (base_repo / "keep.txt").write_text("changed\n")
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "other-index")}
    subprocess.run(["git", "read-tree", "HEAD"], cwd=base_repo, env=env, check=True)
    subprocess.run(["git", "add", "keep.txt"], cwd=base_repo, env=env, check=True)
    assert staged_diff(base_repo).empty  # the real index has nothing staged
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "other-index"))
    assert [f.path for f in staged_diff(base_repo).files] == ["keep.txt"]


# ---------------------------------------------------------- legacy encodings (issue 26)

@pytest.mark.parametrize("text, encoding, named", [
    ('SAVASCI = "Savaşçısı güçlü ve çevik"\nMESAJ = "Işığın gölgesinde yaşayan şövalye"\n',
     "iso-8859-9", "iso8859-9"),
    ('MSG = "Savaşçısı “güçlü” ve çevik"\n', "cp1254", "cp1254"),  # curly quotes: Windows
    ('PANGRAM = "Zażółć gęślą jaźń"\n', "iso-8859-2", "iso8859-2"),
    ('PANGRAM = "Zażółć gęślą jaźń – „cytat”"\n', "cp1250", "cp1250"),
    ('CHYBA = "Příliš žluťoučký kůň úpěl ďábelské ódy"\n', "iso-8859-2", "iso8859-2"),
    ('MSG = "Árvíztűrő tükörfúrógép"\n', "iso-8859-2", "iso8859-2"),
    ('MSG = "Ştiinţă şi ţară"\n', "iso-8859-2", "iso8859-2"),
    ('MSG = "Ąžuolas ir ėglė"\n', "iso-8859-13", "iso8859-13"),
    ('MSG = "¿Dónde está el niño? ¡Año nuevo!"\n', "latin-1", "cp1252"),
    ('MSG = "Blåbærsyltetøy på brødskive"\n', "latin-1", "cp1252"),
    ('GRUSS = "Grüße aus München"\n', "cp1252", "cp1252"),
    ('X = "Attention\xa0: voilà © 2024 — 10°C"\n', "cp1252", "cp1252"),
    ('MSG = "Привет, мир! Съешь же ещё этих мягких булок"\n', "cp1251", "cp1251"),
    ('MSG = "Привет, мир! Съешь же ещё этих мягких булок"\n', "koi8-r", "koi8-r"),
    ('MSG = "Καλημέρα κόσμε"\n', "iso-8859-7", "iso8859-7"),
])
def test_a_legacy_encoding_is_detected_as_itself(text, encoding, named):
    from hybridcode.vcs.encoding import detect_encoding

    section = (b"diff --git a/m.py b/m.py\nnew file mode 100644\n--- /dev/null\n+++ b/m.py\n"
               b"@@ -0,0 +1,2 @@\n" + b"".join(b"+" + line + b"\n"
                                                for line in text.encode(encoding).splitlines()))
    assert detect_encoding(section) == named
    assert all(line in section.decode(named) for line in text.splitlines())


@pytest.mark.parametrize("text, encoding", [
    ('MSG = "こんにちは世界、日本語のテキストです"\n', "shift_jis"),
    ('MSG = "こんにちは世界、日本語のテキストです"\n', "euc-jp"),
    ('MSG = "你好，世界。这是一段中文文本，用来测试编码。"\n', "gbk"),
    ('MSG = "你好，世界。這是一段中文文本"\n', "big5"),
    ('MSG = "안녕하세요 세계, 이것은 한국어 텍스트입니다"\n', "euc-kr"),
])
def test_a_multi_byte_encoding_is_left_to_charset_normalizer(text, encoding):
    from hybridcode.vcs.encoding import detect_encoding

    data = text.encode(encoding)
    assert data.decode(detect_encoding(data)) == text


@pytest.mark.parametrize("text, encoding", [
    ('# הודעות למשתמש\nERROR = "לא ניתן לפתוח את הקובץ: הנתיב שגוי"\n'
     'WELCOME = "ברוכים הבאים למערכת, אנא התחברו עם שם המשתמש והסיסמה שלכם"\n',
     "cp1255"),  # its letters read as Cyrillic ones too: charset-normalizer tells them apart
    # Vowel signs are marks; some charset-normalizer versions guess cp932 (half-width kana).
    ('MSG = "สวัสดีชาวโลก นี่คือข้อความภาษาไทย"\n', "tis-620"),
    ('MSG = "مرحبا بالعالم، هذا نص عربي"\n', "cp1256"),
    ('MSG = "l’homme et l’été"\n', "cp1252"),                   # an apostrophe inside a word
])
def test_a_legacy_script_reads_as_written(text, encoding):
    from hybridcode.vcs.encoding import detect_encoding

    data = text.encode(encoding)
    assert data.decode(detect_encoding(data)) == text
