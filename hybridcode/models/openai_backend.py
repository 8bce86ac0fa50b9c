"""An OpenAI-compatible endpoint (vLLM, llama.cpp server, LM Studio, Ollama's ``/v1``) through the
official ``openai`` SDK: the route for a team that serves the local tier from a shared GPU box.

The protocol cannot size the context window per request. vLLM and llama.cpp reject a prompt that
does not fit, but Ollama's ``/v1`` cuts it silently, so the same lower-bound check as the native
Ollama backend runs on ``usage.prompt_tokens`` here too.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from hybridcode.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigError,
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
from hybridcode.models.ollama_backend import MAX_CHARS_PER_TOKEN

if TYPE_CHECKING:
    import openai

    from hybridcode.config import ModelSpec, Settings

HEALTH_TIMEOUT_S = 3.0
BASE_URL_HINT = "set HYBRID_OPENAI_BASE_URL or openai.base_url, e.g. http://gpu-box:8000/v1"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's errors: a dropped stream surfaces raw, not wrapped by the SDK.
    Recent SDKs ship their own fork (``httpx2``); older ones use ``httpx``."""
    import json

    import httpx

    errors: list[type[BaseException]] = [httpx.HTTPError, json.JSONDecodeError]
    try:
        import httpx2  # type: ignore[import-not-found]

        errors.append(httpx2.HTTPError)
    except ImportError:
        pass
    return tuple(errors)


