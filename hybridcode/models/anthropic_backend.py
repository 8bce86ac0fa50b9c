"""Claude through the official ``anthropic`` SDK.

What this module adds to a plain ``messages.create``:

- cache breakpoints: a :class:`Block` with ``cache=True`` gets ``cache_control`` so the stable
  prefix (instructions, schema, repository map, architecture note) is written once and read
  cheaply after. A breakpoint whose prefix is shorter than the model's minimum cacheable
  length is silently not cached by the API; each call records in its ledger ``extra`` how
  many breakpoints it sent, how many fell short by estimate, the minimum, and whether the
  reply showed no cache activity at all (``cache_uncached``) — ``hybrid stats`` reports them;
- structured output through the API's JSON-schema output (``output_config.format``), validated
  here with pydantic, with exactly one repair round that quotes the validation errors;
- streaming with progress callbacks;
- one place (:func:`map_error`) that turns SDK and transport exceptions into project errors.

Retries are the SDK's own (408/409/429/5xx/529, honouring ``retry-after``), with one addition:
a stream that breaks after it started — cut short, its connection lost, or an overloaded/server
error event mid-reply — is past the SDK's retry loop (which ends when the response headers
arrive), so it is retried here under the same policy: at most ``anthropic.max_retries`` more
times, with the SDK's backoff. What each broken stream was billed stays on the call's usage.
The registry imports this module lazily, so ``hybrid --help`` never loads the SDK.
"""

from __future__ import annotations

import importlib
import json
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import anthropic
from pydantic import ValidationError

from hybridcode.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ContextOverflowError,
    ModelError,
    ModelNotFoundError,
    ModelTimeoutError,
    OutputFormatError,
    OverloadedError,
    RateLimitedError,
)
from hybridcode.models.base import (
    CHARS_PER_TOKEN,
    Backend,
    Block,
    HealthCheck,
    ModelRequest,
    ModelResult,
    Progress,
    ProgressCallback,
    Usage,
)
from hybridcode.models.credentials import (DEFAULT_ANTHROPIC_URL, anthropic_key,
                                           anthropic_key_check)
from hybridcode.models.pricing import configured_ttl
from hybridcode.prompts import load_prompt

if TYPE_CHECKING:
    from pydantic import BaseModel

    from hybridcode.config import ModelSpec, Settings

DEFAULT_BASE_URL = DEFAULT_ANTHROPIC_URL
# The API accepts at most four cache_control breakpoints per request. A later breakpoint
# caches everything before it, so when more blocks ask for one the last four are kept.
MAX_CACHE_BREAKPOINTS = 4


def _http_errors(attr: str) -> tuple[type[BaseException], ...]:
    """The SDK's HTTP stack raises its own errors when a stream breaks mid-reply (after the
    SDK's retry loop has handed the body over). SDK 2.x uses ``httpx2``, older ones ``httpx``."""
    found: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(getattr(importlib.import_module(name), attr))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_TRANSPORT_ERRORS = _http_errors("TransportError")
_TRANSPORT_TIMEOUTS = _http_errors("TimeoutException")


class _NotAMessage(Exception):
    """A stream that carried no message events; turned into a ModelError by ``_send``."""


class _StreamBroke(Exception):
    """A stream that broke after it started: it ended before the message was complete (no
    stop reason; ``error`` is None), or its connection or the API failed mid-reply (``error``).
    ``usage``: what the partial message says was billed."""

    def __init__(self, usage: Usage, error: BaseException | None = None) -> None:
        super().__init__("stream ended early")
        self.usage = usage
        self.error = error


# The SDK's backoff between retries (anthropic._constants: 0.5 s doubling, at most 8 s, with up
# to 25% jitter off), for the streams it cannot retry itself.
RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
# Error events that the SDK retries when they come as a status: overloaded (529), server error.
_TRANSIENT_ERROR_TYPES = frozenset({"overloaded_error", "api_error"})


