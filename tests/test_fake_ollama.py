"""FakeOllama speaks Ollama's wire protocol: checked through the real ``ollama`` and ``openai``
clients (and raw httpx where a client would hide the shape)."""

from __future__ import annotations

import json
import threading

import httpx
import ollama
import openai
import pytest

from hybridcode.testing.fake_ollama import DEFAULT_NUM_CTX, FakeOllama, Reply

MODEL = "qwen2.5-coder:32b"


@pytest.fixture
def fake():
    with FakeOllama(models={MODEL: 19_851_349_856}) as server:
        yield server


@pytest.fixture
def client(fake):
    with ollama.Client(host=fake.host, timeout=5) as c:
        yield c


@pytest.fixture
def oai(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key="not-needed", max_retries=0,
                       timeout=5) as c:
        yield c


def chat(client, content="hello", **kwargs):
    return client.chat(model=MODEL, messages=[{"role": "user", "content": content}], **kwargs)


def test_tags_show_and_version(fake, client):
    listing = client.list()
    assert [(m.model, int(m.size)) for m in listing.models] == [(MODEL, 19_851_349_856)]
    assert listing.models[0].details.parameter_size == "32B"
    assert client.show(MODEL).modelinfo["general.architecture"] == "qwen2"
    assert httpx.get(f"{fake.host}/api/version").json() == {"version": "0.6.5"}
    with pytest.raises(ollama.ResponseError) as info:
        client.show("llama3")
    assert info.value.status_code == 404
    assert info.value.error == "model 'llama3' not found"


def test_chat_json_reply_has_the_real_fields(fake, client):
    fake.enqueue_text("def add(a, b):\n    return a + b\n", prompt_eval_count=120, eval_count=14)
    response = chat(client, stream=False)
    assert response.message.content == "def add(a, b):\n    return a + b\n"
    assert response.done and response.done_reason == "stop"
    assert (response.prompt_eval_count, response.eval_count) == (120, 14)
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(getattr(response, key), int) and getattr(response, key) > 0


def test_chat_streams_ndjson_then_a_final_chunk(fake):
    fake.enqueue_text("one two three")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}  # stream by default
    response = httpx.post(f"{fake.host}/api/chat", json=body)
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert "".join(line["message"]["content"] for line in lines) == "one two three"
    assert [line["done"] for line in lines] == [False, False, False, True]
    assert lines[-1]["done_reason"] == "stop" and lines[-1]["eval_count"] >= 1


def test_prompt_eval_count_is_capped_by_the_window(fake, client):
    long_prompt = "x" * 40_000  # ~10,000 tokens at chars/4
    fake.enqueue_text("ok")
    fake.enqueue_text("ok")
    cut = chat(client, long_prompt, stream=False)
    whole = chat(client, long_prompt, stream=False, options={"num_ctx": 16384})
    assert cut.prompt_eval_count == DEFAULT_NUM_CTX  # no num_ctx: silently truncated
    assert whole.prompt_eval_count == 10_000


def test_unknown_model_on_chat_is_a_404_with_the_real_body(fake):
    response = httpx.post(f"{fake.host}/api/chat", json={"model": "nope", "messages": []})
    assert response.status_code == 404
    assert response.json() == {"error": 'model "nope" not found, try pulling it first'}


def test_nothing_scripted_is_a_500_that_says_so(fake, client):
    with pytest.raises(ollama.ResponseError) as info:
        chat(client, stream=False)
    assert info.value.status_code == 500
    assert "enqueue_text" in info.value.error


def test_scripted_error_with_retry_after(fake):
    fake.enqueue_error(429, "slow down", retry_after=2)
    response = httpx.post(f"{fake.host}/api/chat", json={"model": MODEL, "messages": []})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": "slow down"}


def test_fault_500_and_unknown_fault(fake, client):
    fake.enqueue_fault("500")
    with pytest.raises(ollama.ResponseError) as info:
        chat(client, stream=False)
    assert info.value.status_code == 500
    with pytest.raises(ValueError, match="unknown fault"):
        fake.enqueue_fault("explode")


def test_fault_drop_cuts_the_stream(fake, client):
    fake.enqueue_fault("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        list(chat(client, stream=True))
    fake.enqueue_fault("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client, stream=False)


def test_fault_malformed(fake, client):
    fake.enqueue_fault("malformed")
    with pytest.raises(json.JSONDecodeError):
        list(chat(client, stream=True))
    fake.enqueue_fault("malformed")
    with pytest.raises(json.JSONDecodeError):
        chat(client, stream=False)


def test_fault_slow_outlasts_a_short_timeout(fake):
    fake.enqueue_fault("slow", seconds=3)
    with ollama.Client(host=fake.host, timeout=0.2) as slow_client, \
            pytest.raises(httpx.ReadTimeout):
        chat(slow_client, stream=False)


def test_responder_answers_dynamically_after_the_queue(fake, client):
    fake.enqueue_text("from the queue")
    fake.responder = lambda body: "echo: " + body["messages"][-1]["content"]
    assert chat(client, "first", stream=False).message.content == "from the queue"
    assert chat(client, "second", stream=False).message.content == "echo: second"
    fake.responder = lambda body: {"answer": 42}
    assert json.loads(chat(client, stream=False).message.content) == {"answer": 42}
    fake.responder = lambda body: Reply("error", status=503, message="busy")
    with pytest.raises(ollama.ResponseError) as info:
        chat(client, stream=False)
    assert info.value.status_code == 503


def test_requests_are_recorded_from_parallel_clients(fake):
    fake.responder = lambda body: "ok"

    def call(i: int) -> None:
        with ollama.Client(host=fake.host, timeout=5) as c:
            c.chat(model=MODEL, messages=[{"role": "user", "content": f"n{i}"}], stream=False)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chats = fake.requests_to("/api/chat")
    assert sorted(r.json["messages"][0]["content"] for r in chats) == [f"n{i}" for i in range(8)]
    assert chats[0].method == "POST" and "user-agent" in chats[0].headers


def test_openai_routes(fake, oai):
    assert [m.id for m in oai.models.list()] == [MODEL]
    fake.enqueue_text("hello there", prompt_eval_count=30, eval_count=2)
    completion = oai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "hello there"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (30, 2)


def test_openai_sse_stream_with_usage(fake, oai):
    fake.enqueue_text("a b c", eval_count=3)
    chunks = list(oai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a b c"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_openai_unknown_model_is_not_found(fake, oai):
    with pytest.raises(openai.NotFoundError, match="try pulling it first"):
        oai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])


def test_chunk_delay_spreads_the_stream(fake, client):
    fake.chunk_delay = 0.01
    fake.enqueue_text("a b c d")
    assert "".join(c.message.content for c in chat(client, stream=True)) == "a b c d"
    assert fake.pending == 0