def map_openai_error(exc: BaseException, base_url: str, model: str, timeout_s: float) -> ModelError:
    """Translate anything the openai SDK (or its HTTP stack) raised into the project's errors."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ModelTimeoutError(f"{model} at {base_url} gave no answer within {timeout_s:g} s",
                                 "raise openai.timeout_s, or split the item into smaller ones")
    if isinstance(exc, openai.APIConnectionError):
        # The SDK wraps a stream cut off mid-body in the same error as a refused connection; the
        # cause tells them apart (matched by name: httpx and its fork httpx2 both define it).
        if type(exc.__cause__).__name__ in ("RemoteProtocolError", "ReadError"):
            return BackendUnavailableError(
                f"{base_url} closed the connection mid-response ({exc.__cause__})",
                "the server may have crashed: check its log, then retry")
        return BackendUnavailableError(
            f"cannot reach the OpenAI-compatible server at {base_url}",
            "start the server (vLLM, llama.cpp, LM Studio, `ollama serve`), or fix "
            "HYBRID_OPENAI_BASE_URL / openai.base_url")
    if isinstance(exc, openai.APIStatusError):
        status, message = exc.status_code, exc.message
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return AuthenticationError(f"{base_url} refused the key ({status}): {message}",
                                       "set HYBRID_OPENAI_API_KEY or openai.api_key")
        if isinstance(exc, openai.NotFoundError):
            return ModelNotFoundError(
                f"model {model} is not served at {base_url}",
                f"list the served ids with `curl {base_url}/models` and fix the tier's model "
                f"(on Ollama: `ollama pull {model}`)")
        if isinstance(exc, openai.RateLimitError):
            return RateLimitedError(f"{base_url} is rate limiting: {message}",
                                    "wait a moment, or lower `parallel` in the config")
        if "context" in message.lower() and status in (400, 413, 422):
            return ContextOverflowError(f"{base_url} refused the prompt: {message}",
                                        "shrink the item, or serve the model with a longer context")
        if status in (502, 503, 504, 529):
            return OverloadedError(f"{base_url} is busy ({status}): {message}",
                                   "wait and retry, or lower `parallel` in the config")
        return ModelError(f"{base_url} failed ({status}) running {model}: {message}",
                          "see the server's log")
    if isinstance(exc, openai.APIError):  # e.g. a response body that is not valid JSON
        return ModelError(f"{base_url} sent a malformed response: {exc}",
                          "check that the base URL points at an OpenAI-compatible /v1 endpoint")
    if isinstance(exc, ValueError):  # JSON decoding of a stream event
        return ModelError(f"{base_url} sent a malformed stream event: {exc}",
                          "check that the base URL points at an OpenAI-compatible /v1 endpoint")
    return BackendUnavailableError(f"{base_url} closed the connection mid-response ({exc})",
                                   "the server may have crashed: check its log, then retry")


class OpenAICompatBackend(Backend):
    name = "openai"
    is_local = True
    can_stream = True
    supports_schema = True

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        super().__init__(spec, settings)
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        base = self.settings.openai.base_url
        if not base:
            raise ConfigError(f"no OpenAI-compatible endpoint is configured for {self.model}",
                              BASE_URL_HINT)
        return base.rstrip("/")

    def _new_client(self, timeout_s: float, max_retries: int) -> openai.OpenAI:
        import openai

        key = self.settings.openai.api_key
        return openai.OpenAI(base_url=self.base_url,
                             api_key=key.get_secret_value() if key else "not-needed",
                             timeout=timeout_s, max_retries=max_retries)

    def _get_client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                cfg = self.settings.openai
                self._client = self._new_client(cfg.timeout_s, cfg.max_retries)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _error(self, exc: BaseException, timeout_s: float | None = None) -> ModelError:
        return map_openai_error(exc, self.base_url, self.model,
                                timeout_s or self.settings.openai.timeout_s)

    @staticmethod
    def _caught() -> tuple[type[BaseException], ...]:
        import openai

        return (openai.APIError, *_transport_errors())

    # ------------------------------------------------------------------ the call

    def complete(self, request: ModelRequest,
                 on_progress: ProgressCallback | None = None) -> ModelResult:
        client = self._get_client()  # ConfigError first when no base URL is set
        budget = request.max_tokens or self.spec.max_output_tokens
        messages: list[dict[str, str]] = (
            [{"role": "system", "content": request.system_text}] if request.system_text else [])
        messages += [{"role": m.role, "content": m.text} for m in request.messages]
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": budget}
        if self.spec.temperature is not None:
            kwargs["temperature"] = self.spec.temperature
        if self.spec.options:  # server-specific sampling knobs (top_k, min_p, ...) pass through
            kwargs["extra_body"] = dict(self.spec.options)
        if request.schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": request.schema.__name__, "schema": request.schema.model_json_schema(),
                "strict": False}}

        started = time.monotonic()
        try:
            if on_progress is None:
                response = client.chat.completions.create(**kwargs)
                choice = response.choices[0] if response.choices else None
                text = (choice.message.content if choice else None) or ""
                finish, usage = (choice.finish_reason if choice else None), response.usage
            else:
                text, finish, usage = self._stream(client, kwargs, on_progress)
        except self._caught() as exc:
            raise self._error(exc) from exc
        latency_ms = int((time.monotonic() - started) * 1000)

        prompt = request.prompt_text()
        result_usage, extra = self._usage(usage, prompt, text)
        self._check_prompt_read(prompt, usage.prompt_tokens if usage else 0, result_usage)
        parsed = (parse_output(request.schema, text, self.model, result_usage)
                  if request.schema else None)
        return ModelResult(text=text, usage=result_usage, model=self.model, backend=self.name,
                           latency_ms=latency_ms, parsed=parsed, stop_reason=finish, extra=extra)

    def _stream(self, client: openai.OpenAI, kwargs: dict[str, Any],
                on_progress: ProgressCallback) -> tuple[str, str | None, Any]:
        parts: list[str] = []
        finish: str | None = None
        usage = None
        stream = client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True})
        with stream:
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        parts.append(delta)
                        on_progress(Progress(output_tokens=len(parts), delta=delta))
        on_progress(Progress(output_tokens=usage.completion_tokens if usage else len(parts)))
        return "".join(parts), finish, usage

    def _usage(self, usage: Any, prompt: str, text: str) -> tuple[Usage, dict[str, Any]]:
        if usage is None:  # servers that ignore include_usage: estimate, and say so
            estimated = Usage(input_tokens=estimate_tokens(prompt),
                              output_tokens=estimate_tokens(text))
            return estimated, {"usage_estimated": True}
        details = getattr(usage, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
        # OpenAI's prompt_tokens includes cached tokens; Usage.input_tokens is uncached only.
        return (Usage(input_tokens=max(0, usage.prompt_tokens - cached),
                      output_tokens=usage.completion_tokens, cache_read_tokens=cached),
                {"prompt_tokens": usage.prompt_tokens,
                 "completion_tokens": usage.completion_tokens})

    def _check_prompt_read(self, prompt: str, prompt_tokens: int, usage: Usage) -> None:
        # prompt_tokens counts cached tokens too, so a cache hit cannot lower it; 0 (old Ollama
        # on a cached prompt, ollama#5370) proves nothing.
        floor = int(len(prompt) / MAX_CHARS_PER_TOKEN)
        if prompt_tokens and prompt_tokens < floor:
            raise ContextOverflowError(
                f"{self.base_url} read only {prompt_tokens} prompt tokens of {self.model}'s "
                f"prompt, which has at least {floor}: the server cut it",
                "serve the model with a longer context (on Ollama set OLLAMA_CONTEXT_LENGTH, or "
                "use backend = \"ollama\", which sizes num_ctx per request), or shrink the item",
                usage=usage)

    # ------------------------------------------------------------------ health

    def health(self) -> list[HealthCheck]:
        label = f"model {self.model}"
        try:
            base = self.base_url
        except ConfigError as exc:
            return [HealthCheck(label, False, exc.message, exc.hint)]
        try:
            with self._new_client(HEALTH_TIMEOUT_S, 0) as client:
                served = [m.id for m in client.models.list()]
        except self._caught() as exc:
            error = self._error(exc, HEALTH_TIMEOUT_S)
            return [HealthCheck(label, False, error.message, error.hint)]
        if self.model not in served:
            shown = ", ".join(served[:5]) or "none"
            return [HealthCheck(label, False, f"{self.model} is not served at {base} "
                                f"(served: {shown})", "fix the tier's model id, or load the model "
                                "on the server")]
        return [HealthCheck(label, True, f"{self.model} served at {base}")]
