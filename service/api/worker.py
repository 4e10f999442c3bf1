"""What runs in worker processes: one report through the pipeline, its outcome made picklable; and a
stored brief read, parsed and rendered (Markdown, the page).

Plain functions, apart from `work.py`, so that what a worker is sent is a name and its arguments. A
worker builds each backend once, from the settings and factory it was started with.
Parsing a brief of tens of MB holds the GIL for a second in one call (pydantic-core), so in the
server's own threads it would stall the event loop: in a worker it stalls nothing.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Literal

from service import render
from service.api.view import brief_view
from service.backends.base import Backend
from service.errors import BackendError, ConfigError, EmptyBriefError, InputError
from service.models import Brief, Provenance
from service.pipeline import summarize_bytes
from service.storage import open_store
from service.storage.base import Store, brief_facts
from service.templating import environment

log = logging.getLogger("govbrief.api")

_settings: Any = None
_factory: Any = None
_backends: dict[str, Backend] = {}
_store: Store | None = None


def start(settings: Any, factory: Any) -> None:
    """The pool's initializer: runs once in each new worker."""
    global _settings, _factory
    _settings, _factory = settings, factory
    _backends.clear()


def start_renderer(settings: Any) -> None:
    """The renderers' initializer: they read stored briefs, opened on first use."""
    global _settings, _store
    _settings, _store = settings, None


def ready() -> bool:
    """A no-op run: when it returns, the workers are started and the pipeline imported."""
    return _settings is not None


@dataclass(frozen=True)
class Done:
    """The brief as JSON bytes, and the little the server needs to know of it: unpickling a Brief
    object of a long report would hold the server's GIL as long as parsing it would."""

    sha256: str
    provenance: Provenance
    full_json: bytes  # the Brief with source.text
    lean_json: bytes  # the Brief without it
    facts: dict[str, Any]  # what the library lists it by (title, region, year, genre)
    seconds: float


@dataclass(frozen=True)
class Failed:
    """An error as plain data: exceptions with their own constructors do not all survive pickling."""

    kind: Literal["input", "config", "empty", "backend", "bug"]
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
        return Done(
            brief.source.sha256,
            brief.provenance,
            brief.model_dump_json().encode(),
            lean.model_dump_json().encode(),
            brief_facts(brief.report),
            seconds,
        )
    except InputError as e:
        return Failed("input", e.problem, e.path, e.status_code)
    except ConfigError as e:
        return Failed("config", str(e), status=400)
    except EmptyBriefError as e:
        return Failed("empty", str(e), status=502)
    except BackendError as e:
        return Failed("backend", str(e), status=502)
    except Exception:
        return Failed("bug", traceback.format_exc())


def _full(brief_id: str) -> Brief | None:
    global _store
    if _store is None:
        _store = open_store(_settings)
    full = _store.full(brief_id)
    return Brief.model_validate_json(full) if full is not None else None


def markdown(brief_id: str) -> bytes | None:
    brief = _full(brief_id)
    return render.to_markdown(brief).encode() if brief is not None else None


def brief_page(brief_id: str, signed_in: bool = False) -> bytes | None:
    brief = _full(brief_id)
    if brief is None:
        return None
    template = environment().get_template("brief.html")
    html = template.render(id=brief_id, v=brief_view(brief), brief=brief, signed_in=signed_in)
    return html.encode()


def raise_failure(failed: Failed) -> None:
    """Raise, in the server, the error the worker met: the app's handlers answer it as usual."""
    if failed.kind == "input":
        error = InputError(failed.path, failed.message)
        error.status_code = failed.status
        raise error
    if failed.kind == "config":
        raise ConfigError(failed.message)
    if failed.kind == "empty":
        raise EmptyBriefError(failed.message)
    if failed.kind == "backend":
        raise BackendError(failed.message)
    raise WorkerError(failed.message)


class WorkerError(RuntimeError):
    """A bug in a worker; its traceback goes to the log, never to the client."""
