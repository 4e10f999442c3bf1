"""`govbrief doctor`: what the configured LLM endpoint does, and the settings to use with it."""

from __future__ import annotations

from pathlib import Path

import typer

from service.cli.common import EXIT_FAILED, fail, load_settings
from service.errors import ConfigError


def doctor() -> None:
    """Check the LLM endpoint (GOVBRIEF_LLM_BASE_URL, _API_KEY, _MODEL) with a few small calls.

    Reports whether it is reachable, the key accepted and the model listed, a call's latency, which response_format modes it accepts and which it actually enforces, and the model's context; then prints the settings to use. Exit 0 when briefs will work, 1 when they will not (with the reason).
    """
    from service.llm import doctor as checks
    from service.llm import providers
    from service.llm.cache import AnswerCache
    from service.llm.client import OpenAIChatClient

    settings = load_settings()
    if not settings.llm_model:
        fail("no model configured: set GOVBRIEF_LLM_MODEL (and GOVBRIEF_LLM_BASE_URL, GOVBRIEF_LLM_API_KEY)")
    try:
        client = OpenAIChatClient.from_settings(settings)
        profile = providers.resolve(client.base_url, settings.llm_model, settings.llm_provider)
    except ConfigError as exc:
        fail(str(exc))
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    report = checks.diagnose(
        client,
        model=settings.llm_model,
        profile=profile.with_context(settings.llm_context_tokens),
        api_key=key,
        timeout=min(settings.llm_timeout, 30.0),
        context_setting=settings.llm_context_tokens,
        cache=AnswerCache(Path(settings.cache_dir) / "llm"),
    )
    for line in checks.render(report):
        typer.echo(client.redact(line))
    if not report.works:
        raise typer.Exit(EXIT_FAILED)
