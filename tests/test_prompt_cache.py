"""Prompt caching over the wire: the fake API caches like the real one (minimum length, TTL,
per model), the backend records what could not cache, and a plan's Claude calls share one
prefix so the reviewer reads what the planner wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridcode.config import DEFAULT_PRICES, ModelSpec, load_settings
from hybridcode.ledger import CallRecord, Ledger
from hybridcode.ledger.stats import compute_stats, usual_claude_gap_s
from hybridcode.models.anthropic_backend import AnthropicBackend
from hybridcode.models.base import Block, Message, ModelRequest
from hybridcode.models.pricing import choose_cache_ttl
from hybridcode.testing.fake_anthropic import MIN_CACHE_TOKENS, FakeAnthropic

from plan_helpers import make_app_repo, planner_answer

KEY = "sk-ant-test-0123456789secret"


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def backend(fake, tmp_path: Path):
    made = []

    def make(model: str = "claude-sonnet-5-5", **anthropic) -> AnthropicBackend:
        settings = load_settings(root=tmp_path, environ={
            "ANTHROPIC_BASE_URL": fake.base_url, "ANTHROPIC_API_KEY": KEY},
            overrides={"anthropic": {"max_retries": 0, "timeout_s": 5.0, **anthropic}})
        made.append(AnthropicBackend(ModelSpec(backend="anthropic", model=model), settings))
        return made[-1]

    yield make
    for b in made:
        b.close()


def request(prefix_chars: int, question: str = "q", ttl: str | None = None) -> ModelRequest:
    return ModelRequest(messages=(Message("user", question),),
                        system=(Block("x" * prefix_chars, cache=True),), cache_ttl=ttl)


def test_minimums_agree_with_the_price_table():
    table = {m: p["min_cache_tokens"] for m, p in DEFAULT_PRICES.items()}
    assert MIN_CACHE_TOKENS == table
    assert min(table.values()) >= 1024 and max(table.values()) <= 4096


def test_prefix_is_written_then_read_and_expires_with_its_ttl(fake, backend):
    for _ in range(4):
        fake.enqueue_text("answer")
    b = backend()
    long = 2048 * 4 + 400  # over sonnet 5.5's 2,048-token minimum (4 characters a token)
    first = b.complete(request(long, "one"))
    assert first.usage.cache_write_tokens >= 2048 and first.usage.cache_read_tokens == 0
    second = b.complete(request(long, "two"))  # a different question, the same prefix
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert second.usage.cache_write_tokens == 0
    assert second.extra["cache_uncached"] is False
    fake.advance(301)  # a 5-minute entry is gone
    third = b.complete(request(long, "three"))
    assert third.usage.cache_read_tokens == 0 and third.usage.cache_write_tokens > 0
    # The request asked for 1h: that survives the same gap
    b.complete(request(long + 4, "four", ttl="1h"))
    assert fake.requests[-1].json["system"][0]["cache_control"] == {"type": "ephemeral",
                                                                    "ttl": "1h"}


def test_a_prefix_under_the_minimum_is_silently_not_cached_and_recorded(fake, backend, tmp_path):
    fake.enqueue_text("answer")
    fake.enqueue_text("answer")
    b = backend()
    short = 1500 * 4  # 1,500 tokens: under sonnet 5.5's minimum of 2,048
    one = b.complete(request(short, "one"))
    two = b.complete(request(short, "two"))
    for result in (one, two):
        assert result.usage.cache_write_tokens == 0 and result.usage.cache_read_tokens == 0
        assert result.extra["cache_breakpoints"] == 1
        assert result.extra["cache_short_breakpoints"] == 1
        assert result.extra["cache_min_tokens"] == 2048
        assert result.extra["cache_uncached"] is True
    # hybrid stats says so
    with Ledger.open(tmp_path) as ledger:
        for result in (one, two):
            ledger.record_call(CallRecord(step="implement", tier="implementer",
                                          backend="anthropic", model="claude-sonnet-5-5",
                                          input_tokens=result.usage.input_tokens,
                                          extra=result.extra, plan_id="p"))
        stats = compute_stats(ledger, load_settings(tmp_path, environ={}))
    assert stats.cache["not_cached"] == [{"model": "claude-sonnet-5-5", "min_cache_tokens": 2048,
                                          "calls": 2, "short_breakpoints": 2,
                                          "calls_without_cache": 2}]


def test_caches_are_per_model(fake, backend):
    for _ in range(2):
        fake.enqueue_text("answer")
    long = 4096 * 4 + 400
    backend("claude-opus-5-5").complete(request(long, "one"))
    other = backend("claude-sonnet-5-5").complete(request(long, "two"))
    assert other.usage.cache_read_tokens == 0 and other.usage.cache_write_tokens > 0


def test_ttl_follows_the_expected_gap(tmp_path):
    assert choose_cache_ttl(None) == "5m" and choose_cache_ttl(120) == "5m"
    assert choose_cache_ttl(20 * 60) == "1h"
    with Ledger.open(tmp_path) as ledger:
        assert usual_claude_gap_s(ledger) is None
        for _ in range(3):
            ledger.record_call(CallRecord(step="plan", tier="planner", backend="anthropic",
                                          model="claude-opus-5-5", plan_id="p"))
        gap = usual_claude_gap_s(ledger)
    assert gap is not None and gap < 5


def test_plan_and_review_share_one_prefix_so_the_reviewer_reads_the_planners_cache(
        tmp_path, claude):
    """The planner's request writes the shared prefix; a reviewer request for the same plan,
    built the way the review stage builds it, reads it back from the fake's cache."""
    from hybridcode.plan.planner import make_plan
    from hybridcode.plan.prefix import plan_prefix
    from hybridcode.review.checklist import load_checklist
    from hybridcode.review.reviewer import build_requests
    from hybridcode.vcs.diff import Diff, FileChange

    root = make_app_repo(tmp_path / "app")
    claude.enqueue_json(planner_answer())
    result = make_plan(root, "Add per-IP rate limiting to login")
    planner_call = claude.requests[-1].json
    assert planner_call["system"][2]["cache_control"]  # the repository map ends the prefix
    with Ledger.open(root) as ledger:
        planned = ledger.calls(plan_id=result.plan_id)[0]
    assert planned.cache_write_tokens > 4096 and planned.extra["cache_short_breakpoints"] == 0

    prefix = plan_prefix(result.path, result.architecture)
    patch = "diff --git a/app/x.py b/app/x.py\n--- /dev/null\n+++ b/app/x.py\n@@ -0,0 +1 @@\n+X = 1\n"
    diff = Diff(raw=patch.encode(), sha256="0" * 64, source="worktree", files=[FileChange(
        "app/x.py", None, "added", False, None, "100644", [(1, "X = 1")], patch=patch)])
    requests, _ = build_requests(diff, load_checklist(root), result.spec, result.architecture,
                                 [], prefix=prefix)
    settings = load_settings(root)
    claude.enqueue_text(json.dumps({"x": 1}))
    # One Claude model per plan (the default): the reviewer's model is the planner's, so
    # the planner's cache entry serves it.
    assert settings.tiers.reviewer.model == settings.tiers.planner.model
    reviewer = AnthropicBackend(settings.tiers.reviewer, settings)
    try:
        answer = reviewer.complete(ModelRequest(messages=requests[0].messages,
                                                system=requests[0].system))
    finally:
        reviewer.close()
    sent = claude.requests[-1].json["system"]
    assert [b["text"] for b in sent[:3]] == [b["text"] for b in planner_call["system"][:3]]
    # Everything up to the repository map is read; only the planner's role block is not shared.
    assert 4096 < answer.usage.cache_read_tokens < planned.cache_write_tokens
    assert answer.usage.cache_read_tokens > answer.usage.input_tokens


def test_a_second_plan_in_another_repository_reads_the_shared_instructions(tmp_path, claude):
    """Instructions and schema are the same for every plan: the second plan — another
    repository, another map — reads them from the cache the first one wrote, and writes only
    what is its own."""
    from hybridcode.plan.planner import make_plan
    from hybridcode.plan.prefix import instructions, schema_text

    first, second = make_app_repo(tmp_path / "one"), make_app_repo(tmp_path / "two")
    (second / "app" / "extra.py").write_text('"""Another module."""\n\n\ndef extra():\n'
                                             '    return 1\n')
    for root in (first, second):
        claude.enqueue_json(planner_answer())
        make_plan(root, "Add per-IP rate limiting to login")
    with Ledger.open(first) as ledger:
        one = ledger.calls()[0]
    with Ledger.open(second) as ledger:
        two = ledger.calls()[0]
    shared = (len(instructions()) + len(schema_text())) // 4  # the fake counts 4 chars a token
    assert one.cache_read_tokens == 0 and one.cache_write_tokens > shared
    assert two.cache_read_tokens == pytest.approx(shared, rel=0.02)
    assert two.cache_write_tokens < one.cache_write_tokens - shared + 50
