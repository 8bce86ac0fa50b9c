"""The fake Anthropic server, checked at the wire: raw HTTP for the protocol's shape, the real
SDK for compatibility. The backend's own tests (test_anthropic_backend.py) build on it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import anthropic
import pytest

from hybridcode.testing.fake_anthropic import ErrorReply, FakeAnthropic, TextReply

MODEL = "claude-sonnet-5-5"
BODY = {"model": MODEL, "max_tokens": 64, "system": "be brief",
        "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def fake():
    with FakeAnthropic(chunk_size=5) as server:
        yield server


def post(fake: FakeAnthropic, body: Any = BODY, path: str = "/v1/messages",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = fake.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        payload = json.dumps(body).encode()
        conn.request("POST", path, body=payload,
                     headers={"content-type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        name_line, data_line = frame.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line[len("event: "):], json.loads(data_line[len("data: "):])))
    return events


def test_message_body_has_the_real_shape(fake):
    fake.enqueue_text("Hi!", usage={"cache_read_input_tokens": 7})
    status, headers, raw = post(fake)
    body = json.loads(raw)
    assert status == 200 and headers["content-type"] == "application/json"
    assert body["type"] == "message" and body["role"] == "assistant" and body["model"] == MODEL
    assert body["id"].startswith("msg_")
    assert body["content"] == [{"type": "text", "text": "Hi!"}]
    assert body["stop_reason"] == "end_turn"
    usage = body["usage"]
    assert usage["cache_read_input_tokens"] == 7 and usage["cache_creation_input_tokens"] == 0
    assert usage["input_tokens"] > 0 and usage["output_tokens"] >= 1


def test_input_tokens_default_grows_with_the_request(fake):
    fake.enqueue_text("a")
    fake.enqueue_text("a")
    small = json.loads(post(fake)[2])["usage"]["input_tokens"]
    big_body = {**BODY, "messages": [{"role": "user", "content": "word " * 2000}]}
    big = json.loads(post(fake, big_body)[2])["usage"]["input_tokens"]
    assert big > small * 50


def test_stream_is_server_sent_events_in_the_api_order(fake):
    fake.enqueue_text("Hello, world", thinking="let me think", usage={"output_tokens": 9})
    status, headers, raw = post(fake, {**BODY, "stream": True})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    starts = [data["content_block"]["type"] for name, data in events
              if name == "content_block_start"]
    assert starts == ["thinking", "text"]
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta") == "let me think"
    assert any(d["type"] == "signature_delta" for d in deltas)
    text = [d["text"] for d in deltas if d["type"] == "text_delta"]
    assert "".join(text) == "Hello, world" and len(text) == 3  # chunk_size=5
    assert events[-2][1]["usage"]["output_tokens"] == 9
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_requests_are_recorded_with_lower_case_headers(fake):
    fake.enqueue_json({"x": 1})
    post(fake, headers={"X-Api-Key": "sk-abc"})
    (req,) = fake.requests
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.headers["x-api-key"] == "sk-abc"
    assert req.json == BODY


def test_unscripted_request_fails_loudly_without_retries(fake):
    status, headers, raw = post(fake)
    body = json.loads(raw)
    assert status == 500 and headers["x-should-retry"] == "false"
    assert body["type"] == "error" and "no scripted response" in body["error"]["message"]


def test_responder_answers_when_the_queue_is_empty(fake):
    seen = []

    def responder(request: Any) -> Any:
        seen.append(request["model"])
        if len(seen) == 1:
            return "from the responder"
        return ErrorReply(400, "invalid_request_error", "nope")

    fake.responder = responder
    fake.enqueue(TextReply("queued first"))
    assert json.loads(post(fake)[2])["content"][0]["text"] == "queued first"
    assert json.loads(post(fake)[2])["content"][0]["text"] == "from the responder"
    assert post(fake)[0] == 400
    assert seen == [MODEL, MODEL]


@pytest.mark.parametrize(("kind", "status", "error_type"), [
    ("429", 429, "rate_limit_error"), ("529", 529, "overloaded_error"), ("500", 500, "api_error")])
def test_status_faults_use_the_error_envelope(fake, kind, status, error_type):
    fake.enqueue_fault(kind, retry_after=3)
    got, headers, raw = post(fake)
    assert got == status and headers["retry-after"] == "3"
    assert json.loads(raw)["error"]["type"] == error_type


def test_error_with_custom_headers(fake):
    fake.enqueue_error(401, "authentication_error", "invalid x-api-key", headers={"x-a": "b"})
    status, headers, raw = post(fake)
    assert status == 401 and headers["x-a"] == "b"
    assert json.loads(raw) == {"type": "error", "error": {
        "type": "authentication_error", "message": "invalid x-api-key"}}


def test_malformed_body_is_not_json(fake):
    fake.enqueue_fault("malformed")
    status, _, raw = post(fake)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)


def test_drop_cuts_the_body(fake):
    fake.enqueue_fault("drop")
    with pytest.raises(http.client.IncompleteRead):
        post(fake)


def test_slow_reply_waits_and_close_wakes_it():
    fake = FakeAnthropic()
    fake.enqueue_fault("slow", delay=0.3, text="late")
    status, _, raw = post(fake)
    assert status == 200 and json.loads(raw)["content"][0]["text"] == "late"
    fake.enqueue_fault("slow", delay=60)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            post(fake)
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    fake.close()
    worker.join(5)
    assert time.monotonic() - started < 3 and not worker.is_alive()
    assert outcome, "the client should see the connection close without a reply"


def test_api_key_is_enforced_when_configured():
    with FakeAnthropic(api_key="sk-right") as fake:
        fake.enqueue_text("ok")
        assert post(fake, headers={"x-api-key": "sk-wrong"})[0] == 401
        assert post(fake, headers={"authorization": "Bearer sk-right"})[0] == 200


def test_unknown_path_is_404(fake):
    status, _, raw = post(fake, path="/v1/nothing")
    assert status == 404 and json.loads(raw)["error"]["type"] == "not_found_error"


def test_concurrent_requests_are_all_recorded(fake):
    fake.responder = lambda request: "ok"
    threads = [threading.Thread(target=post, args=(fake,)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.requests) == 16


def test_the_real_sdk_reads_json_and_streams(fake):
    fake.enqueue_text("plain", thinking="hidden")
    fake.enqueue_text("streamed text", thinking="hidden", usage={"cache_creation_input_tokens": 11})
    with anthropic.Anthropic(api_key="sk-test", base_url=fake.base_url, max_retries=0) as client:
        message = client.messages.create(model=MODEL, max_tokens=10, messages=BODY["messages"])
        assert [b.type for b in message.content] == ["thinking", "text"]
        with client.messages.stream(model=MODEL, max_tokens=10,
                                    messages=BODY["messages"]) as stream:
            deltas = [e.text for e in stream if e.type == "text"]
            final = stream.get_final_message()
    assert "".join(deltas) == "streamed text"
    assert final.content[1].text == "streamed text"
    assert final.usage.cache_creation_input_tokens == 11
    assert fake.requests[1].json["stream"] is True


def test_latency_and_max_in_flight_show_concurrent_clients(fake):
    fake.latency = 0.3
    fake.responder = lambda body: "ok"
    threads = [threading.Thread(target=post, args=(fake,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.max_in_flight == 3
    post(fake)  # alone: the maximum stays what it was
    assert fake.max_in_flight == 3 and len(fake.requests) == 4
