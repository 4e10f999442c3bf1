"""Build a backend by name. Lives outside the pipeline so the pipeline never imports an LLM client."""

from __future__ import annotations

from typing import Any

from service.backends.base import Backend
from service.backends.rules import RulesBackend
from service.errors import ConfigError
from service.settings import Settings

BACKENDS = ("rules", "openai")


def build_backend(name: str | None, settings: Settings, **kw: Any) -> Backend:
    name = name or settings.default_backend()
    if name == "rules":
        return RulesBackend()
    if name == "openai":
        from service.backends.openai_backend import OpenAIBackend  # imports the openai client

        return OpenAIBackend(settings, **kw)
    raise ConfigError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
