"""Helpers shared by subcommands: errors to stderr with an exit code, settings and backend construction."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from service.backends.base import Backend
from service.backends.registry import build_backend
from service.errors import GovbriefError
from service.settings import ENV_PREFIX, Settings, get_settings

EXIT_INPUT = 2  # bad input or settings: the user can fix it
EXIT_FAILED = 1  # some work failed (a batch with failures, an eval that drifted)


def error(message: str) -> None:
    """One line on stderr, no traceback."""
    print(f"govbrief: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    """One warning line on stderr (what a brief is missing, and why)."""
    print(f"govbrief: warning: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    error(message)
    raise typer.Exit(code)


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per bad setting, named as the user set it: `GOVBRIEF_LLM_TIMEOUT=-1: ...`."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(part) for part in err.get("loc", ()) if part != "__root__"]
        problem = str(err.get("msg", "invalid value"))
        if not loc:
            lines.append(f"invalid settings: {problem}")
            continue
        name = ENV_PREFIX + loc[0].upper()
        value = err.get("input")
        # Never echo what may be a secret (keys), nor structures the user did not type.
        shown = (
            f"={value!r}"
            if isinstance(value, str | int | float) and "key" not in loc[0].lower() and len(str(value)) <= 80
            else ""
        )
        lines.append(f"{name}{shown}: {problem}")
    return lines or [f"invalid settings: {exc}"]


def load_settings() -> Settings:
    """The settings from the environment; a bad GOVBRIEF_* variable is one stderr line each, exit 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        for line in settings_problems(exc):
            error(line)
        raise typer.Exit(EXIT_INPUT) from None
    except SettingsError as exc:
        fail(f"invalid settings: {exc}")


class BackendName(enum.StrEnum):
    rules = "rules"
    openai = "openai"


# Options that several commands share, declared once so they read the same everywhere.
WithTextOption = Annotated[
    bool, typer.Option("--with-text", help="Include the normalized report text (source.text) in each brief.")
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the LLM answer cache.")
]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Ignore cached LLM answers, and overwrite them.")
]

PromptsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--prompts-dir",
        metavar="DIR",
        help="Prompt files that override the packaged ones, prompt by prompt (<id>/v<N>.toml); "
        "default GOVBRIEF_PROMPTS_DIR.",
        show_default=False,
    ),
]


def with_prompts_dir(settings: Settings, prompts_dir: Path | None) -> Settings:
    return settings if prompts_dir is None else settings.model_copy(update={"prompts_dir": prompts_dir})


def backend_from_options(
    name: str | None,
    settings: Settings | None = None,
    *,
    no_cache: bool = False,
    refresh: bool = False,
    **openai_kw: Any,
) -> Backend:
    """The backend a command asked for (or the settings' default); cache flags and other keyword
    arguments only reach the openai backend, the one that caches and calls out."""
    settings = settings or load_settings()
    name = name or settings.default_backend()
    kw = {"use_cache": not no_cache, "refresh": refresh, **openai_kw} if name == "openai" else {}
    try:
        return build_backend(name, settings, **kw)
    except GovbriefError as e:
        fail(str(e))
