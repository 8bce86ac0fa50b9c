"""AnthropicBackend through the real ``anthropic`` SDK over real HTTP to FakeAnthropic."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from hybridcode.config import ModelSpec, load_settings
from hybridcode.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ContextOverflowError,
    HybridError,
    ModelError,
    ModelNotFoundError,
    ModelTimeoutError,
    OutputFormatError,
    OverloadedError,
    RateLimitedError,
)
from hybridcode.models.anthropic_backend import AnthropicBackend
from hybridcode.models.base import Block, Message, ModelRequest, Progress
from hybridcode.models.registry import backend_class
from hybridcode.testing.fake_anthropic import FakeAnthropic

KEY = "sk-ant-test-0123456789secret"
MODEL = "claude-sonnet-5-5"


class Verdict(BaseModel):
    approve: bool
    score: int = Field(ge=0, le=10)
    notes: list[str] = []


@pytest.fixture
def fake():
    with FakeAnthropic(chunk_size=4) as server:
        yield server


@pytest.fixture
def make_backend(fake, tmp_path: Path):
    """Backends pointed at the fake; every one is closed after the test (no ResourceWarning)."""
    made: list[AnthropicBackend] = []

    def make(key: str | None = KEY, base_url: str | None = None, spec: dict[str, Any] | None = None,
             **anthropic_settings: Any) -> AnthropicBackend:
        environ = {"ANTHROPIC_BASE_URL": base_url or fake.base_url}
        if key is not None:
            environ["ANTHROPIC_API_KEY"] = key
        cfg = {"max_retries": 0, "timeout_s": 5.0, **anthropic_settings}
        settings = load_settings(root=tmp_path, environ=environ, overrides={"anthropic": cfg})
        backend = AnthropicBackend(
            ModelSpec(backend="anthropic", model=MODEL, max_output_tokens=512, **(spec or {})),
            settings)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def ask(text: str = "review this", schema: type[BaseModel] | None = None,
        system: Any = "You are a reviewer.") -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), system=system, schema=schema)


# ---------------------------------------------------------------------- happy paths

def test_registry_resolves_the_backend():
    assert backend_class("anthropic") is AnthropicBackend


def test_structured_result_is_parsed_into_the_model(fake, make_backend):
    fake.enqueue_json({"approve": True, "score": 8, "notes": ["tidy"]},
                      usage={"input_tokens": 120, "output_tokens": 30})
    result = make_backend().complete(ask(schema=Verdict))
    assert result.parsed == Verdict(approve=True, score=8, notes=["tidy"])
    assert (result.model, result.backend, result.stop_reason) == (MODEL, "anthropic", "end_turn")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (120, 30)
    assert result.latency_ms >= 0 and result.extra["repairs"] == 0
    body = fake.requests[0].json
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema" and set(fmt["schema"]["properties"]) == {
        "approve", "score", "notes"}
    assert "tools" not in body and "tool_choice" not in body  # no forced tool use
    assert body["max_tokens"] == 512 and body["system"] == "You are a reviewer."


def test_plain_text_request_has_no_output_config(fake, make_backend):
    fake.enqueue_text("just text")
    result = make_backend(spec={"temperature": 0.2, "options": {"top_p": 0.9}}).complete(ask())
    assert result.text == "just text" and result.parsed is None
    body = fake.requests[0].json
    assert "output_config" not in body
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9


def test_cache_breakpoints_sit_on_the_stable_prefix(fake, make_backend):
    fake.enqueue_text("ok")
    request = ModelRequest(
        system=(Block("instructions", cache=True), Block("volatile note")),
        messages=(Message("user", (Block("repo map", cache=True), Block("the item"))),))
    make_backend().complete(request)
    body = fake.requests[0].json
    assert body["system"] == [
        {"type": "text", "text": "instructions", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "volatile note"}]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "repo map", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "the item"}]


def test_one_hour_cache_ttl_and_at_most_four_breakpoints(fake, make_backend):
    fake.enqueue_text("ok")
    system = tuple(Block(f"part {i}", cache=True) for i in range(4))
    user = (Block("map", cache=True), Block("item"), Block("", cache=True))
    make_backend(cache_ttl="1h").complete(
        ModelRequest(messages=(Message("user", user),), system=system))
    body = fake.requests[0].json
    blocks = [*body["system"], *body["messages"][0]["content"]]
    marked = [b["text"] for b in blocks if "cache_control" in b]
    assert marked == ["part 1", "part 2", "part 3", "map"]  # the last four in the request win
    assert [b["text"] for b in blocks][-2:] == ["map", "item"]  # empty blocks are dropped
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_cache_tokens_are_recorded(fake, make_backend):
    fake.enqueue_text("ok", usage={"input_tokens": 10, "output_tokens": 2,
                                   "cache_creation_input_tokens": 3000,
                                   "cache_read_input_tokens": 9000})
    usage = make_backend().complete(ask()).usage
    assert (usage.cache_write_tokens, usage.cache_read_tokens) == (3000, 9000)
    assert usage.total_input == 12010


def test_thinking_blocks_are_skipped(fake, make_backend):
    fake.enqueue_json({"approve": False, "score": 2}, thinking='{"approve": true} maybe?')
    result = make_backend().complete(ask(schema=Verdict))
    assert result.text == '{"approve": false, "score": 2}'
    assert result.parsed.approve is False


def test_streaming_reports_deltas_and_final_usage(fake, make_backend):
    text = "def add(a, b):\n    return a + b\n"
    fake.enqueue_text(text, thinking="plan first",
                      usage={"input_tokens": 50, "output_tokens": 17,
                             "cache_read_input_tokens": 40})
    seen: list[Progress] = []
    result = make_backend().complete(ask(), on_progress=seen.append)
    assert fake.requests[0].json["stream"] is True
    assert "".join(p.delta for p in seen) == text == result.text  # thinking is not shown
    assert len(seen) > 3
    counts = [p.output_tokens for p in seen]
    assert counts == sorted(counts) and counts[0] >= 1
    assert (result.usage.input_tokens, result.usage.output_tokens,
            result.usage.cache_read_tokens) == (50, 17, 40)


def test_streamed_structured_output_is_validated(fake, make_backend):
    fake.enqueue_json({"approve": True, "score": 9})
    result = make_backend().complete(ask(schema=Verdict), on_progress=lambda p: None)
    assert result.parsed == Verdict(approve=True, score=9)


# ---------------------------------------------------------------------- repair round

def test_schema_invalid_then_valid_makes_one_repair_round(fake, make_backend):
    fake.enqueue_json({"approve": "perhaps", "score": 11},
                      usage={"input_tokens": 100, "output_tokens": 10})
    fake.enqueue_json({"approve": True, "score": 10},
                      usage={"input_tokens": 130, "output_tokens": 12,
                             "cache_read_input_tokens": 5})
    result = make_backend().complete(ask(schema=Verdict))
    assert result.parsed == Verdict(approve=True, score=10)
    assert len(fake.requests) == 2 and result.extra["repairs"] == 1
    assert (result.usage.input_tokens, result.usage.output_tokens,
            result.usage.cache_read_tokens) == (230, 22, 5)
    messages = fake.requests[1].json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == '{"approve": "perhaps", "score": 11}'
    repair = messages[2]["content"]
    assert "Verdict" in repair
    assert "- approve: Input should be a valid boolean" in repair
    assert "- score: Input should be less than or equal to 10" in repair
    assert fake.requests[1].json["output_config"] == fake.requests[0].json["output_config"]


def test_schema_invalid_twice_raises_output_format_error(fake, make_backend):
    fake.enqueue_text("not json at all")
    fake.enqueue_json({"score": 3})
    with pytest.raises(OutputFormatError) as info:
        make_backend().complete(ask(schema=Verdict))
    assert len(fake.requests) == 2
    assert info.value.raw == '{"score": 3}'
    assert "Verdict" in info.value.message and "approve" in info.value.message
    assert info.value.hint


# ---------------------------------------------------------------------- retries and faults

def test_overloaded_then_success_is_retried_by_the_sdk(fake, make_backend):
    fake.enqueue_fault("529", retry_after=0.01)
    fake.enqueue_text("ok")
    result = make_backend(max_retries=2).complete(ask())
    assert result.text == "ok" and len(fake.requests) == 2
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


def test_overloaded_after_retries(fake, make_backend):
    fake.enqueue_fault("529", times=2)
    with pytest.raises(OverloadedError) as info:
        make_backend(max_retries=1).complete(ask())
    assert "529" in info.value.message and "1 retries" in info.value.message
    assert "completed work is kept" in info.value.hint


def test_rate_limit_exhausted(fake, make_backend):
    fake.enqueue_fault("429", retry_after=0.01, times=3)
    with pytest.raises(RateLimitedError) as info:
        make_backend(max_retries=2).complete(ask())
    assert len(fake.requests) == 3
    assert "429" in info.value.message and info.value.hint


def test_connection_refused_says_what_to_check(make_backend):
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = make_backend(base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(BackendUnavailableError) as info:
        backend.complete(ask())
    assert f"127.0.0.1:{port}" in info.value.message
    assert "ANTHROPIC_BASE_URL" in info.value.hint


def test_slow_reply_times_out(fake, make_backend):
    fake.enqueue_fault("slow", delay=5)
    with pytest.raises(ModelTimeoutError) as info:
        make_backend(timeout_s=0.2).complete(ask())
    assert "anthropic.timeout_s" in info.value.hint


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_json_is_a_project_error(fake, make_backend, stream):
    fake.enqueue_fault("malformed")
    progress = (lambda p: None) if stream else None
    with pytest.raises(ModelError, match="malformed"):
        make_backend().complete(ask(), on_progress=progress)


@pytest.mark.parametrize("stream", [False, True])
def test_dropped_connection_is_a_project_error(fake, make_backend, stream):
    fake.enqueue_fault("drop")
    progress = (lambda p: None) if stream else None
    with pytest.raises(BackendUnavailableError) as info:
        make_backend().complete(ask(), on_progress=progress)
    assert info.value.hint


def test_a_stream_that_ends_before_the_message_is_complete_is_a_transport_error(
        fake, make_backend):
    # No error event, a complete HTTP body, but no message_delta/message_stop: the SDK hands
    # back the partial message with stop_reason None. That is not the model's answer.
    fake.enqueue_fault("truncated")
    with pytest.raises(BackendUnavailableError) as info:
        make_backend().complete(ask(), on_progress=lambda p: None)
    assert "ended before the answer was complete" in info.value.message
    assert info.value.usage.input_tokens > 0  # what streamed was billed: the ledger keeps it
    assert len(fake.requests) == 1  # no repair round for a broken transport


def test_a_cut_stream_in_the_repair_round_keeps_the_first_answers_usage(fake, make_backend):
    fake.enqueue_json({"approve": "maybe"}, usage={"input_tokens": 500, "output_tokens": 40})
    fake.enqueue_fault("truncated")
    with pytest.raises(BackendUnavailableError) as info:
        make_backend().complete(ask(schema=Verdict), on_progress=lambda p: None)
    assert info.value.usage.input_tokens >= 500 and info.value.usage.output_tokens >= 40


@pytest.mark.parametrize("fault", ["truncated", "drop", "overloaded_midstream"])
def test_a_stream_broken_mid_reply_is_retried_like_the_sdk_retries(fake, make_backend, fault):
    # Past the SDK's own retry loop (it ends with the response headers), so retried here under
    # the same max_retries; the broken stream's billed tokens stay on the call.
    fake.enqueue_fault(fault)
    fake.enqueue_text("ok", usage={"input_tokens": 100, "output_tokens": 5})
    result = make_backend(max_retries=1).complete(ask(), on_progress=lambda p: None)
    assert result.text == "ok" and len(fake.requests) == 2
    assert result.usage.input_tokens > 100 and result.usage.output_tokens >= 5


def test_a_stream_that_keeps_breaking_stops_after_max_retries(fake, make_backend):
    fake.enqueue_fault("truncated", times=3)
    with pytest.raises(BackendUnavailableError) as info:
        make_backend(max_retries=2).complete(ask(), on_progress=lambda p: None)
    assert len(fake.requests) == 3
    assert "ended before the answer was complete (2 retries broke too)" in info.value.message
    assert "anthropic.max_retries" in info.value.hint
    one = fake.requests[0].json  # every broken stream was billed and is kept
    assert info.value.usage.input_tokens >= 3 * len(one["messages"][0]["content"]) // 10


def test_overload_in_the_middle_of_a_stream(fake, make_backend):
    fake.enqueue_fault("overloaded_midstream")
    with pytest.raises(OverloadedError):
        make_backend().complete(ask(), on_progress=lambda p: None)


# ---------------------------------------------------------------------- API errors and the key

def test_missing_key_fails_before_any_request(fake, make_backend):
    with pytest.raises(AuthenticationError) as info:
        make_backend(key=None).complete(ask())
    assert info.value.message == "no Anthropic API key"
    assert "ANTHROPIC_API_KEY" in info.value.hint
    assert fake.requests == []


def test_rejected_key(fake, make_backend):
    fake.enqueue_error(401, "authentication_error", f"invalid x-api-key {KEY}")
    with pytest.raises(AuthenticationError) as info:
        make_backend().complete(ask())
    assert "401" in info.value.message and info.value.hint == "check ANTHROPIC_API_KEY"
    assert KEY not in str(info.value)


def test_key_echoed_by_the_server_is_redacted(fake, make_backend):
    fake.enqueue_error(400, "invalid_request_error", f"bad header value {KEY}")
    with pytest.raises(ModelError) as info:
        make_backend().complete(ask())
    assert KEY not in str(info.value) and KEY not in repr(info.value.args)
    assert "bad header value [redacted]" in info.value.message


def test_unknown_model(fake, make_backend):
    fake.enqueue_error(404, "not_found_error", f"model: {MODEL}-typo")
    with pytest.raises(ModelNotFoundError) as info:
        make_backend().complete(ask())
    assert MODEL in info.value.message and "model id" in info.value.hint


def test_prompt_too_long(fake, make_backend):
    fake.enqueue_error(400, "invalid_request_error",
                       "prompt is too long: 250000 tokens > 200000 maximum")
    with pytest.raises(ContextOverflowError, match="250000 tokens"):
        make_backend().complete(ask())


def test_billing_problem_says_where_to_add_credits(fake, make_backend):
    fake.enqueue_error(400, "invalid_request_error",
                       "Your credit balance is too low to access the Anthropic API.")
    with pytest.raises(ModelError, match="credit balance") as info:
        make_backend().complete(ask())
    assert "Plans & Billing" in info.value.hint


def test_other_bad_request_keeps_the_api_message(fake, make_backend):
    fake.enqueue_error(400, "invalid_request_error", "temperature: must be <= 1")
    with pytest.raises(ModelError, match="temperature: must be <= 1") as info:
        make_backend().complete(ask())
    assert type(info.value) is ModelError and info.value.hint


# ---------------------------------------------------------------------- doctor

def test_health_reports_the_key_without_showing_it(make_backend):
    (ok,) = make_backend().health()
    assert ok.ok and KEY not in ok.detail and KEY[-6:] not in ok.detail
    (missing,) = make_backend(key=None).health()
    assert not missing.ok and "ANTHROPIC_API_KEY" in missing.hint


def test_ping_makes_a_one_token_call(fake, make_backend):
    fake.enqueue_text(".")
    check = make_backend().ping()
    assert check.ok and MODEL in check.detail
    assert fake.requests[0].json["max_tokens"] == 1


def test_ping_turns_errors_into_a_failed_check(fake, make_backend):
    fake.enqueue_error(401, "authentication_error", "invalid x-api-key")
    check = make_backend().ping()
    assert not check.ok and check.hint == "check ANTHROPIC_API_KEY"
    assert not make_backend(key=None).ping().ok


def test_missing_prompt_file_is_a_clear_error():
    from hybridcode.prompts import load_prompt

    assert "{errors}" in load_prompt("repair_schema.md")
    with pytest.raises(HybridError) as info:
        load_prompt("no_such_prompt.md")
    assert "no_such_prompt.md" in info.value.message and info.value.hint
