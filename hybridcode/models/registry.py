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
