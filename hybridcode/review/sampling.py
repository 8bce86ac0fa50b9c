"""Reviewer tiering: which reviewer takes a diff — the full reviewer, or a cheaper one for task
kinds with an established record. The review gate itself always runs.

Off unless ``[review] cheap_reviewer`` is configured. Then, for the task kinds in a diff:

1. a diff with no known kind gets the full reviewer;
2. a kind with fewer than ``full_review_first_uses`` full reviews gets the full reviewer;
3. a kind with negative feedback (``hybrid feedback ITEM poor …``) newer than its last full
   review gets the full reviewer;
4. otherwise one draw from ``rng``: below ``sample_rate`` → full (the sample that keeps the
   cheap reviewer honest), else the cheap reviewer.

Any kind needing the full reviewer makes the whole diff full. Deterministic given ``rng``: the
caller seeds it from the diff's hash, so the same diff always gets the same reviewer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings
    from hybridcode.ledger import Ledger


@dataclass(frozen=True)
class ReviewerChoice:
    spec: ModelSpec
    full: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _full_reviews(ledger: Ledger, kind: str, cheap_model: str) -> tuple[int, str | None]:
    """(count, newest ts) of reviews by a model other than the cheap one that graded ``kind``.
    Checks-only reviews (no reviewer model) and the user's feedback rows do not count."""
    row = ledger.query(
        "SELECT COUNT(DISTINCT r.id) AS n, MAX(r.ts) AS last FROM reviews r "
        "JOIN grades g ON g.review_id = r.id "
        "WHERE g.kind = ? AND g.source = 'reviewer' AND r.reviewer_model != '' "
        "AND r.reviewer_model != ?", (kind, cheap_model))[0]
    return int(row["n"]), row["last"]


def _poor_feedback_since(ledger: Ledger, kind: str, since: str | None) -> int:
    sql = ("SELECT COUNT(*) FROM grades WHERE kind = ? AND source = 'feedback' "
           "AND grade = 'poor'")
    params: list[Any] = [kind]
    if since is not None:
        sql += " AND ts > ?"
        params.append(since)
    return int(ledger.query(sql, params)[0][0])


def choose_reviewer(ledger: Ledger, settings: Settings, kinds: list[str],
                    rng: random.Random | None = None) -> ReviewerChoice:
    full_spec = settings.tiers.reviewer
    cheap = settings.review.cheap_reviewer
    if cheap is None:
        return ReviewerChoice(full_spec, True, "no cheap reviewer configured")
    kinds = sorted({k for k in kinds if k})
    if not kinds:
        return ReviewerChoice(full_spec, True, "the diff implements no known task kind")
    first = settings.review.full_review_first_uses
    evidence: dict[str, Any] = {}
    reasons = []
    for kind in kinds:
        done, last = _full_reviews(ledger, kind, cheap.model)
        poor = _poor_feedback_since(ledger, kind, last)
        evidence[kind] = {"full_reviews": done, "last_full_review": last,
                          "poor_feedback_since": poor}
        if done < first:
            reasons.append(f"{kind} has {done} of the first {first} full reviews")
        elif poor:
            reasons.append(f"{kind} has {poor} poor feedback grade(s) since its last full "
                           "review")
    if reasons:
        return ReviewerChoice(full_spec, True, "; ".join(reasons), evidence)
    draw = (rng or random.Random()).random()
    evidence["draw"] = draw
    rate = settings.review.sample_rate
    if draw < rate:
        return ReviewerChoice(full_spec, True,
                              f"sampled for a full review ({draw:.3f} < {rate:g})", evidence)
    return ReviewerChoice(cheap, False, f"established kinds ({', '.join(kinds)}); not sampled "
                          f"({draw:.3f} ≥ {rate:g})", evidence)
