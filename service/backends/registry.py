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

        if settings.database_url and kw.get("cache") is None:
            # Answers live in the shared database: a second machine never pays for them again.
            from service.storage import open_answer_cache

            kw["cache"] = open_answer_cache(
                settings, enabled=kw.pop("use_cache", True), refresh=kw.pop("refresh", False)
            )
        return OpenAIBackend(settings, **kw)
    raise ConfigError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
