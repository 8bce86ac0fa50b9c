"""OllamaBackend through the real ``ollama`` client, over HTTP, against FakeOllama."""

from __future__ import annotations

import socket

import pytest
from pydantic import BaseModel

from hybridcode.config import ModelSpec, load_settings
from hybridcode.errors import (
    BackendUnavailableError,
    ContextOverflowError,
    ModelError,
    ModelNotFoundError,
    ModelTimeoutError,
    OutputFormatError,
    OverloadedError,
)
from hybridcode.models._json import extract_json
from hybridcode.models.base import Message, ModelRequest, estimate_tokens
from hybridcode.models.ollama_backend import NUM_CTX_STEP, OllamaBackend, base_url, plan_num_ctx
from hybridcode.testing.fake_ollama import FakeOllama

MODEL = "qwen2.5-coder:32b"


class Item(BaseModel):
    name: str
    lines: int


@pytest.fixture
def fake():
    with FakeOllama(models={MODEL: 19_851_349_856}) as server:
        yield server


def make_backend(tmp_path, host, spec=None, **ollama_settings):
    settings = load_settings(root=tmp_path, environ={"OLLAMA_HOST": host},
                             overrides={"ollama": ollama_settings} if ollama_settings else None)
    return OllamaBackend(spec or ModelSpec(backend="ollama", model=MODEL), settings)


@pytest.fixture
def backend(fake, tmp_path):
    b = make_backend(tmp_path, fake.host)
    yield b
    b.close()


def ask(text="write add()", system="You implement one function.", **kwargs):
    return ModelRequest(messages=(Message("user", text),), system=system, **kwargs)


def closed_port_host():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- num_ctx

def test_num_ctx_is_sent_and_covers_the_prompt(fake, backend):
    fake.enqueue_text("def add(a, b):\n    return a + b\n")
    request = ask(max_tokens=1000)
    result = backend.complete(request)
    options = fake.requests_to("/api/chat")[-1].json["options"]
    assert options["num_predict"] == 1000
    assert options["num_ctx"] >= estimate_tokens(request.prompt_text()) + 1000
    assert options["num_ctx"] % NUM_CTX_STEP == 0 and options["num_ctx"] >= 4096
    assert result.extra["num_ctx"] == options["num_ctx"]


def test_a_long_prompt_gets_a_bigger_window_and_it_never_shrinks(fake, backend):
    fake.responder = lambda body: "ok"
    backend.complete(ask("short", max_tokens=1000))
    backend.complete(ask("x" * 30_000, max_tokens=1000))  # ~10,000 tokens estimated
    backend.complete(ask("short again", max_tokens=1000))
    small, big, after = (r.json["options"]["num_ctx"] for r in fake.requests_to("/api/chat"))
    assert small == 4096
    assert big >= 10_000 + 1000 and big > small
    assert after == big  # a changed num_ctx makes Ollama reload the model


def test_spec_options_and_temperature_are_merged(fake, tmp_path):
    spec = ModelSpec(backend="ollama", model=MODEL, temperature=0.2,
                     options={"top_k": 20, "num_ctx": 16384})
    b = make_backend(tmp_path, fake.host, spec)
    fake.enqueue_text("ok")
    b.complete(ask(max_tokens=100))
    b.close()
    options = fake.requests_to("/api/chat")[-1].json["options"]
    assert options["top_k"] == 20 and options["temperature"] == 0.2
    assert options["num_ctx"] == 16384  # a configured window is a minimum


def test_a_prompt_beyond_num_ctx_max_fails_before_any_call(fake, tmp_path):
    b = make_backend(tmp_path, fake.host, num_ctx_max=8192)
    with pytest.raises(ContextOverflowError) as info:
        b.complete(ask("y" * 30_000, max_tokens=1000))
    assert "8192" in info.value.message and "12288" in info.value.message
    assert "num_ctx_max" in info.value.hint
    assert fake.requests == []


def test_a_window_beyond_the_models_trained_context_fails_before_chat(fake, tmp_path):
    b = make_backend(tmp_path, fake.host, num_ctx_max=65536)
    with pytest.raises(ContextOverflowError, match="trained for 32768 tokens"):
        b.complete(ask("v" * 100_000, max_tokens=1000))  # ~33,000 tokens: needs 36864
    fake.enqueue_text("ok")  # a refused window does not stick to the next request
    b.complete(ask("short", max_tokens=1000))
    b.close()
    assert [r.json["options"]["num_ctx"] for r in fake.requests_to("/api/chat")] == [4096]


