"""Ollama through the official ``ollama`` client, with the context window sized on every call.

Why the care: Ollama's default window silently cuts the *front* of a long prompt — where the
instructions are — and still answers 200 (with the default window Qwen2.5-Coder-32B fell from
72.9% to 51.9% on Aider's code-editing benchmark). So every request carries ``options.num_ctx``
sized from the prompt plus the output budget, and every answer's ``prompt_eval_count`` is checked
against what we sent, failing loudly when the server evidently read less.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from hybridcode.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ContextOverflowError,
    ModelError,
    ModelNotFoundError,
    ModelTimeoutError,
    OverloadedError,
    RateLimitedError,
)
from hybridcode.models._json import parse_output
from hybridcode.models.base import (
    Backend,
    HealthCheck,
    ModelRequest,
    ModelResult,
    Progress,
    ProgressCallback,
    Usage,
    estimate_tokens,
)

if TYPE_CHECKING:
    import ollama

    from hybridcode.config import ModelSpec, Settings

# Windows are rounded up to this step: Ollama restarts the model runner (reloading ~20 GB of
# weights for a 32B model) whenever num_ctx changes, so few distinct sizes mean few reloads.
NUM_CTX_STEP = 2048
# Chat-template tokens around each message (role markers, turn separators) ...
TEMPLATE_TOKENS_PER_MESSAGE = 8
# ... and slack for the template's preamble and the tokenizer disagreeing with our estimate.
NUM_CTX_MARGIN = 256
# No tokenizer packs more than ~6 characters of code or prose into one token on average, so
# chars/6 is a safe *lower* bound on the prompt's true size (the estimate in base.py is the
# conservative upper side, chars/3).
MAX_CHARS_PER_TOKEN = 6.0
# A server that counts only uncached tokens reports roughly the uncached tail; allow this many
# characters per token (the dense end) when deciding that a low count is a cache hit.
MIN_CHARS_PER_TOKEN = 1.5
HEALTH_TIMEOUT_S = 3.0
START_HINT = "start it with `ollama serve`, or set OLLAMA_HOST to where it runs"


def base_url(host: str) -> str:
    """``OLLAMA_HOST`` as a URL: ``gpu-box`` → ``http://gpu-box:11434`` (Ollama's own rules)."""
    host = (host or "127.0.0.1:11434").strip().rstrip("/")
    if "://" not in host:
        authority = host.split("/", 1)[0]
        if not authority.rsplit("]", 1)[-1].count(":"):
            host = host.replace(authority, f"{authority}:11434", 1)
        host = f"http://{host}"
    return host


def _with_tag(model: str) -> str:
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def plan_num_ctx(prompt_tokens: int, output_budget: int, minimum: int, maximum: int) -> int:
    """The window for a request: prompt + output budget + margin, rounded up, within limits."""
    needed = prompt_tokens + output_budget + NUM_CTX_MARGIN
    num_ctx = max(minimum, math.ceil(needed / NUM_CTX_STEP) * NUM_CTX_STEP)
    if num_ctx > maximum:
        raise ContextOverflowError(
            f"the prompt needs a {num_ctx}-token window (about {prompt_tokens} prompt + "
            f"{output_budget} output tokens) but ollama.num_ctx_max is {maximum}",
            "shrink the item (fewer files or symbols in its context), or raise "
            "ollama.num_ctx_max if the model supports a longer context")
    return num_ctx


def map_ollama_error(exc: BaseException, host: str, model: str, timeout_s: float) -> ModelError:
    """Translate anything the ollama client or httpx raised into the project's errors."""
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        status, message = exc.status_code, str(exc.error)
        if status == 404 or ("not found" in message and "model" in message):
            return ModelNotFoundError(f"model {model} is not pulled on {host}",
                                      f"run `ollama pull {model}`")
        if "context length" in message:
            return ContextOverflowError(f"Ollama at {host} refused the prompt: {message}",
                                        "shrink the item, or raise ollama.num_ctx_max")
        if status in (401, 403):
            return AuthenticationError(
                f"Ollama at {host} refused the request ({status}): {message}",
                "set OLLAMA_API_KEY if the server requires a key")
        if status == 429:
            return RateLimitedError(f"Ollama at {host} is rate limiting: {message}",
                                    "wait a moment, or lower `parallel` in the config")
        if status in (502, 503, 504):
            return OverloadedError(
                f"Ollama at {host} is busy ({status}): {message}",
                "wait, lower `parallel`, or raise OLLAMA_MAX_QUEUE on the server")
        if status >= 500 or status < 0:
            return ModelError(f"Ollama at {host} failed running {model}: {message}",
                              "see the server log; a smaller model or ollama.num_ctx_max may fit "
                              "the GPU memory")
        return ModelError(f"Ollama at {host} rejected the request ({status}): {message}",
                          f"check the options configured for {model}")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError)):
        return BackendUnavailableError(f"cannot reach Ollama at {host}", START_HINT)
    if isinstance(exc, httpx.TimeoutException):
        return ModelTimeoutError(f"{model} on {host} gave no answer within {timeout_s:g} s",
                                 "raise ollama.timeout_s, or split the item into smaller ones")
    if isinstance(exc, httpx.TransportError):
        return BackendUnavailableError(
            f"Ollama at {host} closed the connection mid-response ({exc})",
            "the server may have crashed or run out of memory: check its log, then retry")
    return ModelError(f"Ollama at {host} sent a malformed response: {exc}",
                      "check that OLLAMA_HOST points at an Ollama server, not another service")


