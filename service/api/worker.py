"""What runs in a worker process: one report through the pipeline, its outcome made picklable.

Apart from `work.py` so that a worker imports the pipeline and nothing of the HTTP app. A worker
builds each backend once, from the settings and factory it was started with, and keeps it.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Literal

from service.backends.base import Backend
from service.errors import BackendError, ConfigError, InputError
from service.models import Brief
from service.pipeline import summarize_bytes

log = logging.getLogger("govbrief.api")

_settings: Any = None
_factory: Any = None
_backends: dict[str, Backend] = {}


def start(settings: Any, factory: Any) -> None:
    """The pool's initializer: runs once in each new worker."""
    global _settings, _factory
    _settings, _factory = settings, factory
    _backends.clear()


def ready() -> bool:
    """A no-op run: when it returns, the workers are started and the pipeline imported."""
    return _settings is not None


@dataclass(frozen=True)
class Done:
    brief: Brief  # with source.text
    full_json: bytes  # the Brief with source.text
    lean_json: bytes  # the Brief without it
    seconds: float


@dataclass(frozen=True)
class Failed:
    """An error as plain data: exceptions with their own constructors do not all survive pickling."""

    kind: Literal["input", "config", "backend", "bug"]
    message: str
    path: str = ""
    status: int = 500


def run(data: bytes, filename: str, backend: str) -> Done | Failed:
    try:
        engine = _backends.get(backend)
        if engine is None:
            engine = _backends[backend] = _factory(backend, _settings)
        started = time.perf_counter()
        brief = summarize_bytes(
            data, filename, engine, with_text=True, chunk_max_tokens=_settings.chunk_max_tokens
        )
        seconds = time.perf_counter() - started
        lean = brief.model_copy(update={"source": brief.source.model_copy(update={"text": None})})
        return Done(brief, brief.model_dump_json().encode(), lean.model_dump_json().encode(), seconds)
    except InputError as e:
        return Failed("input", e.problem, e.path, e.status_code)
    except ConfigError as e:
        return Failed("config", str(e), status=400)
    except BackendError as e:
        return Failed("backend", str(e), status=502)
    except Exception:
        return Failed("bug", traceback.format_exc())


def raise_failure(failed: Failed) -> None:
    """Raise, in the server, the error the worker met: the app's handlers answer it as usual."""
    if failed.kind == "input":
        error = InputError(failed.path, failed.message)
        error.status_code = failed.status
        raise error
    if failed.kind == "config":
        raise ConfigError(failed.message)
    if failed.kind == "backend":
        raise BackendError(failed.message)
    raise WorkerError(failed.message)


class WorkerError(RuntimeError):
    """A bug in a worker; its traceback goes to the log, never to the client."""