def test_plan_num_ctx_rounds_up_within_limits():
    assert plan_num_ctx(100, 100, 4096, 32768) == 4096
    assert plan_num_ctx(5000, 2000, 4096, 32768) == 8192
    with pytest.raises(ContextOverflowError):
        plan_num_ctx(30_000, 8192, 4096, 32768)


# ---------------------------------------------------------------- truncation

def test_truncation_is_detected(fake, backend):
    fake.enqueue_text("ok", prompt_eval_count=300)  # the prompt has ~2,000+ tokens
    with pytest.raises(ContextOverflowError, match="evaluated only 300 prompt tokens") as info:
        backend.complete(ask("z" * 12_000, max_tokens=500))
    assert info.value.usage.input_tokens == 300  # the spent call is still costed


def test_filling_the_whole_window_is_truncation(fake, backend):
    fake.enqueue_text("ok", prompt_eval_count=4096)
    with pytest.raises(ContextOverflowError, match="filling the whole 4096-token window"):
        backend.complete(ask(max_tokens=500))


def test_a_window_that_fills_while_answering_is_reported(fake, backend):
    fake.enqueue_text("def f(", eval_count=40, done_reason="length")
    with pytest.raises(ContextOverflowError, match="answer is incomplete"):
        backend.complete(ask(max_tokens=500))


def test_a_cache_hit_on_a_recent_prefix_is_not_truncation(fake, backend):
    prefix = "stable instructions and repository map\n" * 300  # ~12,000 chars
    fake.enqueue_text("first")  # full count
    backend.complete(ask("item 1", system=prefix, max_tokens=500))
    # An older server that counts only the newly evaluated tail reports a small number.
    fake.enqueue_text("second", prompt_eval_count=6)
    assert backend.complete(ask("item 2", system=prefix, max_tokens=500)).text == "second"


def test_a_missing_prompt_eval_count_proves_nothing(fake, backend):
    fake.enqueue_text("ok", prompt_eval_count=0)  # what pre-0.1.48 servers sent on a cache hit
    assert backend.complete(ask("q" * 12_000, max_tokens=500)).usage.input_tokens == 0


# ---------------------------------------------------------------- model, server, errors

def test_missing_model_says_how_to_pull_it(tmp_path):
    with FakeOllama(models={}) as empty:
        b = make_backend(tmp_path, empty.host)
        with pytest.raises(ModelNotFoundError) as info:
            b.complete(ask())
        b.close()
        assert empty.requests_to("/api/chat") == []
    assert "ollama pull qwen2.5-coder:32b" in str(info.value)
    assert "is not pulled on http://127.0.0.1:" in info.value.message


def test_model_deleted_after_the_check_gives_the_pull_advice_too(fake, backend):
    fake.enqueue_error(404, f'model "{MODEL}" not found, try pulling it first')
    with pytest.raises(ModelNotFoundError, match="ollama pull"):
        backend.complete(ask())


def test_connection_refused_says_how_to_start_ollama(tmp_path):
    b = make_backend(tmp_path, closed_port_host())
    with pytest.raises(BackendUnavailableError) as info:
        b.complete(ask())
    b.close()
    assert "cannot reach Ollama at http://127.0.0.1:" in info.value.message
    assert "OLLAMA_HOST" in info.value.hint and "ollama serve" in info.value.hint


def test_timeout(fake, tmp_path):
    b = make_backend(tmp_path, fake.host, timeout_s=0.3)
    fake.enqueue_fault("slow", seconds=3)
    with pytest.raises(ModelTimeoutError, match="0.3 s"):
        b.complete(ask())
    b.close()


@pytest.mark.parametrize(("status", "error"), [(503, OverloadedError), (500, ModelError)])
def test_server_errors_are_mapped(fake, backend, status, error):
    fake.enqueue_error(status, "out of memory")
    with pytest.raises(error, match="out of memory") as info:
        backend.complete(ask())
    assert info.value.hint


@pytest.mark.parametrize("stream", [False, True])
def test_dropped_and_malformed_responses(fake, backend, stream):
    progress = (lambda p: None) if stream else None
    fake.enqueue_fault("drop")
    with pytest.raises(BackendUnavailableError, match="mid-response"):
        backend.complete(ask(), on_progress=progress)
    fake.enqueue_fault("malformed")
    with pytest.raises(ModelError, match="malformed"):
        backend.complete(ask(), on_progress=progress)