class AnthropicBackend(Backend):
    name = "anthropic"
    can_stream = True
    supports_schema = True
    supports_cache = True

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        super().__init__(spec, settings)
        self._client: anthropic.Anthropic | None = None
        self._lock = threading.Lock()  # parallel items share one backend and its client

    @property
    def base_url(self) -> str:
        return self.settings.anthropic.base_url or DEFAULT_BASE_URL

    # ------------------------------------------------------------------ client lifecycle
    def _api_key(self) -> str:
        return anthropic_key(self.settings)

    def _get_client(self) -> anthropic.Anthropic:
        key = self._api_key()  # before any network activity
        with self._lock:
            if self._client is None:
                cfg = self.settings.anthropic
                # base_url is always passed so the SDK never falls back to os.environ on its
                # own: the settings already merged ANTHROPIC_BASE_URL with the config files.
                self._client = anthropic.Anthropic(
                    api_key=key, base_url=self.base_url, timeout=cfg.timeout_s,
                    max_retries=cfg.max_retries,
                )
            return self._client

    def close(self) -> None:
        """Release the HTTP connection pool."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> AnthropicBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def complete(
        self, request: ModelRequest, on_progress: ProgressCallback | None = None
    ) -> ModelResult:
        client = self._get_client()
        started = time.monotonic()
        ttl = configured_ttl(self.settings, request.cache_ttl)
        params = self._params(request, ttl)
        messages = [_message_param(m.role, m.content, ttl) for m in request.messages]
        _cap_breakpoints(params, messages)
        cache_facts = self._cache_facts(params, messages, ttl)
        response, usage = self._send(client, {**params, "messages": messages}, on_progress)
        text = response_text(response)
        if cache_facts.get("cache_breakpoints"):
            cache_facts["cache_uncached"] = not (usage.cache_write_tokens
                                                 or usage.cache_read_tokens)
        parsed = None
        repairs = 0
        if request.schema is not None:
            parsed, errors = _validate(request.schema, text)
            if errors is not None:
                # One repair round: show the model its own output and the exact errors.
                repairs = 1
                first_text = text
                messages = [
                    *messages,
                    {"role": "assistant", "content": text or "(empty reply)"},
                    {"role": "user", "content": _repair_prompt(request.schema, errors)},
                ]
                try:
                    response, more = self._send(client, {**params, "messages": messages},
                                                on_progress)
                except ModelError as exc:
                    # The first answer was paid for too.
                    spent = exc.usage if isinstance(exc.usage, Usage) else Usage()
                    _add_usage(spent, usage)
                    exc.usage = spent
                    raise
                text = response_text(response)
                _add_usage(usage, more)
                parsed, errors = _validate(request.schema, text)
                if errors is not None:
                    raise OutputFormatError(
                        f"{self.model} returned output that does not match "
                        f"{request.schema.__name__} after one repair round: "
                        f"{errors.splitlines()[0]}",
                        _format_hint(response.stop_reason),
                        raw=text,
                        usage=usage,
                        answers=[first_text, text],
                    )
        return ModelResult(
            text=text,
            usage=usage,
            model=response.model,
            backend=self.name,
            latency_ms=int((time.monotonic() - started) * 1000),
            parsed=parsed,
            stop_reason=response.stop_reason,
            extra={"repairs": repairs, "message_id": response.id, **cache_facts},
        )

    def _cache_facts(self, params: dict[str, Any], messages: list[dict[str, Any]],
                     ttl: str) -> dict[str, Any]:
        """Breakpoints sent, and how many sit after a prefix shorter (by estimate) than the
        model's minimum cacheable length — the ones the API will silently not cache."""
        sizes = _breakpoint_prefix_tokens(params, messages)
        if not sizes:
            return {}
        price = self.settings.price_for(self.model)
        minimum = price.min_cache_tokens if price is not None else 0
        return {"cache_breakpoints": len(sizes), "cache_ttl": ttl,
                "cache_min_tokens": minimum,
                "cache_short_breakpoints": sum(1 for n in sizes if n < minimum)}

    def _params(self, request: ModelRequest, ttl: str = "5m") -> dict[str, Any]:
        """Everything but the messages. ``spec.options`` go into the body verbatim (e.g.
        ``top_p`` or ``thinking``), so new API fields need no code change here."""
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens or self.spec.max_output_tokens,
        }
        system = _content_param(request.system, ttl)
        if system:
            params["system"] = system
        if request.schema is not None:
            # JSON-schema output, not a forced tool: the newest models reject forced tool use.
            # transform_schema rewrites constraints the API does not enforce into descriptions;
            # pydantic enforces them on our side.
            params["output_config"] = {"format": {
                "type": "json_schema", "schema": anthropic.transform_schema(request.schema)}}
        extra = dict(self.spec.options)
        if self.spec.temperature is not None:
            # SDK 1.0 removed the sampling keywords (newer models reject them); models that
            # still accept one take it through the body, as the SDK's migration guide says.
            extra["temperature"] = self.spec.temperature
        if extra:
            params["extra_body"] = extra
        return params

    def _send(self, client: anthropic.Anthropic, params: dict[str, Any],
              on_progress: ProgressCallback | None) -> tuple[Any, Usage]:
        """The response and the usage to record for it: its own, plus what every broken
        stream retried before it was billed."""
        retries = self.settings.anthropic.max_retries
        lost = Usage()
        for attempt in range(retries + 1):
            try:
                if on_progress is None:
                    response = client.messages.create(**params)
                else:
                    response = _stream(client, params, on_progress)
            except (anthropic.AnthropicError, json.JSONDecodeError, *_TRANSPORT_ERRORS) as exc:
                error = map_error(exc, self)
                error.usage = _billed(lost)
                raise error from exc
            except _NotAMessage:
                response = None
            except _StreamBroke as broke:
                _add_usage(lost, broke.usage)  # what streamed was billed: keep it for the ledger
                if attempt < retries:
                    time.sleep(_retry_delay(attempt))
                    continue
                raise self._broken_stream_error(broke, lost, retries) from broke.error
            break
        if not isinstance(response, anthropic.types.Message):
            # The SDK hands back raw text when the server's reply is not JSON (a proxy page).
            raise ModelError(f"the Anthropic API at {self.base_url} did not return a message",
                             "check ANTHROPIC_BASE_URL points at the Messages API",
                             usage=_billed(lost))
        usage = usage_of(response)
        _add_usage(usage, lost)
        return response, usage

    def _broken_stream_error(self, broke: _StreamBroke, lost: Usage,
                             retries: int) -> ModelError:
        after = f" ({retries} {'retry' if retries == 1 else 'retries'} broke too)" \
            if retries else ""
        if isinstance(broke.error, (anthropic.APIConnectionError, *_TRANSPORT_ERRORS)):
            return BackendUnavailableError(
                f"the connection to the Anthropic API at {self.base_url} broke mid-reply{after}",
                "re-run; completed work is kept (check your network or ANTHROPIC_BASE_URL; "
                "anthropic.max_retries sets how often a broken stream is retried)", usage=lost)
        if broke.error is not None:
            error = map_error(broke.error, self)
            error.message += after
            error.args = (error.message,)
            error.usage = lost
            return error
        return BackendUnavailableError(
            f"the stream from the Anthropic API at {self.base_url} ended before the answer "
            f"was complete{after}", "re-run; completed work is kept (check your network, "
            "ANTHROPIC_BASE_URL or a proxy that cuts long responses; anthropic.max_retries "
            "sets how often a broken stream is retried)", usage=lost)

    # ------------------------------------------------------------------ doctor
    def health(self) -> list[HealthCheck]:
        return [anthropic_key_check(self.settings)]

    def ping(self) -> HealthCheck:
        """One paid token: proves the key, the network path and the model id (doctor --online)."""
        name = f"anthropic:{self.model}"
        started = time.monotonic()
        one_off = self._client is None  # doctor makes a backend per check and drops it
        try:
            response, _ = self._send(self._get_client(), {
                "model": self.model, "max_tokens": 1,
                "messages": [{"role": "user", "content": "ping"}]}, None)
        except ModelError as exc:
            return HealthCheck(name, False, exc.message, hint=exc.hint)
        finally:
            if one_off:
                self.close()
        ms = int((time.monotonic() - started) * 1000)
        return HealthCheck(name, True, f"{response.model} answered in {ms} ms")


