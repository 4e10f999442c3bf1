"""Briefing off the event loop, once per set of identical requests in flight, then storing.

The pipeline is CPU work (rules) or minutes of waiting on an LLM (openai): either way it runs in
the threadpool, never on the event loop. Identical requests that arrive while a run is under way
(same bytes, filename, backend and chunking) await that run instead of starting their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool

from service.api.metrics import Metrics
from service.backends.base import Backend
from service.backends.registry import build_backend
from service.errors import ConfigError, InputError
from service.jobs import brief_row, new_id
from service.models import SCHEMA_VERSION, Brief
from service.pipeline import summarize_bytes
from service.settings import Settings
from service.storage.base import Store

log = logging.getLogger("govbrief.api")

#: Pipeline runs at once. They get their own limiter so that minutes-long LLM runs cannot take every
#: thread of the default pool, which uploads and store writes need too. Rules runs are CPU-bound
#: (one core under the GIL) and LLM runs wait on the backend's own connection semaphore, so more
#: would only queue elsewhere.
PIPELINE_SLOTS = 16

BackendFactory = Callable[[str, Settings], Backend]


def check_backend(name: str, settings: Settings) -> None:
    """Raise ConfigError for a backend this server is not configured for (cheap: builds nothing)."""
    if name == "openai" and not settings.llm_configured:
        raise ConfigError(
            "backend 'openai' is not configured on this server "
            "(it needs GOVBRIEF_LLM_MODEL and GOVBRIEF_LLM_BASE_URL or an API key); use backend 'rules'"
        )


def default_backend_factory(name: str, settings: Settings) -> Backend:
    check_backend(name, settings)
    try:
        return build_backend(name, settings)
    except ImportError:
        raise ConfigError(f"backend {name!r} is not available in this installation") from None


@dataclass(frozen=True)
class Result:
    brief: Brief  # with source.text
    full_json: bytes  # the Brief with source.text
    lean_json: bytes  # the Brief without it


@dataclass(frozen=True)
class Created:
    id: str
    result: Result
    body: bytes  # the stored JSON response, id first


class Briefer:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self._factory = backend_factory or default_backend_factory
        self._backends: dict[str, Backend] = {}
        # Keyed by the running loop as well: a future may only be awaited on the loop that made it.
        self._inflight: dict[tuple[int, str], asyncio.Future[Result]] = {}
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )
        metrics.gauge(
            "govbrief_pipeline_runs_in_flight", "Pipeline runs under way.", lambda: len(self._inflight)
        )

    def backend(self, name: str | None) -> Backend:
        """Built once per name, on first use; a backend that cannot be built raises ConfigError."""
        name = name or self.settings.default_backend()
        if name not in self._backends:
            self._backends[name] = self._factory(name, self.settings)
        return self._backends[name]

    async def create(
        self, data: bytes, filename: str, backend: str | None, *, with_text: bool, owner: str | None = None
    ) -> Created:
        result = await self.brief(data, filename, backend)
        row = brief_row(
            new_id(),
            result.brief,
            with_text=with_text,
            owner=owner,
            full=result.full_json,
            lean=result.lean_json,
        )
        await run_in_threadpool(self.store.put_brief, row)
        self.metrics.briefs_created.inc(result.brief.provenance.backend)
        return Created(row.id, result, row.body)

    async def brief(self, data: bytes, filename: str, backend: str | None) -> Result:
        engine = self.backend(backend)
        digest = hashlib.sha256(data).hexdigest()
        loop = asyncio.get_running_loop()
        key = (id(loop), _key(digest, filename, engine.name, self.settings.chunk_max_tokens))
        task = self._inflight.get(key)
        if task is None:
            limiter = self._limiters.get(loop)
            if limiter is None:
                limiter = self._limiters[loop] = anyio.CapacityLimiter(PIPELINE_SLOTS)
            run = anyio.to_thread.run_sync(self._run, data, filename, engine, limiter=limiter)
            task = asyncio.ensure_future(run)
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._finished(key, t))
        else:
            self.metrics.coalesced.inc()
        # shield: a client that hangs up must not cancel the run the others are waiting on.
        return await asyncio.shield(task)

    def _finished(self, key: tuple[int, str], task: asyncio.Future[Result]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # mark it retrieved even if every waiter went away

    def _run(self, data: bytes, filename: str, engine: Backend) -> Result:
        started = time.perf_counter()
        try:
            brief = summarize_bytes(
                data, filename, engine, with_text=True, chunk_max_tokens=self.settings.chunk_max_tokens
            )
        except InputError:
            self.metrics.pipeline_runs.inc(engine.name, "rejected")
            raise
        except BaseException:
            self.metrics.pipeline_runs.inc(engine.name, "error")
            raise
        self.metrics.pipeline_runs.inc(engine.name, "ok")
        self.metrics.pipeline_seconds.observe(time.perf_counter() - started, engine.name)
        p = brief.provenance
        if p.llm_calls or p.prompt_tokens or p.completion_tokens:
            self.metrics.llm_calls.inc(p.backend, amount=p.llm_calls)
            self.metrics.llm_tokens.inc(p.backend, "prompt", amount=p.prompt_tokens)
            self.metrics.llm_tokens.inc(p.backend, "completion", amount=p.completion_tokens)
        if p.cache_hit:
            self.metrics.llm_cache_hits.inc(p.backend)
        lean = brief.model_copy(update={"source": brief.source.model_copy(update={"text": None})})
        return Result(brief, brief.model_dump_json().encode(), lean.model_dump_json().encode())


def _key(digest: str, filename: str, backend: str, chunk_max_tokens: int) -> str:
    # The filename is part of the key: it names the report in source.path and hints at its format.
    return "\0".join((digest, filename, backend, str(chunk_max_tokens), SCHEMA_VERSION))
