"""The doc-item judge: the code identical without its docstrings, every named symbol documented,
the convention kept (ruff's pydocstyle rules)."""

from __future__ import annotations

from hybridcode.judge.docstrings import (
    check_doc_change,
    code_difference,
    detect_convention,
    missing_docstrings,
)

BEFORE = '''"""Money."""


def to_cents(amount: str) -> int:
    # strip the currency sign
    amount = amount.strip().lstrip("$")
    whole, _, frac = amount.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


class Wallet:
    def __init__(self) -> None:
        self.cents = 0

    def add(self, amount: str) -> None:
        ...
'''

GOOGLE = '''"""Money."""


def to_cents(amount: str) -> int:
    """Convert a dollar amount to cents.

    Args:
        amount: Text such as "$1.50".

    Returns:
        The amount in cents.
    """
    # the sign is optional
    amount = amount.strip().lstrip("$")
    whole, _, frac = amount.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


class Wallet:
    """A running total in cents."""

    def __init__(self) -> None:
        self.cents = 0

    def add(self, amount: str) -> None:
        """Add an amount.

        Args:
            amount: Text such as "$1.50".
        """
'''


def test_docstrings_and_comments_may_change_code_may_not():
    assert code_difference(BEFORE, GOOGLE) is None
    changed = GOOGLE.replace("int(whole) * 100", "int(whole) * 10")
    assert code_difference(BEFORE, changed) == (
        'line 16 changed: `return int(whole) * 10 + int((frac + "00")[:2])` '
        '(was line 8: `return int(whole) * 100 + int((frac + "00")[:2])`)')
    added = GOOGLE.replace("        self.cents = 0", "        self.cents = 0\n        self.n = 1")
    assert code_difference(BEFORE, added).startswith("line 24 changed: `self.n = 1`")
    removed = BEFORE.replace("        self.cents = 0\n", "        pass\n")
    assert "self.cents = 0" in code_difference(BEFORE, removed)
    assert "no longer parses" in code_difference(BEFORE, "def broken(:\n")
    flipped = GOOGLE.replace("amount.strip()", "amount.strip() if amount else amount")
    assert code_difference(BEFORE, flipped).startswith("line 14 changed")
    operator = BEFORE.replace("int(whole) * 100 +", "int(whole) * 100 -")
    assert code_difference(BEFORE, operator).startswith("line 8 changed: `return int(whole)")


def test_every_named_symbol_needs_a_docstring():
    assert missing_docstrings(GOOGLE, ["to_cents", "Wallet", "Wallet.add"]) == []
    assert missing_docstrings(BEFORE, ["to_cents", "Wallet.add", "nope"]) == [
        "`to_cents` (line 4) has no docstring", "`Wallet.add` (line 15) has no docstring",
        "`nope` is not defined in the file"]


def test_the_convention_is_checked_on_the_named_symbols_only(tmp_path):
    verdict = check_doc_change(BEFORE, GOOGLE, ["to_cents", "Wallet.add"], root=tmp_path,
                               style="google")
    assert verdict.ok, verdict.feedback()
    sloppy = GOOGLE.replace('"""Convert a dollar amount to cents.', '"""convert to cents')
    verdict = check_doc_change(BEFORE, sloppy, ["to_cents"], root=tmp_path, style="google")
    assert not verdict.ok and verdict.stage == "convention"
    assert any("`to_cents`, line 5: D403" in p for p in verdict.problems)
    # The same sloppy docstring is not this item's business when it documents Wallet.add only.
    assert check_doc_change(BEFORE, sloppy, ["Wallet.add"], root=tmp_path, style="google").ok


def test_a_code_change_fails_before_anything_else(tmp_path):
    verdict = check_doc_change(BEFORE, GOOGLE.replace("lstrip", "rstrip"), ["to_cents"],
                               root=tmp_path, style="google")
    assert not verdict.ok and verdict.stage == "code"
    assert "line 14 changed" in verdict.feedback()
    assert verdict.feedback().startswith("The code changed")


def test_the_convention_is_detected(tmp_path):
    assert detect_convention(tmp_path, "", "numpy") == "numpy"
    assert detect_convention(tmp_path, "") == "pep257"
    assert detect_convention(tmp_path, GOOGLE) == "google"
    numpy_doc = 'def f(x):\n    """F.\n\n    Parameters\n    ----------\n    x : int\n    """\n'
    assert detect_convention(tmp_path, numpy_doc) == "numpy"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff.lint.pydocstyle]\nconvention = "numpy"\n')
    assert detect_convention(tmp_path, GOOGLE) == "numpy"
