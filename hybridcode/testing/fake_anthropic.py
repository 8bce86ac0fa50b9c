"""A fake Anthropic Messages API: a real HTTP server on 127.0.0.1 that serves scripted replies.

Point the official SDK (or ``hybrid``) at ``fake.base_url`` and script what it answers::

    with FakeAnthropic() as fake:
        fake.enqueue_text("hello", usage={"cache_read_input_tokens": 900})
        fake.enqueue_fault("529")            # then an overload the SDK will retry
        fake.enqueue_json({"ok": True})
        ...                                  # run the code under test
        assert fake.requests[0].json["model"] == "claude-sonnet-5-5"

Concurrency is observable: ``fake.latency = 0.2`` makes every message wait that long before it
is answered, and ``fake.max_in_flight`` is the most messages the fake was answering at once.

It speaks the wire protocol, not Python objects: ``POST /v1/messages`` answers with the JSON
body of the real API, or with its server-sent events when the request asks ``"stream": true``.
Errors use the real envelope (``{"type": "error", "error": {...}}``) and status codes (429 with
``retry-after``, 529 overloaded). Faults cover what the network does to clients: a dropped
connection, a reply slower than the client's timeout, a body that is not JSON.

Prompt caching behaves like the real API's, so cache behaviour is tested over the wire: a
``cache_control`` breakpoint writes the prefix up to it (system blocks, then messages) to a
per-model cache for its ``ttl`` (5 minutes, or ``"1h"``), and a later request whose prompt
starts with a cached prefix reads it (``cache_read_input_tokens``; a read refreshes the entry).
A breakpoint whose prefix is shorter than the model's minimum cacheable length
(``min_cache_tokens``, by longest model-id prefix) is silently ignored, as the API does.
Tokens are counted as four characters each. ``fake.advance(seconds)`` moves the cache's clock.
Usage fields a test scripts with ``enqueue_text(usage=…)`` always win.

Only the standard library is used, so users' own test suites can import it freely.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Literal, Union

__all__ = ["FakeAnthropic", "PromptCache", "RecordedRequest", "TextReply", "ErrorReply",
           "FaultReply"]

DEFAULT_MODEL = "claude-sonnet-5-5"
# The same minimums as hybridcode's price table (tests check they agree); unknown models 1024.
MIN_CACHE_TOKENS = {"claude-opus-5-5": 4096, "claude-sonnet-5-5": 2048, "claude-opus-5": 4096,
                    "claude-sonnet-5": 1024, "claude-haiku-4-5": 4096}
_TTL_S = {"5m": 300.0, "1h": 3600.0}
FaultKind = Literal["429", "529", "500", "drop", "slow", "malformed", "overloaded_midstream",
                   "truncated"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # the parsed body, or None when it was not JSON
    body: bytes = b""


@dataclass(frozen=True)
class TextReply:
    """A successful message. ``usage`` may set any subset of the API's usage fields; the rest
    are computed from the request and the text (input from the request's size)."""

    text: str
    usage: dict[str, int] | None = None
    thinking: str | None = None  # a thinking block placed before the text, as Claude does
    model: str | None = None  # default: the model the request named
    stop_reason: str = "end_turn"


@dataclass(frozen=True)
class ErrorReply:
    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultReply:
    kind: FaultKind
    retry_after: float | None = None  # seconds, sent as ``retry-after`` (429/529/500)
    delay: float = 1.0  # "slow": seconds to wait before answering
    then: TextReply | None = None  # "slow": what to answer once the delay is over


Reply = Union[TextReply, ErrorReply, FaultReply]
# A responder gets the request's JSON body; a plain string is shorthand for TextReply(text).
Responder = Callable[[Any], Union[Reply, str]]

_FAULT_ERRORS: dict[str, tuple[int, str, str]] = {
    "429": (429, "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit "
            "(https://docs.claude.com/en/api/rate-limits); see the response headers for "
            "current usage."),
    "529": (529, "overloaded_error", "Overloaded"),
    "500": (500, "api_error", "Internal server error"),
}
_RATE_LIMIT_HEADERS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "0",
}


