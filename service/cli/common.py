"""Helpers shared by subcommands: errors to stderr with an exit code, backend construction."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer

from service.backends.base import Backend
from service.backends.registry import build_backend
from service.errors import GovbriefError
from service.settings import Settings, get_settings

EXIT_INPUT = 2  # bad input or settings: the user can fix it
EXIT_FAILED = 1  # some work failed (a batch with failures, an eval that drifted)


def error(message: str) -> None:
    """One line on stderr, no traceback."""
    print(f"govbrief: error: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    error(message)
    raise typer.Exit(code)


def backend_from_options(name: str | None, settings: Settings | None = None, **kw: Any) -> Backend:
    settings = settings or get_settings()
    try:
        return build_backend(name, settings, **kw)
    except GovbriefError as e:
        fail(str(e))