# ---------------------------------------------------------------------- request building

def _content_param(content: str | tuple[Block, ...], ttl: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for block in content:
        if not block.text:
            continue  # the API rejects empty text blocks
        param: dict[str, Any] = {"type": "text", "text": block.text}
        if block.cache:
            param["cache_control"] = (
                {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"})
        out.append(param)
    return out


def _cap_breakpoints(params: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    """Keep only the last MAX_CACHE_BREAKPOINTS across the whole request (system first, then
    the messages in order): the API rejects more, and a later breakpoint covers the prefix."""
    contents = [params.get("system"), *(m["content"] for m in messages)]
    marked = [block for content in contents if isinstance(content, list)
              for block in content if "cache_control" in block]
    for block in marked[:-MAX_CACHE_BREAKPOINTS]:
        del block["cache_control"]


def _breakpoint_prefix_tokens(params: dict[str, Any],
                              messages: list[dict[str, Any]]) -> list[int]:
    """Estimated tokens of the prefix before each breakpoint, in request order (system, then
    messages). The estimate is models.base.estimate_tokens's conservative one."""
    sizes: list[int] = []
    chars = 0
    contents = [params.get("system"), *(m["content"] for m in messages)]
    for content in contents:
        if isinstance(content, str):
            chars += len(content)
            continue
        for block in content or []:
            chars += len(block.get("text", ""))
            if "cache_control" in block:
                sizes.append(int(chars / CHARS_PER_TOKEN))
    return sizes


def _message_param(role: str, content: str | tuple[Block, ...], ttl: str) -> dict[str, Any]:
    return {"role": role, "content": _content_param(content, ttl)}


def _stream(client: anthropic.Anthropic, params: dict[str, Any],
            on_progress: ProgressCallback) -> Any:
    chars = 0
    started = False
    with client.messages.stream(**params) as stream:
        try:
            for event in stream:
                started = started or event.type == "message_start"
                if event.type == "text" and event.text:  # thinking deltas are not the answer
                    chars += len(event.text)
                    on_progress(Progress(output_tokens=int(chars / CHARS_PER_TOKEN) + 1,
                                         delta=event.text))
        except (anthropic.APIStatusError, anthropic.APIConnectionError,
                *_TRANSPORT_ERRORS) as exc:
            # The SDK wraps a connection lost mid-stream as APIConnectionError (2.x) or lets
            # the HTTP stack's error through (older); a timeout is not retried again.
            if not started or isinstance(exc, (anthropic.APITimeoutError,
                                               *_TRANSPORT_TIMEOUTS)) or (
                    isinstance(exc, anthropic.APIStatusError)
                    and _api_error_type(exc) not in _TRANSIENT_ERROR_TYPES):
                raise
            raise _StreamBroke(usage_of(stream.current_message_snapshot), exc) from exc
        if not started:
            # Not an event stream at all (e.g. a proxy's page); the SDK would only assert.
            raise _NotAMessage()
        message = stream.get_final_message()
    if message.stop_reason is None:
        # The stream ended without an error but before message_delta/message_stop: the SDK
        # hands back the partial message. It is a broken transport, not the model's answer.
        raise _StreamBroke(usage_of(message))
    return message


def _billed(usage: Usage) -> Usage | None:
    """``usage`` when it counts any token, else None (nothing was billed)."""
    return usage if (usage.input_tokens or usage.output_tokens or usage.cache_write_tokens
                     or usage.cache_read_tokens) else None


def _retry_delay(attempt: int) -> float:
    """The SDK's backoff before retry ``attempt + 1`` (it honours no retry-after here: a
    broken stream carries none)."""
    return min(RETRY_DELAY_S * 2 ** attempt, MAX_RETRY_DELAY_S) * (1 - 0.25 * random.random())


# ---------------------------------------------------------------------- response reading

def response_text(response: Any) -> str:
    """The answer's text: text blocks only (a reply may open with thinking blocks)."""
    return "".join(block.text for block in response.content if block.type == "text")


def usage_of(response: Any) -> Usage:
    u = response.usage
    return Usage(
        input_tokens=u.input_tokens or 0,
        output_tokens=u.output_tokens or 0,
        cache_write_tokens=u.cache_creation_input_tokens or 0,
        cache_read_tokens=u.cache_read_input_tokens or 0,
    )


def _add_usage(total: Usage, more: Usage) -> None:
    total.input_tokens += more.input_tokens
    total.output_tokens += more.output_tokens
    total.cache_write_tokens += more.cache_write_tokens
    total.cache_read_tokens += more.cache_read_tokens


def _validate(schema: type[BaseModel], text: str) -> tuple[Any, str | None]:
    """(object, None) when valid, else (None, the errors one per line as ``location: problem``)."""
    try:
        return schema.model_validate_json(text), None
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"- {where}: {err['msg']}")
        return None, "\n".join(lines)


def _repair_prompt(schema: type[BaseModel], errors: str) -> str:
    template = load_prompt("repair_schema.md")
    # str.replace, not str.format: the errors may quote JSON with braces in it.
    return template.replace("{schema_name}", schema.__name__).replace("{errors}", errors)


def _format_hint(stop_reason: str | None) -> str:
    if stop_reason == "max_tokens":
        return "the reply was cut at max_tokens; raise max_output_tokens for this tier"
    return "re-run the step; if it keeps failing, use a stronger model for this tier"


# ---------------------------------------------------------------------- errors

def _api_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or "")
    return str(body or exc.message)


def _api_error_type(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type") or "")
    return ""


def map_error(exc: BaseException, backend: AnthropicBackend) -> ModelError:
    """The project error for an SDK or transport exception. The key is scrubbed from anything
    the server echoed back, so no message can leak it."""
    error = _map(exc, backend)
    secret = backend.settings.anthropic.api_key
    key = secret.get_secret_value() if secret is not None else ""
    if key:
        error.message = error.message.replace(key, "[redacted]")
        error.args = (error.message,)
    return error


def _map(exc: BaseException, backend: AnthropicBackend) -> ModelError:
    cfg = backend.settings.anthropic
    retries = f"after {cfg.max_retries} retries"
    url = backend.base_url
    if isinstance(exc, (anthropic.APITimeoutError, *_TRANSPORT_TIMEOUTS)):
        return ModelTimeoutError(
            f"Anthropic did not answer within {cfg.timeout_s:g} s ({retries})",
            "raise anthropic.timeout_s in the config (or HYBRID_ANTHROPIC__TIMEOUT_S) and re-run",
        )
    if isinstance(exc, anthropic.APIConnectionError):
        return BackendUnavailableError(f"cannot reach the Anthropic API at {url}",
                                       "check your network or ANTHROPIC_BASE_URL")
    if isinstance(exc, _TRANSPORT_ERRORS):
        return BackendUnavailableError(
            f"the connection to the Anthropic API at {url} broke mid-reply",
            "re-run; completed work is kept (check your network or ANTHROPIC_BASE_URL)")
    if isinstance(exc, (json.JSONDecodeError, anthropic.APIResponseValidationError)):
        return ModelError(f"the Anthropic API at {url} sent a malformed response",
                          "re-run; if it persists, check ANTHROPIC_BASE_URL and any proxy")
    if not isinstance(exc, anthropic.APIStatusError):
        return ModelError(f"Anthropic SDK error: {exc}", "set HYBRID_DEBUG=1 for the traceback")

    status = exc.status_code
    message = _api_message(exc)
    error_type = _api_error_type(exc)
    if isinstance(exc, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
        return AuthenticationError(f"Anthropic rejected the API key ({status})",
                                   "check ANTHROPIC_API_KEY")
    if isinstance(exc, anthropic.RateLimitError) or error_type == "rate_limit_error":
        wait = exc.response.headers.get("retry-after")
        asked = f"; the API asked to wait {wait} s" if wait else ""
        return RateLimitedError(
            f"Anthropic rate limit hit (429) {retries}{asked}",
            "wait a minute and re-run (completed work is kept), lower `parallel`, "
            "or raise anthropic.max_retries")
    if status == 529 or error_type == "overloaded_error":
        return OverloadedError(f"Anthropic is overloaded (529) {retries}",
                               "wait a minute and re-run; completed work is kept")
    if isinstance(exc, anthropic.InternalServerError) or error_type == "api_error":
        return OverloadedError(f"Anthropic had a server error ({status}) {retries}",
                               "wait a minute and re-run; completed work is kept")
    if status == 402 or error_type == "billing_error" or "credit balance" in message.lower():
        return ModelError(f"Anthropic refused the request for billing reasons: {message}",
                          "add credits in the Anthropic Console (Plans & Billing), or route "
                          "this tier to a local model")
    if isinstance(exc, anthropic.NotFoundError):
        return ModelNotFoundError(
            f"Anthropic does not know the model {backend.model!r}: {message}",
            "check the model id in your tiers configuration (e.g. claude-sonnet-5-5)")
    if "prompt is too long" in message.lower() or status == 413:
        return ContextOverflowError(
            f"the prompt is too large for {backend.model}: {message}",
            "send less context (a smaller spec item, fewer files) or use a larger-window model")
    if isinstance(exc, anthropic.BadRequestError):
        return ModelError(f"Anthropic rejected the request (400): {message}",
                          "check this tier's model options; HYBRID_DEBUG=1 shows the full error")
    return ModelError(f"Anthropic API error ({status}): {message}",
                      "re-run; HYBRID_DEBUG=1 shows the full error")
