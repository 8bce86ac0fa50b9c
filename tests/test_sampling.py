"""Reviewer tiering: the first uses of a kind, sampling, and feedback send diffs to the full
reviewer; established kinds may go to the cheap one."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hybridcode.config import Settings, load_settings
from hybridcode.feedback import record_feedback
from hybridcode.ledger import Ledger
from hybridcode.review.sampling import choose_reviewer
from ledger_rows import local_item, review

KIND = "crud/function"
CHEAP = "claude-haiku-4-5"


def settings(root: Path, **review_settings: object) -> Settings:
    review_cfg = {"cheap_reviewer": {"backend": "anthropic", "model": CHEAP},
                  "full_review_first_uses": 5, "sample_rate": 0.15, **review_settings}
    return load_settings(root, overrides={"review": review_cfg}, environ={})


def full_reviews(ledger: Ledger, n: int, kind: str = KIND, model: str = "claude-opus-5-5",
                 start: int = 0) -> None:
    for i in range(start, start + n):
        review(ledger, "p1", {f"i{i}": (kind, "good", None)}, reviewer_model=model)


class FixedDraw(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_off_without_a_cheap_reviewer(tmp_path):
    plain = load_settings(tmp_path, environ={})
    with Ledger.open(tmp_path) as ledger:
        full_reviews(ledger, 10)
        choice = choose_reviewer(ledger, plain, [KIND], FixedDraw(0.99))
    assert choice.full and choice.spec == plain.tiers.reviewer
    assert choice.reason == "no cheap reviewer configured"


@pytest.mark.parametrize("done,full", [(0, True), (4, True), (5, False)])
def test_first_uses_always_get_the_full_reviewer(tmp_path, done, full):
    s = settings(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        full_reviews(ledger, done)
        full_reviews(ledger, 3, model=CHEAP, start=100)  # cheap reviews never count
        choice = choose_reviewer(ledger, s, [KIND], FixedDraw(0.99))
    assert choice.full is full
    if full:
        assert choice.reason == f"{KIND} has {done} of the first 5 full reviews"
        assert choice.spec == s.tiers.reviewer
    else:
        assert choice.spec.model == CHEAP
        assert choice.reason == f"established kinds ({KIND}); not sampled (0.990 ≥ 0.15)"
    assert choice.evidence[KIND]["full_reviews"] == done


@pytest.mark.parametrize("draw,full", [(0.0, True), (0.1499, True), (0.15, False)])
def test_sampling_at_the_rate(tmp_path, draw, full):
    s = settings(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        full_reviews(ledger, 5)
        choice = choose_reviewer(ledger, s, [KIND], FixedDraw(draw))
    assert choice.full is full
    assert choice.evidence["draw"] == draw
    if full:
        assert choice.reason == f"sampled for a full review ({draw:.3f} < 0.15)"


def test_any_new_kind_in_the_diff_makes_it_full(tmp_path):
    s = settings(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        full_reviews(ledger, 5)
        choice = choose_reviewer(ledger, s, [KIND, "parsing/function"], FixedDraw(0.99))
    assert choice.full
    assert choice.reason == "parsing/function has 0 of the first 5 full reviews"


def test_no_known_kind_gets_the_full_reviewer(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        choice = choose_reviewer(ledger, settings(tmp_path), ["", ""], FixedDraw(0.99))
    assert choice.full and "no known task kind" in choice.reason


def test_negative_feedback_forces_full_until_the_next_full_review(tmp_path):
    s = settings(tmp_path)
    with Ledger.open(tmp_path) as ledger:
        full_reviews(ledger, 5)
        local_item(ledger, "p1", "a", KIND)
        record_feedback(ledger, "a", "acceptable", "fine")
        assert not choose_reviewer(ledger, s, [KIND], FixedDraw(0.99)).full
        record_feedback(ledger, "a", "poor", "misses a case")
        choice = choose_reviewer(ledger, s, [KIND], FixedDraw(0.99))
        assert choice.full
        assert choice.reason == (f"{KIND} has 1 poor feedback grade(s) since its last full "
                                 "review")
        # a full review after the feedback (stamped later than it) settles it
        later = "2099-01-01T00:00:00.000+00:00"
        review(ledger, "p1", {"a": (KIND, "good", None)}, ts=later)
        assert not choose_reviewer(ledger, s, [KIND], FixedDraw(0.99)).full


def test_deterministic_for_a_seed(tmp_path):
    s = settings(tmp_path, sample_rate=0.5)
    with Ledger.open(tmp_path) as ledger:
        full_reviews(ledger, 5)
        picks = [choose_reviewer(ledger, s, [KIND], random.Random(f"diff-{n}")).full
                 for n in range(40)]
        again = [choose_reviewer(ledger, s, [KIND], random.Random(f"diff-{n}")).full
                 for n in range(40)]
    assert picks == again and True in picks and False in picks
