"""The backend interface: messages (+ system, + optional pydantic schema) → text or object + usage.

A backend implements one method, :meth:`Backend.complete`, and declares what it can do with
class attributes (like ``llm``'s ``Model.execute``). Backends translate their SDK's exceptions
into :mod:`hybridcode.errors` at this boundary; callers never see SDK types.
"""

from __future__ import annotations

import json
import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from hybridcode.config import ModelSpec, Settings


@dataclass(frozen=True)
class Block:
    """A piece of prompt text. ``cache=True`` ends a stable prefix: backends with prompt caching
    put a cache breakpoint after this block (instructions, schema, repository map)."""

    text: str
    cache: bool = False


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str | tuple[Block, ...]

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(b.text for b in self.content)


@dataclass(frozen=True)
class ModelRequest:
    messages: tuple[Message, ...]
    system: str | tuple[Block, ...] = ""
    schema: type[BaseModel] | None = None
    max_tokens: int | None = None  # None: the ModelSpec's max_output_tokens
    cache_ttl: str | None = None  # "5m" / "1h" for this call's breakpoints; None: settings

    @property
    def system_text(self) -> str:
        if isinstance(self.system, str):
            return self.system
        return "".join(b.text for b in self.system)

    def prompt_text(self) -> str:
        """Everything the model reads, as one string (for size estimates and fingerprints)."""
        return self.system_text + "\n" + "\n".join(m.text for m in self.messages)

    def fingerprint(self, model: str) -> str:
        """Stable key for replay: model + system + messages + schema name. No secrets inside."""
        payload = {
            "model": model,
            "system": self.system_text,
            "messages": [[m.role, m.text] for m in self.messages],
            "schema": self.schema.__name__ if self.schema is not None else None,
        }
        data = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(data).hexdigest()


@dataclass
class Usage:
    input_tokens: int = 0  # uncached input only
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_input(self) -> int:
        """All input the model read: uncached + cache write + cache read (never double-counted)."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class ModelResult:
    text: str
    usage: Usage
    model: str
    backend: str
    latency_ms: int
    parsed: Any = None  # the validated pydantic object when the request had a schema
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific figures (durations…)


@dataclass(frozen=True)
class Progress:
    """Streaming progress: tokens so far in this call and the newest text delta."""

    output_tokens: int
    delta: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass
class HealthCheck:
    """What ``hybrid doctor`` shows for one backend/model."""

    name: str
    ok: bool
    detail: str
    hint: str | None = None
    required: bool = True


class Backend(ABC):
    """One model served by one backend. Instances are cheap; SDK clients are created lazily."""

    name: ClassVar[str]
    is_local: ClassVar[bool] = False
    can_stream: ClassVar[bool] = False
    supports_schema: ClassVar[bool] = True
    supports_cache: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings

    @property
    def model(self) -> str:
        return self.spec.model

    @abstractmethod
    def complete(
        self, request: ModelRequest, on_progress: ProgressCallback | None = None
    ) -> ModelResult:
        """Run one request. Raises :class:`hybridcode.errors.ModelError` subclasses only."""

    def health(self) -> list[HealthCheck]:
        """Cheap, offline-safe checks for ``hybrid doctor`` (no paid calls)."""
        return []

    def close(self) -> None:
        """Release the SDK client, if one was created."""


# Characters per token for code and English prose across common tokenizers: conservative
# (over-estimates), because under-estimating a window silently truncates on Ollama.
CHARS_PER_TOKEN = 3.0


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1
