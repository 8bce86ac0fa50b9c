"""A fake Ollama server for tests: the real wire protocol on 127.0.0.1, scripted replies.

    with FakeOllama(models={"qwen2.5-coder:32b": 19_851_349_856}) as fake:
        fake.enqueue_text("def add(a, b):\\n    return a + b\\n")
        client = ollama.Client(host=fake.host)        # or openai.OpenAI(base_url=fake.base_url)
        ...
        assert fake.requests[-1].json["options"]["num_ctx"] >= 4096

It serves ``POST /api/chat`` (JSON, or NDJSON when streaming), ``GET /api/tags``,
``POST /api/show``, ``GET /api/version`` and the OpenAI-compatible routes Ollama serves
(``POST /v1/chat/completions`` with SSE streaming, ``GET /v1/models``). Replies come from a FIFO
queue shared by both chat routes, then from ``responder``; nothing scripted is a 500 that says so.

It simulates Ollama's context window: unless a reply sets ``prompt_eval_count``, the count is the
request's text size / 4 capped at ``options.num_ctx`` (2048 when absent, the server's old default),
so a request that forgets ``num_ctx`` visibly gets "truncated". Standard library only, so users'
own test suites can import it without extra dependencies.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Literal

DEFAULT_NUM_CTX = 2048  # what Ollama used when a request sent no num_ctx (before 0.6.x)
FAULTS = ("500", "drop", "malformed", "slow")
_CREATED = 1731405600  # a fixed "created" time keeps recorded fixtures stable
_MODIFIED_AT = "2024-11-12T10:00:00.123456+00:00"


@dataclass
class Reply:
    """One scripted answer. Built by :meth:`FakeOllama.enqueue_text` and friends, or returned by
    ``responder`` (which may also return a plain ``str``, or a ``dict``/``list`` sent as JSON)."""

    kind: Literal["text", "error", "fault"] = "text"
    text: str = ""
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    done_reason: str = "stop"
    status: int = 200
    message: str = ""
    retry_after: float | None = None
    fault: str = ""
    seconds: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # keys lower-cased
    json: Any = None  # the parsed body, None for GET or a body that was not JSON
    body: bytes = b""  # the raw body, as received (what a test checks for leaked values)


Responder = Callable[[Any], "str | dict[str, Any] | list[Any] | Reply | None"]


class FakeOllama:
    """An Ollama API server in a daemon thread. Use as a context manager; see the module doc."""

    def __init__(self, models: dict[str, int] | None = None, *, chunk_delay: float = 0.0,
                 version: str = "0.6.5") -> None:
        sizes = models if models is not None else {"qwen2.5-coder:32b": 19_851_349_856}
        self.models: dict[str, int] = {normalize_model(k): v for k, v in sizes.items()}
        self.chunk_delay = chunk_delay
        self.version = version
        self.responder: Responder | None = None
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOllama:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        server.connections = set()  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="FakeOllama", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes "slow" replies and chunk delays
        if self._server is not None:
            self._server.shutdown()
            self._server.drop_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOllama is not running; use `with FakeOllama() as fake:`")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """What ``OLLAMA_HOST`` / ``ollama.Client(host=...)`` should be set to."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``openai.OpenAI(base_url=...)``)."""
        return f"{self.host}/v1"

    # ------------------------------------------------------------------ scripting

    def enqueue_text(self, text: str, prompt_eval_count: int | None = None,
                     eval_count: int | None = None, done_reason: str = "stop") -> None:
        self._push(Reply("text", text=text, prompt_eval_count=prompt_eval_count,
                         eval_count=eval_count, done_reason=done_reason))

    def enqueue_json(self, obj: Any, **counts: Any) -> None:
        self.enqueue_text(json.dumps(obj), **counts)

    def enqueue_error(self, status: int, message: str, retry_after: float | None = None) -> None:
        self._push(Reply("error", status=status, message=message, retry_after=retry_after))

    def enqueue_fault(self, kind: str, seconds: float = 5.0, text: str = "") -> None:
        """``"500"``; ``"drop"`` (connection closed mid-body); ``"malformed"`` (invalid JSON or
        NDJSON/SSE line); ``"slow"`` (wait ``seconds``, then answer ``text``)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(FAULTS)}")
        self._push(Reply("fault", fault=kind, seconds=seconds, text=text))

    def _push(self, reply: Reply) -> None:
        with self._lock:
            self._queue.append(reply)

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, body: Any, route: str) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            answer = self.responder(body)
            if isinstance(answer, Reply):
                return answer
            if isinstance(answer, str):
                return Reply("text", text=answer)
            if answer is not None:
                return Reply("text", text=json.dumps(answer))
        return Reply("error", status=500, message=(
            f"FakeOllama: no scripted response left for {route}; call enqueue_text(), "
            "enqueue_json() or set fake.responder"))

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)


def normalize_model(name: str) -> str:
    """Ollama's rule: a name without a tag means ``:latest``."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _pieces(text: str) -> list[str]:
    """Word-sized stream deltas, roughly one token each as a real server sends."""
    return re.findall(r"\S+\s*|\s+", text)