# ---------------------------------------------------------------- schema

def test_schema_sends_format_and_parses(fake, backend):
    fake.enqueue_json({"name": "add", "lines": 2})
    result = backend.complete(ask(schema=Item))
    assert fake.requests_to("/api/chat")[-1].json["format"] == Item.model_json_schema()
    assert result.parsed == Item(name="add", lines=2)


def test_schema_output_inside_fences_and_prose_is_accepted(fake, backend):
    fake.enqueue_text('Here it is:\n```json\n{"name": "add", "lines": 2}\n```\nHope that helps.')
    assert backend.complete(ask(schema=Item)).parsed == Item(name="add", lines=2)


def test_invalid_json_raises_output_format_error_with_raw(fake, backend):
    fake.enqueue_text("I could not do it")
    with pytest.raises(OutputFormatError) as info:
        backend.complete(ask(schema=Item))
    assert info.value.raw == "I could not do it"


def test_schema_mismatch_carries_the_pydantic_error(fake, backend):
    fake.enqueue_json({"name": "add", "lines": "many"})
    with pytest.raises(OutputFormatError) as info:
        backend.complete(ask(schema=Item))
    assert "lines" in info.value.message and "valid integer" in info.value.message
    assert info.value.raw == '{"name": "add", "lines": "many"}'
    assert info.value.usage.output_tokens > 0


def test_extract_json_cases():
    assert extract_json('{"a": 1}') == '{"a": 1}'
    assert extract_json('```\n{"a": 1}\n```') == '{"a": 1}'
    assert extract_json('Sure! {"a": {"b": [1, 2]}} done') == '{"a": {"b": [1, 2]}}'
    assert extract_json("{not json} then [1, 2]") == "[1, 2]"
    assert extract_json("nothing here") is None


# ---------------------------------------------------------------- streaming, usage

def test_streaming_reports_progress_and_final_counts(fake, backend):
    fake.enqueue_text("def add(a, b): return a + b", prompt_eval_count=321, eval_count=11)
    seen = []
    result = backend.complete(ask(), on_progress=seen.append)
    assert fake.requests_to("/api/chat")[-1].json["stream"] is True
    assert "".join(p.delta for p in seen) == result.text == "def add(a, b): return a + b"
    counts = [p.output_tokens for p in seen]
    assert counts == sorted(counts) and counts[-1] == 11
    assert (result.usage.input_tokens, result.usage.output_tokens) == (321, 11)


def test_non_streaming_records_usage_and_durations(fake, backend):
    fake.enqueue_text("ok", prompt_eval_count=50, eval_count=3)
    result = backend.complete(ask())
    assert fake.requests_to("/api/chat")[-1].json["stream"] is False
    assert (result.usage.input_tokens, result.usage.output_tokens) == (50, 3)
    assert result.backend == "ollama" and result.model == MODEL and result.stop_reason == "stop"
    for key in ("prompt_eval_count", "eval_count", "total_duration", "load_duration",
                "prompt_eval_duration", "eval_duration", "num_ctx"):
        assert isinstance(result.extra[key], int) and result.extra[key] > 0


def test_the_pull_check_runs_once(fake, backend):
    fake.responder = lambda body: "ok"
    backend.complete(ask())
    backend.complete(ask())
    assert len(fake.requests_to("/api/show")) == 1


# ---------------------------------------------------------------- health

def test_health_ok(fake, backend):
    server, model = backend.health()
    assert server.ok and "0.6.5" in server.detail
    assert model.ok and "19.9 GB" in model.detail


def test_health_model_missing(tmp_path):
    with FakeOllama(models={"llama3:8b": 4_661_224_676}) as other:
        b = make_backend(tmp_path, other.host)
        server, model = b.health()
    assert server.ok and not model.ok
    assert model.hint == f"run `ollama pull {MODEL}`"


def test_health_server_down(tmp_path):
    server, model = make_backend(tmp_path, closed_port_host()).health()
    assert not server.ok and not model.ok
    assert "OLLAMA_HOST" in server.hint


def test_base_url_follows_ollama_host_rules():
    assert base_url("gpu-box") == "http://gpu-box:11434"
    assert base_url("gpu-box:8080") == "http://gpu-box:8080"
    assert base_url("https://ollama.example.com/") == "https://ollama.example.com"
    assert base_url("[::1]") == "http://[::1]:11434"
