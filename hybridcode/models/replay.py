"""Recorded exchanges: :class:`RecordingBackend` writes them from real runs, :class:`ReplayBackend`
serves them back (for ``hybrid demo`` and for tests) with no key, network or GPU.

The file is JSONL, one exchange per line::

    {"fingerprint": "<ModelRequest.fingerprint(model)>",
     "model": "claude-opus-5-5", "backend": "anthropic",
     "request": {"system": "...", "messages": [{"role": "user", "content": "..."}],
                 "schema": "Verdict"},
     "response": {"text": "...", "model": "claude-opus-5-5-20261101", "stop_reason": "end_turn",
                  "latency_ms": 5120,
                  "usage": {"input_tokens": 900, "output_tokens": 300,
                            "cache_write_tokens": 0, "cache_read_tokens": 2000}},
     "recorded_at": "2026-11-23T10:00:00.000+00:00"}

``request`` and ``recorded_at`` are for people; matching uses ``fingerprint`` (a hash of model,
system, messages and schema name). Prompts change whenever a prompt template changes, so a
hand-written file may use a looser key instead of a fingerprint::

    {"match": {"contains": ["def slugify"], "schema": null}, "model": "qwen2.5-coder:32b",
     "backend": "ollama", "response": {"text": "def slugify(s): ..."}}

A ``match`` entry serves a request when every string in ``contains`` occurs in the prompt,
``schema`` (when the key is present) names the request's schema (``null``: no schema), and
``model`` (when present) is the requested model. Exact fingerprints always win; loose entries
are tried only when no fingerprint matches, in file order.

Several entries for the same request are served in file order, so a retry of an identical
prompt can get a different answer (a failing attempt, then a passing one). When they run out
the last one repeats: a resumed or repeated run asks the same questions again and should get
the final answer, not a miss.

Keys never reach the file: the configured key values and anything key-shaped (``sk-ant-…``,
``sk-…``, bearer tokens) are replaced in every text before it is written.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hybridcode.config import LOCAL_BACKENDS
from hybridcode.errors import ConfigError, OutputFormatError, ReplayMissError
from hybridcode.ledger.redact import redact, secret_values
from hybridcode.models._json import parse_output
from hybridcode.models.base import Backend, HealthCheck, ModelResult, Progress, Usage

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings
    from hybridcode.models.base import ModelRequest, ProgressCallback

_RERECORD = "re-record with HYBRID_RECORD=path, or check the recording file"
# A miss is what any new request meets in a replaying repository (hybrid demo's): say how to
# reach a real model there, not only how to record.
_NEW_REQUEST = ("recordings answer only the requests they hold; for a new one use your own "
                "models: remove [replay] from .hybrid/config.toml (or unset HYBRID_REPLAY), "
                "or " + _RERECORD)


# ---------------------------------------------------------------------------- file format

class _Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    usage: _Usage = Field(default_factory=_Usage)
    model: str | None = None
    stop_reason: str | None = None
    latency_ms: int = Field(default=0, ge=0)


class _Match(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    contains: list[str] = Field(default_factory=list)
    # Aliased: a field called ``schema`` would shadow BaseModel.schema().
    schema_name: str | None = Field(default=None, alias="schema")

    @field_validator("contains", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    def accepts(self, request: ModelRequest, prompt: str) -> bool:
        if "schema_name" in self.model_fields_set:
            wanted = request.schema.__name__ if request.schema is not None else None
            if self.schema_name != wanted:
                return False
        return all(part in prompt for part in self.contains)


class _Exchange(BaseModel):
    # ``request`` and ``recorded_at`` are documentation for people; they are not checked.
    model_config = ConfigDict(extra="ignore")
    fingerprint: str | None = None
    match: _Match | None = None
    model: str | None = None
    backend: str | None = None
    response: _Response

    @model_validator(mode="after")
    def _keyed(self) -> _Exchange:
        if self.fingerprint is None and self.match is None:
            raise ValueError('needs a "fingerprint" or a "match" object')
        return self


def load_exchanges(path: Path) -> list[_Exchange]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(
            f"the replay file {path} does not exist",
            "point HYBRID_REPLAY at a file recorded with HYBRID_RECORD=path",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the replay file {path}: {exc.strerror}",
                          "check the file's permissions") from exc
    out: list[_Exchange] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(_Exchange.model_validate_json(line))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            detail = f"{where}: {err['msg']}" if where else err["msg"]
            raise ConfigError(f"{path} line {number} is not a valid recording ({detail})",
                              "fix that line (the format is in hybridcode/models/replay.py) "
                              "or re-record with HYBRID_RECORD=path") from exc
    return out


# ---------------------------------------------------------------------------- replay

class ReplayBackend(Backend):
    """Serves recorded answers for ``spec``'s model from ``settings.replay.path``.

    ``is_local`` is per instance: the tier being replayed decides it (an Ollama rung replays as
    local), or, for a tier configured with ``backend = "replay"``, the backend that recorded
    this model. Usage, model and latency come from the recording so ledger and stats see the
    run as it was recorded.
    """

    name = "replay"

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        super().__init__(spec, settings)
        path = settings.replay.path
        if path is None:
            raise ConfigError(f"the replay backend for {spec.model} has no recording file",
                              "set HYBRID_REPLAY=path or replay.path in the config")
        self.path = Path(path)
        self._exchanges = load_exchanges(self.path)
        self._served: set[int] = set()
        self._lock = threading.Lock()
        # Instance attribute on purpose: whether a replayed tier is local depends on the tier.
        self.is_local = self._decide_local()  # type: ignore[misc]

    def _decide_local(self) -> bool:
        if self.spec.backend != "replay":
            return self.spec.is_local
        for ex in self._exchanges:
            if ex.backend and (ex.model is None or ex.model == self.spec.model):
                return ex.backend in LOCAL_BACKENDS
        return False

    def _candidates(self, request: ModelRequest, fingerprint: str) -> list[int]:
        exact = [i for i, ex in enumerate(self._exchanges) if ex.fingerprint == fingerprint]
        if exact:
            return exact
        prompt = request.prompt_text()
        return [
            i for i, ex in enumerate(self._exchanges)
            if ex.match is not None
            and (ex.model is None or ex.model == self.spec.model)
            and ex.match.accepts(request, prompt)
        ]

    def _next(self, request: ModelRequest) -> _Exchange:
        fingerprint = request.fingerprint(self.spec.model)
        with self._lock:
            candidates = self._candidates(request, fingerprint)
            if not candidates:
                raise ReplayMissError(
                    f"no recorded response for this {self.spec.model} request "
                    f"(fingerprint {fingerprint[:12]}…)", _NEW_REQUEST)
            fresh = [i for i in candidates if i not in self._served]
            index = fresh[0] if fresh else candidates[-1]
            self._served.add(index)
            return self._exchanges[index]

    def complete(self, request: ModelRequest,
                 on_progress: ProgressCallback | None = None) -> ModelResult:
        ex = self._next(request)
        resp = ex.response
        usage = Usage(**resp.usage.model_dump())
        model = resp.model or ex.model or self.spec.model
        parsed = None
        if request.schema is not None:
            # The same lenient-extract, strict-validate parse as the live local backends, so a
            # replayed run fails (and repairs) exactly where the recorded one did.
            try:
                parsed = parse_output(request.schema, resp.text, model)
            except OutputFormatError as exc:
                raise OutputFormatError(
                    f"recorded answer: {exc.message}",
                    "the recording does not fit the schema; " + _RERECORD, raw=exc.raw,
                ) from exc
        if on_progress is not None:
            # One step: the whole recorded answer at once, so progress displays still move.
            on_progress(Progress(output_tokens=usage.output_tokens, delta=resp.text))
        backend = ex.backend or (self.spec.backend if self.spec.backend != "replay" else "replay")
        return ModelResult(
            text=resp.text, usage=usage, model=model, backend=backend,
            latency_ms=resp.latency_ms, parsed=parsed, stop_reason=resp.stop_reason,
            extra={"replayed": True},
        )

    def health(self) -> list[HealthCheck]:
        return [HealthCheck(name=f"replay {self.spec.model}", ok=True,
                            detail=f"{len(self._exchanges)} recorded exchanges in {self.path}")]


# ---------------------------------------------------------------------------- recording

_APPEND_LOCKS: dict[Path, threading.Lock] = {}
_APPEND_LOCKS_GUARD = threading.Lock()


def _append_lock(path: Path) -> threading.Lock:
    # One lock per file, shared by every RecordingBackend (one per tier) that writes to it.
    key = path.resolve()
    with _APPEND_LOCKS_GUARD:
        return _APPEND_LOCKS.setdefault(key, threading.Lock())


def exchange_record(request: ModelRequest, model: str, result: ModelResult,
                    secrets: list[str]) -> dict[str, Any]:
    """The JSONL entry for one successful call, with every key removed."""

    def clean(text: str) -> str:
        return redact(text, secrets)

    return {
        "fingerprint": request.fingerprint(model),
        "model": model,
        "backend": result.backend,
        "request": {
            "system": clean(request.system_text),
            "messages": [{"role": m.role, "content": clean(m.text)} for m in request.messages],
            "schema": request.schema.__name__ if request.schema is not None else None,
        },
        "response": {
            "text": clean(result.text),
            "usage": result.usage.as_dict(),
            "model": result.model,
            "stop_reason": result.stop_reason,
            "latency_ms": result.latency_ms,
        },
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }


class RecordingBackend(Backend):
    """Delegates to ``inner`` and appends each successful exchange to ``path``.

    Failed calls are not recorded: a replayed run should see the answers, and errors are
    better reproduced by the wire-level fakes. Each exchange is one ``write`` of one line in
    append mode, under a per-file lock, so parallel items never interleave lines.
    """

    name = "record"

    def __init__(self, inner: Backend, path: Path) -> None:
        super().__init__(inner.spec, inner.settings)
        self.inner = inner
        self.path = Path(path)
        # Mirror what the wrapped backend can do; the Caller reads these per instance.
        self.is_local = inner.is_local  # type: ignore[misc]
        self.can_stream = inner.can_stream  # type: ignore[misc]
        self.supports_schema = inner.supports_schema  # type: ignore[misc]
        self.supports_cache = inner.supports_cache  # type: ignore[misc]
        self._secrets = secret_values(inner.settings)

    def complete(self, request: ModelRequest,
                 on_progress: ProgressCallback | None = None) -> ModelResult:
        result = self.inner.complete(request, on_progress)
        line = json.dumps(exchange_record(request, self.spec.model, result, self._secrets),
                          ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _append_lock(self.path), self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
        except OSError as exc:
            raise ConfigError(
                f"cannot append to the recording file {self.path}: {exc.strerror or exc}",
                "check that HYBRID_RECORD (replay.record) points at a writable path",
            ) from exc
        return result

    def health(self) -> list[HealthCheck]:
        return self.inner.health()