class FakeAnthropic:
    """The fake server. Thread-safe: the SDK may call it from several threads at once."""

    def __init__(self, *, chunk_size: int = 12, ping: bool = True,
                 api_key: str | None = None,
                 min_cache_tokens: dict[str, int] | None = None) -> None:
        """``chunk_size``: characters per streamed delta. ``ping``: send a ping event after
        ``message_start`` as the real API does. ``api_key``: when set, other keys get a 401.
        ``min_cache_tokens``: minimum cacheable length per model id prefix."""
        self.chunk_size = max(1, chunk_size)
        self.ping = ping
        self.api_key = api_key
        self.cache = PromptCache(min_cache_tokens)
        self._clock_offset = 0.0
        self.responder: Responder | None = None
        self.latency = 0.0  # seconds every message waits before its reply
        self._in_flight = 0
        self._max_in_flight = 0
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._live: dict[threading.Thread, socket.socket] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01},
                                        name="FakeAnthropic", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        """Stop serving. Wakes "slow" replies and drops kept-alive connections so that every
        handler thread ends before this returns (no stray sockets, no ResourceWarning)."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        with self._lock:
            live = list(self._live.items())
        for _thread, conn in live:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        for thread, _conn in live:
            thread.join(timeout=5)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropic:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ scripting
    def enqueue(self, reply: Reply, times: int = 1) -> None:
        with self._lock:
            self._queue.extend([reply] * times)

    def enqueue_text(self, text: str, usage: dict[str, int] | None = None,
                     thinking: str | None = None, model: str | None = None,
                     stop_reason: str = "end_turn") -> None:
        self.enqueue(TextReply(text, usage, thinking, model, stop_reason))

    def enqueue_json(self, obj: Any, usage: dict[str, int] | None = None,
                     thinking: str | None = None, model: str | None = None) -> None:
        """A reply whose text is ``json.dumps(obj)`` — valid or deliberately schema-invalid."""
        self.enqueue_text(json.dumps(obj), usage=usage, thinking=thinking, model=model)

    def enqueue_error(self, status: int, error_type: str, message: str,
                      headers: dict[str, str] | None = None, times: int = 1) -> None:
        """An API error in the real envelope, e.g.
        ``enqueue_error(401, "authentication_error", "invalid x-api-key")``."""
        self.enqueue(ErrorReply(status, error_type, message, dict(headers or {})), times)

    def enqueue_fault(self, kind: FaultKind, *, retry_after: float | None = 0.01,
                      delay: float = 1.0, text: str = "slow reply", times: int = 1) -> None:
        """Inject a fault.

        - ``"429"``, ``"529"``, ``"500"``: the real error bodies; ``retry-after`` is sent unless
          ``retry_after`` is None. The default is tiny so that the SDK's retries keep tests fast
          (0 makes the SDK fall back to its own exponential backoff of about 0.5 s).
        - ``"drop"``: the connection closes half-way through the body or the event stream.
        - ``"slow"``: wait ``delay`` seconds, then answer ``text`` (set a smaller client timeout).
        - ``"malformed"``: 200 with a JSON content type and a body that is not JSON.
        - ``"overloaded_midstream"``: a stream that starts, then sends an ``error`` event
          (as the real API does under load); a non-streaming request just gets a reply.
        - ``"truncated"``: a stream that ends cleanly (no error, the HTTP body complete) after
          part of the text, before ``message_delta`` and ``message_stop`` — what a proxy that
          cuts long responses does; a non-streaming request just gets a reply.
        """
        then = TextReply(text) if kind == "slow" else None
        self.enqueue(FaultReply(kind, retry_after, delay, then), times)

    def advance(self, seconds: float) -> None:
        """Move the prompt cache's clock forward (entries expire as if time had passed)."""
        with self._lock:
            self._clock_offset += seconds

    def clear_cache(self) -> None:
        with self._lock:
            self.cache.entries.clear()

    def _now(self) -> float:
        return time.monotonic() + self._clock_offset

    def cache_usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Cache reads and writes for ``body``, updating the cache as the API would."""
        with self._lock:
            return self.cache.usage(body, self._now())

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most ``/v1/messages`` requests being answered at the same time so far."""
        with self._lock:
            return self._max_in_flight

    @property
    def pending(self) -> int:
        """Scripted replies not yet served."""
        with self._lock:
            return len(self._queue)

    # ------------------------------------------------------------------ serving (internal)
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, body: Any) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            reply = self.responder(body)
            return TextReply(reply) if isinstance(reply, str) else reply
        # Loud by design: a test that forgot to script a reply must fail, not hang or pass.
        return ErrorReply(500, "api_error",
                          "FakeAnthropic has no scripted response for this request; call "
                          "enqueue_text()/enqueue_json()/enqueue_error() or set fake.responder",
                          {"x-should-retry": "false"})

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _message_id(self) -> str:
        return f"msg_fake{next(self._ids):06d}"