def _prompt_chars(body: dict[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        content = message.get("content", "") if isinstance(message, dict) else ""
        total += len(content) if isinstance(content, str) else len(json.dumps(content))
    return total


def _details(name: str) -> dict[str, Any]:
    family_match = re.match(r"[a-z]+\d*", name)
    family = family_match.group(0) if family_match else "llama"
    size_match = re.search(r":(\d+(?:\.\d+)?)b\b", name)
    return {"parent_model": "", "format": "gguf", "family": family, "families": [family],
            "parameter_size": f"{size_match.group(1)}B" if size_match else "unknown",
            "quantization_level": "Q4_K_M"}


def _timings(prompt_eval_count: int, eval_count: int) -> dict[str, int]:
    load, prompt, gen = 4_000_000, prompt_eval_count * 150_000, eval_count * 25_000_000
    return {"total_duration": load + prompt + gen + 1_000_000, "load_duration": load,
            "prompt_eval_count": prompt_eval_count, "prompt_eval_duration": prompt,
            "eval_count": eval_count, "eval_duration": gen}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a "slow" reply still sleeping must not block close()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def drop_connections(self) -> None:
        """A server that stops drops its connections too: a client's pooled keep-alive
        connection must not go on being answered after :meth:`FakeOllama.close`."""
        for sock in list(self.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections.clear()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up mid-reply is part of the tests, not a server bug.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for chunked NDJSON / SSE streams and keep-alive
    server_version = "FakeOllama"
    timeout = 30  # an idle keep-alive connection does not pin a thread forever
    # Headers and body go out in separate writes; with Nagle on, each reply waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        bad_body = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_body = True
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.fake._record(RecordedRequest(method, path, headers, body, raw))
        route = _ROUTES.get((method, path))
        try:
            if route is None:
                self._send_bytes(404, b"404 page not found", "text/plain")
            elif bad_body or (method == "POST" and not isinstance(body, dict)):
                self._send_error(path, 400, "invalid request body: expected a JSON object")
            else:
                route(self, body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client gave up (timeout test): nothing to tell

    # ------------------------------------------------------------------ plain replies

    def _send_bytes(self, status: int, data: bytes, ctype: str,
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), "application/json; charset=utf-8",
                         headers)

    def _send_error(self, path: str, status: int, message: str,
                    retry_after: float | None = None) -> None:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        if path.startswith("/v1/"):
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
            body: Any = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        else:
            body = {"error": message}
        self._send_json(status, body, headers)

    # ------------------------------------------------------------------ chunked streams

    def _start_stream(self, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the socket without finishing the body: the client sees an incomplete read."""
        self.wfile.flush()
        self.close_connection = True

    # ------------------------------------------------------------------ routes

    def _root(self, _body: Any) -> None:
        self._send_bytes(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, _body: Any) -> None:
        self._send_json(200, {"version": self.fake.version})

    def _tags(self, _body: Any) -> None:
        models = [{"name": name, "model": name, "modified_at": _MODIFIED_AT, "size": size,
                   "digest": hashlib.sha256(name.encode()).hexdigest(), "details": _details(name)}
                  for name, size in self.fake.models.items()]
        self._send_json(200, {"models": models})

    def _show(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        if normalize_model(name) not in self.fake.models:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        details = _details(name)
        family = details["family"]
        self._send_json(200, {
            "license": "", "modelfile": f"# Modelfile generated by FakeOllama\nFROM {name}\n",
            "parameters": 'stop "<|im_end|>"', "template": "{{ .Prompt }}", "details": details,
            "model_info": {"general.architecture": family, f"{family}.context_length": 32768},
            "capabilities": ["completion"], "modified_at": _MODIFIED_AT})

    def _v1_models(self, _body: Any) -> None:
        data = [{"id": name, "object": "model", "created": _CREATED, "owned_by": "library"}
                for name in self.fake.models]
        self._send_json(200, {"object": "list", "data": data})

    def _resolve(self, path: str, body: dict[str, Any]) -> Reply | None:
        """The reply for a chat request after the model check, errors and 500/slow faults;
        None when the request has been answered already."""
        model = str(body.get("model") or "")
        if normalize_model(model) not in self.fake.models:
            self._send_error(path, 404, f'model "{model}" not found, try pulling it first')
            return None
        reply = self.fake._next_reply(body, f"POST {path}")
        if reply.kind == "fault" and reply.fault == "slow":
            self.fake._pause(reply.seconds)
            reply = Reply("text", text=reply.text)
        if reply.kind == "fault" and reply.fault == "500":
            reply = Reply("error", status=500, message="FakeOllama: injected internal error")
        if reply.kind == "error":
            self._send_error(path, reply.status, reply.message, reply.retry_after)
            return None
        return reply

    def _counts(self, body: dict[str, Any], reply: Reply) -> tuple[int, int]:
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        num_ctx = int(options.get("num_ctx") or DEFAULT_NUM_CTX)
        prompt = reply.prompt_eval_count
        if prompt is None:  # silent truncation: the server never evaluates more than its window
            prompt = min(max(1, math.ceil(_prompt_chars(body) / 4)), num_ctx)
        output = reply.eval_count
        if output is None:
            output = max(1, math.ceil(len(reply.text) / 4))
        return prompt, output

    def _chat(self, body: dict[str, Any]) -> None:
        reply = self._resolve("/api/chat", body)
        if reply is None:
            return
        model = body["model"]
        stream = body.get("stream", True) is not False  # Ollama streams unless told not to

        def message(content: str) -> dict[str, Any]:
            return {"model": model, "created_at": _now(),
                    "message": {"role": "assistant", "content": content}}

        if reply.kind == "fault":  # drop or malformed
            if not stream:
                data = json.dumps({**message(reply.text or "partial"), "done": True}).encode()
                if reply.fault == "malformed":
                    self._send_bytes(200, data[: len(data) // 2], "application/json; charset=utf-8")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self._drop()
                return
            self._start_stream("application/x-ndjson")
            self._chunk(json.dumps({**message("partial "), "done": False}).encode() + b"\n")
            if reply.fault == "malformed":
                self._chunk(b'{"model": "' + model.encode() + b'", "message": {oops\n')
                self._end_stream()
            else:
                self._drop()
            return

        prompt_count, output_count = self._counts(body, reply)
        final = {**message(""), "done_reason": reply.done_reason, "done": True,
                 **_timings(prompt_count, output_count)}
        if not stream:
            final["message"]["content"] = reply.text
            self._send_json(200, final)
            return
        self._start_stream("application/x-ndjson")
        for piece in _pieces(reply.text):
            self._chunk(json.dumps({**message(piece), "done": False}).encode() + b"\n")
            self.fake._pause(self.fake.chunk_delay)
        self._chunk(json.dumps(final).encode() + b"\n")
        self._end_stream()

    def _v1_chat(self, body: dict[str, Any]) -> None:
        reply = self._resolve("/v1/chat/completions", body)
        if reply is None:
            return
        model = body["model"]
        stream = bool(body.get("stream"))
        ident = f"chatcmpl-{int(time.time() * 1000) % 1000}"

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "system_fingerprint": "fp_ollama",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        if reply.kind == "fault":
            if not stream:
                data = json.dumps({"id": ident, "object": "chat.completion"}).encode()
                if reply.fault == "malformed":
                    self._send_bytes(200, data[: len(data) // 2], "application/json")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self._drop()
                return
            self._start_stream("text/event-stream")
            first = chunk({"role": "assistant", "content": "partial "}, None)
            self._chunk(b"data: " + json.dumps(first).encode() + b"\n\n")
            if reply.fault == "malformed":
                self._chunk(b"data: {oops\n\n")
                self._end_stream()
            else:
                self._drop()
            return

        prompt_count, output_count = self._counts(body, reply)
        usage = {"prompt_tokens": prompt_count, "completion_tokens": output_count,
                 "total_tokens": prompt_count + output_count}
        finish = "length" if reply.done_reason == "length" else "stop"
        if not stream:
            self._send_json(200, {
                "id": ident, "object": "chat.completion", "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                             "finish_reason": finish}],
                "usage": usage})
            return
        self._start_stream("text/event-stream")
        for piece in _pieces(reply.text):
            event = chunk({"role": "assistant", "content": piece}, None)
            self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.fake._pause(self.fake.chunk_delay)
        self._chunk(b"data: " + json.dumps(chunk({"role": "assistant", "content": ""},
                                                 finish)).encode() + b"\n\n")
        options = body.get("stream_options") or {}
        if isinstance(options, dict) and options.get("include_usage"):
            last = {**chunk({}, None), "choices": [], "usage": usage}
            self._chunk(b"data: " + json.dumps(last).encode() + b"\n\n")
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


_ROUTES: dict[tuple[str, str], Callable[[_Handler, Any], None]] = {
    ("GET", "/"): _Handler._root,
    ("GET", "/api/version"): _Handler._version,
    ("GET", "/api/tags"): _Handler._tags,
    ("POST", "/api/show"): _Handler._show,
    ("POST", "/api/chat"): _Handler._chat,
    ("GET", "/v1/models"): _Handler._v1_models,
    ("POST", "/v1/chat/completions"): _Handler._v1_chat,
}

__all__ = ["DEFAULT_NUM_CTX", "FAULTS", "FakeOllama", "RecordedRequest", "Reply",
           "normalize_model"]