class OllamaBackend(Backend):
    name = "ollama"
    is_local = True
    can_stream = True
    supports_schema = True

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        super().__init__(spec, settings)
        self._client: ollama.Client | None = None
        self._lock = threading.Lock()
        self._pulled = False
        self._trained_ctx: int | None = None  # the model's own limit, from /api/show
        # Never shrink the window within a run: each change reloads the model (see NUM_CTX_STEP).
        self._num_ctx_floor = 0
        # Prompts recently sent, to recognise KV-cache reuse in the truncation check.
        self._recent: deque[str] = deque(maxlen=8)

    @property
    def host(self) -> str:
        return base_url(self.settings.ollama.host)

    def _get_client(self) -> ollama.Client:
        with self._lock:
            if self._client is None:
                import ollama

                self._client = ollama.Client(host=self.host, timeout=self.settings.ollama.timeout_s)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _error(self, exc: BaseException, timeout_s: float | None = None) -> ModelError:
        return map_ollama_error(exc, self.host, self.model,
                                timeout_s or self.settings.ollama.timeout_s)

    @staticmethod
    def _caught() -> tuple[type[BaseException], ...]:
        """What the client raises for server, network and payload trouble (not our own bugs)."""
        import json

        import httpx
        import ollama
        import pydantic

        return (ollama.ResponseError, httpx.HTTPError, ConnectionError, json.JSONDecodeError,
                pydantic.ValidationError)

    # ------------------------------------------------------------------ the call

    def complete(self, request: ModelRequest,
                 on_progress: ProgressCallback | None = None) -> ModelResult:
        budget = request.max_tokens or self.spec.max_output_tokens
        prompt = request.prompt_text()
        messages = self._messages(request)
        estimate = estimate_tokens(prompt) + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)
        num_ctx = self._num_ctx(estimate, budget)  # raises before any network call
        self._ensure_pulled()
        if self._trained_ctx and num_ctx > self._trained_ctx:
            # Recent servers clamp num_ctx to the trained length and then cut the prompt.
            raise ContextOverflowError(
                f"the prompt needs a {num_ctx}-token window but {self.model} was trained for "
                f"{self._trained_ctx} tokens",
                "shrink the item, or route it to a model with a longer context")

        kwargs: dict[str, Any] = {"model": self.model, "messages": messages,
                                  "options": self._options(num_ctx, budget)}
        if request.schema is not None:
            kwargs["format"] = request.schema.model_json_schema()
        client = self._get_client()
        started = time.monotonic()
        try:
            if on_progress is None:
                final = client.chat(**kwargs, stream=False)
                text = final.message.content or ""
            else:
                text, final = self._stream(client, kwargs, on_progress)
        except self._caught() as exc:
            raise self._error(exc) from exc
        latency_ms = int((time.monotonic() - started) * 1000)

        usage = Usage(input_tokens=final.prompt_eval_count or 0,
                      output_tokens=final.eval_count or 0)
        self._check_window(prompt, len(messages), final, num_ctx, budget, usage)
        with self._lock:
            self._recent.append(prompt)
            self._num_ctx_floor = max(self._num_ctx_floor, num_ctx)  # raised only once it worked
        parsed = (parse_output(request.schema, text, self.model, usage)
                  if request.schema else None)
        extra = {key: getattr(final, key) for key in (
            "prompt_eval_count", "eval_count", "total_duration", "load_duration",
            "prompt_eval_duration", "eval_duration")}
        extra["num_ctx"] = num_ctx
        return ModelResult(
            text=text, usage=usage, model=self.model, backend=self.name, latency_ms=latency_ms,
            parsed=parsed, stop_reason=final.done_reason, extra=extra)

    def _messages(self, request: ModelRequest) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": request.system_text}] \
            if request.system_text else []
        messages += [{"role": m.role, "content": m.text} for m in request.messages]
        return messages

    def _num_ctx(self, estimate: int, budget: int) -> int:
        cfg = self.settings.ollama
        wanted = int(self.spec.options.get("num_ctx") or 0)  # a configured window is a minimum
        num_ctx = plan_num_ctx(estimate, budget, max(cfg.num_ctx_min, wanted), cfg.num_ctx_max)
        with self._lock:
            return max(num_ctx, self._num_ctx_floor)

    def _options(self, num_ctx: int, budget: int) -> dict[str, Any]:
        options = dict(self.spec.options)
        options.update(num_ctx=num_ctx, num_predict=budget)
        if self.spec.temperature is not None:
            options["temperature"] = self.spec.temperature
        return options

    def _stream(self, client: ollama.Client, kwargs: dict[str, Any],
                on_progress: ProgressCallback) -> tuple[str, Any]:
        parts: list[str] = []
        final = None
        for chunk in client.chat(**kwargs, stream=True):
            delta = chunk.message.content or ""
            if delta:
                parts.append(delta)
                # Ollama sends about one token per chunk; the exact count comes with the end.
                on_progress(Progress(output_tokens=len(parts), delta=delta))
            if chunk.done:
                final = chunk
        if final is None:
            raise BackendUnavailableError(
                f"Ollama at {self.host} ended the stream without its final chunk",
                "the server may have crashed: check its log, then retry")
        on_progress(Progress(output_tokens=final.eval_count or len(parts)))
        return "".join(parts), final

    # ------------------------------------------------------------------ truncation check

    def _check_window(self, prompt: str, n_messages: int, final: Any, num_ctx: int,
                      budget: int, usage: Usage) -> None:
        """Fail when the server evidently read less of the prompt than we sent.

        How ``prompt_eval_count`` behaves with Ollama's KV-cache reuse: before 0.1.48 a prompt
        served wholly or partly from the cache came back with the field missing or counting only
        the newly evaluated tokens (ollama#2068, #3427, #5370). PR #5371 (mid-2024) made it
        count the whole prompt regardless of the cache, and the runners since set it to the
        prompt's length *after* their own truncation — which is exactly what reveals a cut. So:
        a missing/zero count proves nothing and passes; a count below the safe lower bound fails,
        unless it fits a cache-only count of what follows a prefix we sent recently.
        """
        count = final.prompt_eval_count
        if not count:
            return
        tip = (f"the server may allow less than num_ctx: check `ollama show {self.model}`, "
               "then lower ollama.num_ctx_max to the model's context length, or shrink the item")
        if count >= num_ctx:
            raise ContextOverflowError(
                f"Ollama evaluated {count} prompt tokens for {self.model}, filling the whole "
                f"{num_ctx}-token window: the front of the prompt was cut", tip, usage=usage)
        floor = int(len(prompt) / MAX_CHARS_PER_TOKEN)
        if count < floor and not self._cache_explains(prompt, n_messages, count):
            raise ContextOverflowError(
                f"Ollama evaluated only {count} prompt tokens for {self.model}, but the prompt "
                f"has at least {floor}: the server cut it (its window is evidently smaller than "
                f"the num_ctx={num_ctx} we sent)", tip, usage=usage)
        if final.done_reason == "length" and final.eval_count is not None \
                and final.eval_count < budget:
            raise ContextOverflowError(
                f"the {num_ctx}-token window filled up after {final.eval_count} of {budget} "
                f"output tokens from {self.model}: the answer is incomplete", tip, usage=usage)

    def _cache_explains(self, prompt: str, n_messages: int, count: int) -> bool:
        with self._lock:
            shared = max((len(os.path.commonprefix([prompt, p])) for p in self._recent), default=0)
        if shared == 0:
            return False
        uncached = len(prompt) - shared
        return count <= uncached / MIN_CHARS_PER_TOKEN + TEMPLATE_TOKENS_PER_MESSAGE * n_messages

    # ------------------------------------------------------------------ pulled? healthy?

    def _ensure_pulled(self) -> None:
        if self._pulled:
            return
        try:
            info = self._get_client().show(self.model).modelinfo or {}
        except self._caught() as exc:
            raise self._error(exc) from exc
        lengths = [v for k, v in info.items()
                   if k.endswith(".context_length") and isinstance(v, int)]
        self._trained_ctx = max(lengths, default=None)
        self._pulled = True

    def health(self) -> list[HealthCheck]:
        import httpx
        import ollama

        host, model = self.host, self.model
        try:
            with httpx.Client(base_url=host, timeout=HEALTH_TIMEOUT_S) as http:
                response = http.get("/api/version")
                response.raise_for_status()
                version = str(response.json().get("version", "unknown"))
        except (httpx.HTTPError, ValueError):
            return [HealthCheck("Ollama server", False, f"cannot reach Ollama at {host}",
                                START_HINT),
                    HealthCheck(f"model {model}", False, "not checked: the server is unreachable",
                                START_HINT)]
        checks = [HealthCheck("Ollama server", True, f"Ollama {version} at {host}")]
        try:
            with ollama.Client(host=host, timeout=HEALTH_TIMEOUT_S) as client:
                listing = client.list()
        except self._caught() as exc:
            error = self._error(exc, HEALTH_TIMEOUT_S)
            return [*checks, HealthCheck(f"model {model}", False, error.message, error.hint)]
        sizes = {_with_tag(m.model or ""): m.size for m in listing.models}
        size = sizes.get(_with_tag(model))
        if size is None:
            checks.append(HealthCheck(f"model {model}", False, f"{model} is not pulled on {host}",
                                      f"run `ollama pull {model}`"))
        else:
            checks.append(HealthCheck(f"model {model}", True,
                                      f"{model} pulled ({int(size) / 1e9:.1f} GB)"))
        return checks
