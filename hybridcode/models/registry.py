"""Backend lookup by name. Built-ins register through the same table a plugin would use, and
are imported lazily so that ``hybrid --help`` never loads an SDK."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from hybridcode.errors import ConfigError

if TYPE_CHECKING:
    from hybridcode.config import ModelSpec, Settings
    from hybridcode.models.base import Backend

BACKENDS: dict[str, str] = {
    "anthropic": "hybridcode.models.anthropic_backend:AnthropicBackend",
    "ollama": "hybridcode.models.ollama_backend:OllamaBackend",
    "openai": "hybridcode.models.openai_backend:OpenAICompatBackend",
    "replay": "hybridcode.models.replay:ReplayBackend",
}

# Concurrent calls per backend, whatever a stage's own parallelism. Ollama serves
# OLLAMA_NUM_PARALLEL requests per model at once (4 at most by default); more would queue on the
# server, where the wait counts against the request timeout. Anthropic and OpenAI-compatible
# servers (vLLM batches dozens) are bounded by the stage's setting alone (``parallel``,
# ``review.parallel``).
BACKEND_LIMITS: dict[str, int] = {"ollama": 4}


def concurrency(backend: str, wanted: int) -> int:
    """How many calls to ``backend`` may be in flight when a stage wants ``wanted``."""
    return max(1, min(wanted, BACKEND_LIMITS.get(backend, wanted)))


def backend_class(name: str) -> type[Backend]:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}",
                          f"use one of: {', '.join(sorted(BACKENDS))}") from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def create_backend(spec: ModelSpec, settings: Settings) -> Backend:
    """The backend for ``spec``; with ``replay.path`` set, every tier is served from recordings."""
    if settings.replay.path is not None and spec.backend != "replay":
        from hybridcode.models.replay import ReplayBackend

        return ReplayBackend(spec, settings)
    backend = backend_class(spec.backend)(spec, settings)
    if settings.replay.record is not None:
        from hybridcode.models.replay import RecordingBackend

        return RecordingBackend(backend, settings.replay.record)
    return backend
