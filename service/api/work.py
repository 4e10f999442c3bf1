"""Briefing in worker processes, once per set of identical requests in flight, then storing.

The pipeline is CPU work (rules) or minutes of waiting on an LLM (openai). Either way it runs in a
worker process (a pebble ProcessPool of GOVBRIEF_MAX_RUNS), never in the server: a run over
GOVBRIEF_RUN_TIME_LIMIT is *stopped* — its worker is ended and replaced, which no thread allows —
and a CPU-bound run never holds the event loop's GIL. Past the workers, GOVBRIEF_RUN_QUEUE runs may
wait; past that, 503 with Retry-After. Identical requests that arrive while a run is under way
(same bytes, filename, backend and chunking) await that run instead of starting their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessFuture, ProcessPool
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.api import worker
from service.api.metrics import Metrics
from service.backends.base import Backend
from service.backends.registry import build_backend
from service.errors import ConfigError, RunTimeLimitError
from service.jobs import new_id, stored_row
from service.models import SCHEMA_VERSION
from service.settings import Settings
from service.storage.base import Store

log = logging.getLogger("govbrief.api")

T = TypeVar("T")

#: Seconds a client is told to wait when every worker and queue place is taken.
BUSY_RETRY_AFTER = 5

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


Result = worker.Done


@dataclass(frozen=True)
class Created:
    id: str
    result: Result
    body: bytes  # the stored JSON response, id first


class ServerBusy(HTTPException):
    def __init__(self, runs: int) -> None:
        super().__init__(
            503,
            f"the server is busy: {runs} reports are being briefed or waiting; try again shortly",
            {"Retry-After": str(BUSY_RETRY_AFTER)},
        )


class ServerStopping(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            503,
            "the server is shutting down: this report's run was stopped; send it again",
            {"Retry-After": str(BUSY_RETRY_AFTER)},
        )


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: a fork of a server with threads can deadlock, and a fresh
    interpreter per worker (spawn) would import the pipeline each time."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["service.api.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


class Briefer:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        """`backend_factory` is sent to the workers, so it (and the backends it makes) must pickle:
        a module-level function or an instance of a module-level class."""
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self._factory = backend_factory or default_backend_factory
        self._backends: dict[str, Backend] = {}
        # Keyed by the running loop as well: a future may only be awaited on the loop that made it.
        self._inflight: dict[tuple[int, str], asyncio.Future[Result]] = {}
        self.pool = ProcessPoolOnDemand(settings.max_runs, worker.start, (settings, self._factory))
        self._running: set[ProcessFuture[worker.Done | worker.Failed]] = set()
        self._waiters: dict[tuple[int, str], int] = {}  # requests waiting on each run in flight
        self._stopping = False
        metrics.gauge(
            "govbrief_pipeline_runs_in_flight", "Pipeline runs under way or waiting for a worker.",
            lambda: len(self._inflight),
        )  # fmt: skip

    def backend(self, name: str | None) -> Backend:
        """Built once per name, on first use, to check it can be (ConfigError) and to know its
        name; the workers build their own."""
        name = name or self.settings.default_backend()
        if name not in self._backends:
            self._backends[name] = self._factory(name, self.settings)
        return self._backends[name]

    async def warm(self) -> None:
        """Start the workers now rather than on the first report (seconds, on a busy machine)."""
        await self.pool.warm()

    def stop_runs(self) -> None:
        """Shutting down: stop every run now (their workers are ended); their requests get 503."""
        self._stopping = True
        for future in list(self._running):
            future.cancel()

    def close(self) -> None:
        """Stop every run (their workers are ended) and wait for the workers to go."""
        self.pool.close()

    async def create(
        self,
        data: bytes,
        filename: str,
        backend: str | None,
        *,
        with_text: bool,
        owner: str | None = None,
        gone: Callable[[], Awaitable[None]] | None = None,
    ) -> Created:
        """Brief the report (or join an identical run in flight) and store the brief for `owner`."""
        result = await self.brief(data, filename, backend, gone=gone)
        row = stored_row(
            new_id(),
            sha256=result.sha256,
            backend=result.provenance.backend,
            served=result.full_json if with_text else result.lean_json,
            full=result.full_json,
            owner=owner,
            facts=result.facts,
        )
        await run_in_threadpool(self.store.put_brief, row)
        self.metrics.briefs_created.labels(result.provenance.backend).inc()
        return Created(row.id, result, row.body)

    async def brief(
        self,
        data: bytes,
        filename: str,
        backend: str | None,
        *,
        gone: Callable[[], Awaitable[None]] | None = None,
    ) -> Result:
        """The run's result, shared with identical requests in flight. `gone()` returns when the
        client has hung up: once every request waiting on a run has, the run is stopped."""
        engine = self.backend(backend)
        digest = await run_in_threadpool(lambda: hashlib.sha256(data).hexdigest())
        loop = asyncio.get_running_loop()
        key = (id(loop), _key(digest, filename, engine.name, self.settings.chunk_max_tokens))
        task = self._inflight.get(key)
        if self._stopping:
            raise ServerStopping()
        if task is None:
            limit = self.settings.max_runs + self.settings.run_queue
            if len(self._inflight) >= limit:
                self.metrics.runs_refused.inc()
                raise ServerBusy(len(self._inflight))
            task = asyncio.ensure_future(self._run(data, filename, engine.name))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._finished(key, t))
        else:
            self.metrics.coalesced.inc()
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            return await _wait(task, gone)
        finally:
            self._waiters[key] -= 1
            if not self._waiters[key]:
                del self._waiters[key]
                if not task.done():
                    task.cancel()  # nobody is waiting for this run any more: stop it

    def _finished(self, key: tuple[int, str], task: asyncio.Future[Result]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # mark it retrieved even if every waiter went away

    async def _run(self, data: bytes, filename: str, backend: str) -> Result:
        limit = self.settings.run_time_limit
        # pebble counts the limit from when a worker takes the run, not while it waits in the queue.
        runs = self.metrics.pipeline_runs
        future: ProcessFuture[worker.Done | worker.Failed] | None = None
        try:
            future = await self.pool.schedule(worker.run, data, filename, backend, timeout=limit)
            self._running.add(future)
            outcome = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future is not None:
                future.cancel()  # ends the worker's run, if it is still going
            if not self._stopping:
                runs.labels(backend, "abandoned").inc()
                raise
            runs.labels(backend, "stopped").inc()
            raise ServerStopping() from None
        except FutureTimeout:
            runs.labels(backend, "stopped").inc()
            raise RunTimeLimitError(
                filename or "report",
                f"stopped after the run-time limit of {limit:g} s (GOVBRIEF_RUN_TIME_LIMIT)",
            ) from None
        except ProcessExpired as e:  # killed from outside (e.g. out of memory)
            runs.labels(backend, "error").inc()
            raise worker.WorkerError(
                f"the worker briefing {filename!r} died (exit code {e.exitcode})"
            ) from None
        finally:
            if future is not None:
                self._running.discard(future)
        if isinstance(outcome, worker.Failed):
            runs.labels(backend, "rejected" if outcome.kind == "input" else "error").inc()
            worker.raise_failure(outcome)
        assert isinstance(outcome, worker.Done)
        runs.labels(backend, "ok").inc()
        self.metrics.pipeline_seconds.labels(backend).observe(outcome.seconds)
        p = outcome.provenance
        if p.llm_calls or p.prompt_tokens or p.completion_tokens:
            self.metrics.llm_calls.labels(p.backend).inc(p.llm_calls)
            self.metrics.llm_tokens.labels(p.backend, "prompt").inc(p.prompt_tokens)
            self.metrics.llm_tokens.labels(p.backend, "completion").inc(p.completion_tokens)
        if p.cache_hit:
            self.metrics.llm_cache_hits.labels(p.backend).inc()
        return outcome


class ProcessPoolOnDemand:
    """A pebble ProcessPool started from a thread on first use: starting it forks its workers (and,
    the first time in a process, starts the forkserver), seconds that must not pass on the event
    loop. Once started, scheduling is a queue put, done on the loop with no await in between, so a
    cancelled request can never leave a task in the pool that nobody will stop."""

    def __init__(
        self, workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
    ):
        self.workers, self.initializer, self.initargs = workers, initializer, initargs
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._pool is None:
                pool = ProcessPool(
                    max_workers=self.workers, initializer=self.initializer, initargs=self.initargs,
                    context=_context(),
                )  # fmt: skip
                pool.schedule(worker.ready)  # the first task starts the workers
                self._pool = pool

    async def schedule(
        self, fn: Callable[..., T], *args: object, timeout: float | None = None
    ) -> ProcessFuture[T]:
        if self._pool is None:
            await run_in_threadpool(self._start)
        assert self._pool is not None
        return self._pool.schedule(fn, args=args, timeout=timeout)

    async def warm(self) -> None:
        await asyncio.wrap_future(await self.schedule(worker.ready))

    def close(self) -> None:
        """Stop every task (their workers are ended) and wait for the workers to go."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(timeout=10)


