"""The mutation judge of test items: mutants of the code under test, run through the one runner
in the sandbox; weak tests fail naming the mutants that survived."""

from __future__ import annotations

from pathlib import Path

import pytest
from toolchains import need_bwrap

from hybridcode.judge import JudgeConfig
from hybridcode.judge.mutation import generate_mutants, peeks_at_source, run_mutation, sample

DURATIONS = '''"""Durations."""
import re

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in ``text``: "1h30m" is 5400."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    total = 0
    last = -1
    for number, unit in re.findall(r"(\\d+)([dhms])", text):
        order = "dhms".index(unit)
        if order <= last:
            raise ValueError(f"invalid duration: {text!r}")
        last = order
        total += int(number) * UNITS[unit]
    if total == 0 and last < 0:
        raise ValueError(f"invalid duration: {text!r}")
    return total


def unrelated(flag: bool = True) -> int:
    return 1 if flag else 2
'''

# Calls the code and checks nothing: passes against any version of it.
VACUOUS = '''from app.durations import parse_duration


def test_parses():
    parse_duration("1h30m")
    parse_duration("90")
'''

GOOD = '''import pytest

from app.durations import parse_duration


def test_units():
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 172800
    assert parse_duration(" 1D 2h 3m 4s ") == 93784
    assert parse_duration("90") == 90
    assert parse_duration("1s") == 1
    assert parse_duration("0d") == 0


@pytest.mark.parametrize("bad", ["", "1m1h", "1h1h", "x", "0s0s"])
def test_bad_input(bad):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)
'''


def test_the_five_operators_on_the_named_symbol_only():
    mutants = generate_mutants(DURATIONS, "parse_duration")
    kinds = {m.operator for m in mutants}
    assert kinds == {"comparison", "constant", "operator", "return", "branch"}
    described = [m.describe() for m in mutants]
    assert "`parse_duration`, line 16: `<=` made `<`" in described
    assert "`parse_duration`, line 19: `+` made `-`" in described
    assert "`parse_duration`, line 22: `return total` made `return None`" in described
    assert "`parse_duration`, line 10: `if text.isdigit():` made `if False:`" in described
    assert "`parse_duration`, line 12: `0` made `1`" in described
    assert all(m.symbol == "parse_duration" for m in mutants)  # `unrelated` is left alone
    for m in mutants:  # every mutant is valid Python and differs from the original
        compile(m.source, "m.py", "exec")
        assert '"""Seconds in ``text``: "1h30m" is 5400."""' in m.source  # docstring intact
    assert len({m.source for m in mutants}) == len(mutants)


def test_a_class_names_its_methods_and_no_symbol_means_every_function():
    source = "class A:\n    def f(self, x):\n        return x + 1\n\n\ndef g(y):\n    return y\n"
    assert {m.symbol for m in generate_mutants(source, "A")} == {"A.f"}
    assert {m.symbol for m in generate_mutants(source, None)} == {"A.f", "g"}
    assert generate_mutants("def broken(:\n", None) == []


def test_sample_is_an_even_spread_and_stable():
    mutants = generate_mutants(DURATIONS, None)
    picked = sample(mutants, 5)
    assert len(picked) == 5 and picked == sample(mutants, 5)
    assert picked[0] == mutants[0] and picked[-1] != mutants[-5]


def _project(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "durations.py").write_text(DURATIONS)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_durations.py").write_text(tests)
    return tmp_path


def test_tests_that_only_call_the_code_fail_naming_the_survivors(tmp_path):
    need_bwrap()
    root = _project(tmp_path, VACUOUS)
    before = (root / "app" / "durations.py").stat()
    result = run_mutation(root, "app/durations.py", "parse_duration",
                          ["tests/test_durations.py"], JudgeConfig(), stop_early=False)
    assert result.baseline is not None and result.baseline.ok
    assert not result.ok and result.score < 0.5
    feedback = result.feedback()
    assert "`parse_duration`, line 22: `return total` made `return None` and no test failed" \
        in feedback
    assert "mutation score" in feedback and "at least 70% must be killed" in feedback
    # The code under test is exactly as it was: bytes and timestamp.
    assert (root / "app" / "durations.py").read_text() == DURATIONS
    assert (root / "app" / "durations.py").stat().st_mtime_ns == before.st_mtime_ns


def test_good_tests_kill_the_mutants(tmp_path):
    need_bwrap()
    root = _project(tmp_path, GOOD)
    result = run_mutation(root, "app/durations.py", "parse_duration",
                          ["tests/test_durations.py"], JudgeConfig(), stop_early=False)
    assert result.ok, result.feedback()
    assert result.score >= 0.7 and result.total == len(generate_mutants(DURATIONS,
                                                                        "parse_duration"))
    assert (root / "app" / "durations.py").read_text() == DURATIONS


def test_a_lost_score_stops_early_and_failing_tests_run_no_mutant(tmp_path):
    need_bwrap()
    root = _project(tmp_path, VACUOUS)
    result = run_mutation(root, "app/durations.py", "parse_duration",
                          ["tests/test_durations.py"], JudgeConfig())
    assert not result.ok and result.total < result.sampled
    assert "stopped after" in result.summary()
    (root / "tests" / "test_durations.py").write_text(
        "from app.durations import parse_duration\n\n\ndef test_x():\n"
        "    assert parse_duration('1m') == 61\n")
    failing = run_mutation(root, "app/durations.py", "parse_duration",
                           ["tests/test_durations.py"], JudgeConfig())
    assert not failing.ok and failing.total == 0 and not failing.baseline.ok


@pytest.mark.parametrize("cheat", [
    "import hashlib, app.durations as d\n\ndef test_x():\n"
    "    assert hashlib.sha256(open(d.__file__, 'rb').read()).hexdigest()[:2] == 'ab'\n",
    "import inspect\nfrom app.durations import parse_duration\n\ndef test_x():\n"
    "    assert 'return total' in inspect.getsource(parse_duration)\n",
    "from app.durations import parse_duration\n\ndef test_x():\n"
    "    assert parse_duration.__code__.co_code\n",
    "from pathlib import Path\n\ndef test_x():\n"
    "    assert 'total' in Path('app/durations.py').read_text()\n",
])
def test_tests_that_read_the_source_instead_of_calling_it_are_refused(cheat):
    assert peeks_at_source(cheat, "app/durations.py") is not None


def test_ordinary_tests_do_not_look_like_cheats():
    assert peeks_at_source(GOOD, "app/durations.py") is None
    uses_own_file = "from pathlib import Path\nDATA = Path(__file__).parent / 'data'\n"
    assert peeks_at_source(uses_own_file, "app/durations.py") is None
