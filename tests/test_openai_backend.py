"""OpenAICompatBackend through the real ``openai`` SDK against FakeOllama's ``/v1`` routes."""

from __future__ import annotations

import socket

import pytest
from openai.types import CompletionUsage
from pydantic import BaseModel

from hybridcode.config import ModelSpec, load_settings
from hybridcode.errors import (
    BackendUnavailableError,
    ConfigError,
    ContextOverflowError,
    ModelNotFoundError,
    ModelTimeoutError,
    OutputFormatError,
)
from hybridcode.models.base import Message, ModelRequest
from hybridcode.models.openai_backend import OpenAICompatBackend
from hybridcode.testing.fake_ollama import FakeOllama

MODEL = "qwen2.5-coder:32b"


class Item(BaseModel):
    name: str
    lines: int


@pytest.fixture
def fake():
    with FakeOllama(models={MODEL: 19_851_349_856}) as server:
        yield server


def make_backend(tmp_path, base_url, model=MODEL, **openai_settings):
    environ = {"HYBRID_OPENAI_BASE_URL": base_url} if base_url else {}
    settings = load_settings(root=tmp_path, environ=environ,
                             overrides={"openai": {"max_retries": 0, **openai_settings}})
    return OpenAICompatBackend(ModelSpec(backend="openai", model=model), settings)


@pytest.fixture
def backend(fake, tmp_path):
    b = make_backend(tmp_path, fake.base_url)
    yield b
    b.close()


def ask(text="write add()", **kwargs):
    return ModelRequest(messages=(Message("user", text),), system="You implement one function.",
                        **kwargs)


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_plain_completion(fake, backend):
    fake.enqueue_text("def add(a, b):\n    return a + b\n", prompt_eval_count=40, eval_count=12)
    result = backend.complete(ask(max_tokens=300))
    sent = fake.requests_to("/v1/chat/completions")[-1]
    assert sent.json["messages"][0] == {"role": "system", "content": "You implement one function."}
    assert sent.json["max_tokens"] == 300 and sent.json["model"] == MODEL
    assert sent.headers["authorization"] == "Bearer not-needed"
    assert result.text.startswith("def add")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (40, 12)
    assert result.backend == "openai" and result.stop_reason == "stop"


def test_schema_is_sent_as_json_schema_and_parsed(fake, backend):
    fake.enqueue_text('```json\n{"name": "add", "lines": 2}\n```')
    result = backend.complete(ask(schema=Item))
    response_format = fake.requests_to("/v1/chat/completions")[-1].json["response_format"]
    assert response_format == {"type": "json_schema", "json_schema": {
        "name": "Item", "schema": Item.model_json_schema(), "strict": False}}
    assert result.parsed == Item(name="add", lines=2)


def test_schema_mismatch_raises_output_format_error(fake, backend):
    fake.enqueue_json({"name": "add"})
    with pytest.raises(OutputFormatError, match="lines") as info:
        backend.complete(ask(schema=Item))
    assert info.value.raw == '{"name": "add"}'


def test_streaming_with_usage(fake, backend):
    fake.enqueue_text("one two three", prompt_eval_count=25, eval_count=3)
    seen = []
    result = backend.complete(ask(), on_progress=seen.append)
    sent = fake.requests_to("/v1/chat/completions")[-1].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "".join(p.delta for p in seen) == result.text == "one two three"
    assert seen[-1].output_tokens == 3
    assert (result.usage.input_tokens, result.usage.output_tokens) == (25, 3)


def test_cached_tokens_become_cache_reads(backend):
    usage = CompletionUsage(prompt_tokens=100, completion_tokens=5, total_tokens=105,
                            prompt_tokens_details={"cached_tokens": 60})
    result_usage, _ = backend._usage(usage, "prompt", "text")
    assert (result_usage.input_tokens, result_usage.cache_read_tokens) == (40, 60)
    assert result_usage.total_input == 100


def test_missing_base_url_is_a_config_error(tmp_path):
    b = make_backend(tmp_path, None)
    with pytest.raises(ConfigError) as info:
        b.complete(ask())
    assert "HYBRID_OPENAI_BASE_URL" in info.value.hint
    assert not b.health()[0].ok


def test_connection_refused_names_the_base_url(tmp_path):
    url = closed_port_url()
    b = make_backend(tmp_path, url)
    with pytest.raises(BackendUnavailableError) as info:
        b.complete(ask())
    b.close()
    assert url in info.value.message


def test_unknown_model_is_model_not_found(fake, tmp_path):
    b = make_backend(tmp_path, fake.base_url, model="qwen9:1b")
    with pytest.raises(ModelNotFoundError, match="qwen9:1b"):
        b.complete(ask())
    b.close()


def test_timeout(fake, tmp_path):
    b = make_backend(tmp_path, fake.base_url, timeout_s=0.3)
    fake.enqueue_fault("slow", seconds=3)
    with pytest.raises(ModelTimeoutError):
        b.complete(ask())
    b.close()


def test_a_stream_cut_mid_response(fake, backend):
    fake.enqueue_fault("drop")
    with pytest.raises(BackendUnavailableError, match="mid-response"):
        backend.complete(ask(), on_progress=lambda p: None)


def test_silent_truncation_on_ollamas_v1_is_detected(fake, backend):
    fake.enqueue_text("ok")  # no num_ctx on /v1: the fake caps the count at 2048
    with pytest.raises(ContextOverflowError, match="OLLAMA_CONTEXT_LENGTH"):
        backend.complete(ask("w" * 30_000))


def test_health(fake, backend, tmp_path):
    assert backend.health()[0].ok
    other = make_backend(tmp_path, fake.base_url, model="llama3:8b")
    check = other.health()[0]
    assert not check.ok and MODEL in check.detail
    down = make_backend(tmp_path, closed_port_url()).health()[0]
    assert not down.ok and "cannot reach" in down.detail