class ClientGone(HTTPException):
    def __init__(self) -> None:
        super().__init__(499, "the client closed the request")


async def _wait(task: asyncio.Future[Result], gone: Callable[[], Awaitable[None]] | None) -> Result:
    # shield: one request going away must not cancel the run others are waiting on.
    shielded = asyncio.shield(task)
    if gone is None:
        return await shielded
    watcher: asyncio.Future[Any] = asyncio.ensure_future(gone())
    pending: list[asyncio.Future[Any]] = [shielded, watcher]
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if shielded.done():
        return shielded.result()
    shielded.cancel()
    raise ClientGone()


class Renderer:
    """Stored briefs read, parsed and rendered in worker processes of their own (not the runs':
    a page must not wait behind minutes-long LLM runs)."""

    WORKERS = 2

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Each worker opens the store from the settings: SQLite's file or PostgreSQL alike.
        self.pool = ProcessPoolOnDemand(self.WORKERS, worker.start_renderer, (settings,))

    async def _call(self, fn: Callable[..., bytes | None], brief_id: str, *args: object) -> bytes | None:
        future = await self.pool.schedule(fn, brief_id, *args, timeout=self.settings.run_time_limit)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            raise HTTPException(
                503, f"rendering brief {brief_id[:64]!r} took over {self.settings.run_time_limit:g} s"
            ) from None

    async def markdown(self, brief_id: str) -> bytes | None:
        return await self._call(worker.markdown, brief_id)

    async def page(self, brief_id: str, *, signed_in: bool = False) -> bytes | None:
        return await self._call(worker.brief_page, brief_id, signed_in)

    async def warm(self) -> None:
        await self.pool.warm()

    def close(self) -> None:
        self.pool.close()


def _key(digest: str, filename: str, backend: str, chunk_max_tokens: int) -> str:
    # The filename is part of the key: it names the report in source.path and hints at its format.
    return "\0".join((digest, filename, backend, str(chunk_max_tokens), SCHEMA_VERSION))