class PromptCache:
    """The API's prompt cache, without the server: per model, keyed by the exact prefix up to
    each block, with a minimum cacheable length per model and a TTL per breakpoint. Not
    thread-safe on its own (FakeAnthropic holds its lock around it). ``chars_per_token`` sets
    how text is counted (the fake's 4; hybrid's demo recordings use 3.3)."""

    def __init__(self, min_cache_tokens: dict[str, int] | None = None,
                 chars_per_token: float = 4.0) -> None:
        self.min_cache_tokens = dict(MIN_CACHE_TOKENS if min_cache_tokens is None
                                     else min_cache_tokens)
        self.chars_per_token = chars_per_token
        self.entries: dict[str, float] = {}  # prefix key → expiry on the caller's clock

    def tokens(self, text: str) -> int:
        return int(len(text) / self.chars_per_token)

    def _minimum(self, model: str) -> int:
        best = ""
        for name in self.min_cache_tokens:
            if model.startswith(name) and len(name) > len(best):
                best = name
        return self.min_cache_tokens[best] if best else 1024

    def usage(self, body: dict[str, Any], now: float) -> dict[str, int]:
        """Cache reads and writes for ``body`` at time ``now``, updating the entries."""
        model = str(body.get("model") or DEFAULT_MODEL)
        segments = _segments(body)
        minimum = self._minimum(model)
        digest = hashlib.sha256(model.encode())
        bounds: list[tuple[int, str, str | None]] = []  # (tokens so far, key, ttl if marked)
        tokens = 0
        for text, ttl in segments:
            digest.update(b"\x00" + text.encode())
            tokens += self.tokens(text)
            bounds.append((tokens, digest.hexdigest(), ttl))
        marked = [(n, key, ttl) for n, key, ttl in bounds if ttl is not None and n >= minimum]
        # Reads are looked up from the request's breakpoints backwards: none, no read.
        last = max((n for n, _key, ttl in bounds if ttl is not None), default=0)
        read = 0
        for n, key, _ttl in bounds:
            if n <= last:
                expiry = self.entries.get(key)
                if expiry is not None and expiry > now:
                    read = max(read, n)
        written = 0
        for n, key, ttl in marked:
            lifetime = _TTL_S.get(str(ttl), 300.0)
            self.entries[key] = max(self.entries.get(key, 0.0), now + lifetime)
            written = max(written, n)
        for n, key, _ttl in bounds:  # a read refreshes the entry it used
            if n == read and read and key in self.entries:
                self.entries[key] = max(self.entries[key], now + 300.0)
        creation = max(0, written - read)
        one_hour = creation if marked and marked[-1][2] == "1h" else 0
        return {"cache_read_input_tokens": read, "cache_creation_input_tokens": creation,
                "ephemeral_1h": one_hour, "prompt_tokens": tokens}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # FakeAnthropic.close() joins handler threads itself
    request_queue_size = 128  # bursts of parallel clients must not wait for SYN retries
    fake: FakeAnthropic

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout test) leaves a broken pipe behind; that is expected.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like the real API
    server: _Server
    timeout = 30  # idle keep-alive connections end on their own
    # Headers and body go out in separate writes; with Nagle on, a kept-alive connection
    # waits for the client's delayed ACK (~40 ms) on every reply.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._live[threading.current_thread()] = self.connection

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.fake._lock:
                self.server.fake._live.pop(threading.current_thread(), None)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read fake.requests instead of a log on stderr

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:
        self._read_and_record()
        self._send_error(ErrorReply(404, "not_found_error", f"Not found: {self.path}"))

    def do_POST(self) -> None:
        body = self._read_and_record()
        fake = self.server.fake
        if self.path.split("?")[0] != "/v1/messages":
            self._send_error(ErrorReply(404, "not_found_error", f"Not found: {self.path}"))
            return
        if fake.api_key is not None and not self._key_matches(fake.api_key):
            self._send_error(ErrorReply(401, "authentication_error", "invalid x-api-key"))
            return
        if not isinstance(body, dict):
            self._send_error(ErrorReply(400, "invalid_request_error", "request body is not JSON"))
            return
        fake._begin()
        try:
            if fake.latency and fake._closing.wait(fake.latency):
                self.close_connection = True
                return
            reply = fake._next_reply(body)
            if isinstance(reply, ErrorReply):
                self._send_error(reply)
            elif isinstance(reply, FaultReply):
                self._send_fault(reply, body)
            else:
                self._send_message(reply, body)
        finally:
            fake._end()

    def _read_and_record(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.fake._record(RecordedRequest(self.command, self.path, headers, body, raw))
        return body

    def _key_matches(self, key: str) -> bool:
        bearer = self.headers.get("authorization", "")
        return self.headers.get("x-api-key") == key or bearer == f"Bearer {key}"

    # ------------------------------------------------------------------ replies
    def _send_json(self, status: int, payload: bytes,
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", f"req_fake{next(self.server.fake._ids):06d}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, reply: ErrorReply) -> None:
        envelope = {"type": "error", "error": {"type": reply.error_type, "message": reply.message}}
        self._send_json(reply.status, json.dumps(envelope).encode(), reply.headers)

    def _send_fault(self, fault: FaultReply, body: dict[str, Any]) -> None:
        fake = self.server.fake
        if fault.kind in _FAULT_ERRORS:
            status, error_type, message = _FAULT_ERRORS[fault.kind]
            headers = dict(_RATE_LIMIT_HEADERS) if fault.kind == "429" else {}
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
            self._send_error(ErrorReply(status, error_type, message, headers))
        elif fault.kind == "slow":
            if fake._closing.wait(fault.delay):
                self.close_connection = True
                return
            self._send_message(fault.then or TextReply("slow reply"), body)
        elif fault.kind == "malformed":
            broken = b'{"id": "msg_broken", "type": "message", "content": [{"ty'
            if body.get("stream"):
                self._send_events([b"event: message_start\ndata: " + broken + b"\n\n"])
            else:
                self._send_json(200, broken)
        elif fault.kind == "drop":
            self._send_message(TextReply("this reply is cut off half-way through"), body,
                               drop=True)
        elif fault.kind == "overloaded_midstream":
            self._send_message(TextReply("partial answer"), body, midstream_error=True)
        elif fault.kind == "truncated":
            self._send_message(TextReply('{"architecture_note": "a partial ans'), body,
                               truncated=True)
        else:  # pragma: no cover - FaultKind is closed
            raise ValueError(f"unknown fault {fault.kind!r}")

    def _send_message(self, reply: TextReply, body: dict[str, Any], *, drop: bool = False,
                      midstream_error: bool = False, truncated: bool = False) -> None:
        fake = self.server.fake
        message = _message(fake._message_id(), reply, body, fake.cache_usage(body))
        if body.get("stream"):
            self._stream(message, drop=drop, midstream_error=midstream_error,
                         truncated=truncated)
            return
        payload = json.dumps(message).encode()
        if drop:
            # Promise the whole body, deliver half, hang up: the client sees a truncated read.
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self._send_json(200, payload)

    def _stream(self, message: dict[str, Any], *, drop: bool, midstream_error: bool,
                truncated: bool = False) -> None:
        events = _stream_events(message, self.server.fake.chunk_size, self.server.fake.ping)
        if drop:
            events = events[: max(3, len(events) // 2)]
        elif truncated:
            # every event up to the text, then a clean end: no message_delta, no message_stop
            events = [e for e in events if e[0] not in ("content_block_stop", "message_delta",
                                                          "message_stop")]
        elif midstream_error:
            events = events[:3]
            events.append(("error", {"type": "error", "error": {
                "type": "overloaded_error", "message": "Overloaded"}}))
        frames = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                  for name, data in events]
        self._send_events(frames, complete=not drop)

    def _send_events(self, frames: list[bytes], complete: bool = True) -> None:
        """Server-sent events in HTTP/1.1 chunks; without the final chunk the stream is cut."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for frame in frames:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        if complete:
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.close_connection = True


# ---------------------------------------------------------------------- message shapes

def _estimate_input_tokens(body: dict[str, Any]) -> int:
    """About four characters per token over what the model reads; good enough for a fake."""
    size = len(json.dumps(body.get("system", ""))) + len(json.dumps(body.get("messages", [])))
    return max(1, size // 4)


def _tokens(text: str) -> int:
    return len(text) // 4


def _segments(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The prompt as (text, ttl of its cache breakpoint or None), in the API's cache order:
    system, then each message's blocks (role boundaries are part of the text)."""
    out: list[tuple[str, str | None]] = []

    def add(content: Any, prefix: str) -> None:
        if isinstance(content, str):
            out.append((prefix + content, None))
            return
        for n, block in enumerate(content or []):
            if not isinstance(block, dict):
                continue
            text = block.get("text") or json.dumps(block, sort_keys=True)
            control = block.get("cache_control")
            ttl = (control.get("ttl") or "5m") if isinstance(control, dict) else None
            out.append(((prefix if n == 0 else "") + text, ttl))

    add(body.get("system") or [], "")
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            add(message.get("content"), f"\n[{message.get('role')}]\n")
    return out


def _usage(reply: TextReply, body: dict[str, Any],
           cache: dict[str, int] | None = None) -> dict[str, Any]:
    scripted = dict(reply.usage or {})
    cache = cache or {"cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
                      "ephemeral_1h": 0}
    cached = cache["cache_read_input_tokens"] + cache["cache_creation_input_tokens"]
    usage: dict[str, Any] = {
        "input_tokens": max(1, _estimate_input_tokens(body) - cached),
        "cache_creation_input_tokens": cache["cache_creation_input_tokens"],
        "cache_read_input_tokens": cache["cache_read_input_tokens"],
        "output_tokens": max(1, (len(reply.text) + len(reply.thinking or "")) // 4),
    }
    usage.update(scripted)
    one_hour = 0 if "cache_creation_input_tokens" in scripted else cache["ephemeral_1h"]
    usage.setdefault("cache_creation", {
        "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"] - one_hour,
        "ephemeral_1h_input_tokens": one_hour,
    })
    usage.setdefault("service_tier", "standard")
    return usage


def _message(message_id: str, reply: TextReply, body: dict[str, Any],
             cache: dict[str, int] | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking is not None:
        content.append({"type": "thinking", "thinking": reply.thinking,
                        "signature": "fake-signature-" + message_id})
    content.append({"type": "text", "text": reply.text})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": reply.model or body.get("model") or DEFAULT_MODEL,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": _usage(reply, body, cache),
    }


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _stream_events(message: dict[str, Any], chunk_size: int,
                   ping: bool) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence the real API sends for ``message``, in order."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})]
    if ping:
        events.append(("ping", {"type": "ping"}))
    for index, block in enumerate(message["content"]):
        if block["type"] == "thinking":
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                           "content_block": {"type": "thinking", "thinking": "",
                                             "signature": ""}}))
            for piece in _chunks(block["thinking"], chunk_size):
                events.append(("content_block_delta", {"type": "content_block_delta",
                               "index": index,
                               "delta": {"type": "thinking_delta", "thinking": piece}}))
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                           "delta": {"type": "signature_delta",
                                     "signature": block["signature"]}}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}}))
            for piece in _chunks(block["text"], chunk_size):
                events.append(("content_block_delta", {"type": "content_block_delta",
                               "index": index,
                               "delta": {"type": "text_delta", "text": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    final_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                         "cache_read_input_tokens", "output_tokens")}
    events.append(("message_delta", {"type": "message_delta",
                   "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                   "usage": final_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events
