"""Workers: claim a stored job, run the pipeline on it, store the brief, repeat.

The same loop runs as threads inside `govbrief serve` (`WorkerPool`, GOVBRIEF_WORKERS of them) and
as processes of their own (`govbrief worker -n N`), all over one store. A worker holds a job under a
lease it renews (every third of the lease, and with every progress report); a worker that dies
stops renewing it, and once the lease has run out the job is claimed again by whoever looks next,
a restarted server included. The LLM answers the dead run had paid for are in the answer cache, so
the rerun asks only for what was never answered.

A job stops early when it is cancelled (its claim is gone at the next heartbeat or progress report)
and when its worker is shutting down (the job goes back to the queue).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.backends.base import Backend
from service.errors import BackendError, ConfigError, EmptyBriefError, InputError
from service.ingest import read_bytes
from service.models import Brief
from service.pipeline import RunOptions, run
from service.progress import Progress
from service.settings import Settings
from service.storage.base import BriefRow, ErrorKind, Job, Store, brief_facts

log = logging.getLogger("govbrief.jobs")

Clock = Callable[[], float]
#: A backend by name (None: the server's default); raises ConfigError when it cannot be built.
BackendSource = Callable[[str | None], Backend]

BACKEND_FAILED = "the backend could not produce a brief; try again later, or use backend 'rules'"


def new_id() -> str:
    """128 random bits, URL-safe: ids are the only thing that guards a brief when keys are off."""
    return secrets.token_urlsafe(16)


def brief_row(brief_id: str, brief: Brief, *, with_text: bool, owner: str | None) -> BriefRow:
    """How a brief is stored: the served body (`source.text` only if asked for) and the full Brief
    with its text, which the page and the Markdown need."""
    full = brief.model_dump_json().encode()
    served = full if with_text else _without_text(brief).model_dump_json().encode()
    return stored_row(
        brief_id,
        sha256=brief.source.sha256,
        backend=brief.provenance.backend,
        served=served,
        full=full,
        owner=owner,
        facts=brief_facts(brief.report),
    )


def stored_row(
    brief_id: str,
    *,
    sha256: str,
    backend: str,
    served: bytes,
    full: bytes,
    owner: str | None,
    facts: dict[str, Any],
) -> BriefRow:
    """A brief's row from its JSON (for callers that have the JSON, not the Brief: the server's
    run workers send back bytes). The id goes first so that a reader of the raw JSON sees it at once."""
    body = b'{"id":"' + brief_id.encode() + b'",' + served[1:]
    return BriefRow(id=brief_id, sha256=sha256, backend=backend, body=body, full=full, owner=owner, **facts)


def _without_text(brief: Brief) -> Brief:
    return brief.model_copy(update={"source": brief.source.model_copy(update={"text": None})})


@dataclass(frozen=True)
class WorkerConfig:
    lease: float = 30.0
    poll: float = 0.5
    max_attempts: int = 3
    chunk_max_tokens: int = 1500
    time_limit: float | None = None  # seconds per job run (GOVBRIEF_RUN_TIME_LIMIT)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            lease=settings.job_lease_seconds,
            poll=settings.job_poll_seconds,
            max_attempts=settings.job_max_attempts,
            chunk_max_tokens=settings.chunk_max_tokens,
            time_limit=settings.run_time_limit,
        )


class _Stop(BaseException):
    """Raised from the progress callback to end a run early (BaseException: the pipeline and the
    backend must not turn it into a warning)."""


class Worker:
    def __init__(
        self,
        store: Store,
        backends: BackendSource,
        config: WorkerConfig,
        *,
        clock: Clock = time.time,
        stop: threading.Event | None = None,
        name: str = "worker",
    ) -> None:
        self.store = store
        self.backends = backends
        self.config = config
        self.clock = clock
        self.stop = stop or threading.Event()
        self.name = name
        #: Set by whoever queued a job, so an idle worker looks at once rather than at its next poll.
        self.wake = threading.Event()

    def token(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{self.name}:{secrets.token_hex(6)}"

    def run_forever(self) -> None:
        while not self.stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the store is unreachable for a moment: wait and look again
                log.exception("%s: cannot claim a job", self.name)
                worked = False
            if not worked:
                self.wake.wait(self.config.poll)
                self.wake.clear()

    def run_once(self) -> bool:
        """Claim one job and run it to its end; False when there was none to claim."""
        token = self.token()
        job = self.store.claim(
            token, now=self.clock(), lease=self.config.lease, max_attempts=self.config.max_attempts
        )
        if job is None:
            return False
        log.info("%s: running job %s (attempt %d)", self.name, job.id, job.attempts)
        self._execute(job, token)
        return True

    def _execute(self, job: Job, token: str) -> None:
        lost = threading.Event()  # cancelled, or the lease passed to another worker
        beating = threading.Event()
        lease = self.config.lease

        def beat(progress: Progress | None = None) -> None:
            if not self.store.heartbeat(job.id, token, now=self.clock(), lease=lease, progress=progress):
                lost.set()

        def heartbeats() -> None:
            while not beating.wait(lease / 3):
                try:
                    beat()
                except Exception:
                    log.exception("%s: heartbeat for job %s failed", self.name, job.id)

        def on_progress(progress: Progress) -> None:
            if not lost.is_set():
                beat(progress)
            if lost.is_set() or self.stop.is_set():
                raise _Stop()

        thread = threading.Thread(target=heartbeats, name=f"{self.name}-heartbeat", daemon=True)
        thread.start()
        try:
            self._run(job, token, on_progress)
        finally:
            beating.set()
            thread.join()

    def _run(self, job: Job, token: str, on_progress: Callable[[Progress], None]) -> None:
        now = self.clock
        try:
            data = self.store.job_input(job.id)
            if data is None:
                raise InputError(job.filename or "report", "the job's report is missing from the store")
            backend = self.backends(job.backend)
            result = run(
                read_bytes(data, job.filename),
                backend,
                RunOptions(
                    with_text=True,
                    chunk_max_tokens=self.config.chunk_max_tokens,
                    time_limit=self.config.time_limit,
                    clock=self.clock,
                ),
                on_progress=on_progress,
            )
        except _Stop:
            if self.stop.is_set() and self.store.release(job.id, token, now=now()):
                log.info("%s: job %s put back in the queue (shutting down)", self.name, job.id)
            return
        except InputError as e:
            self.store.fail(job.id, token, ErrorKind.input, str(e), now=now())
            return
        except ConfigError as e:
            self.store.fail(job.id, token, ErrorKind.config, str(e), now=now())
            return
        except EmptyBriefError as e:
            # Names no host or key, and the client needs it to act (as the synchronous API's 502).
            self.store.fail(
                job.id, token, ErrorKind.backend, f"the LLM's answers were unusable: {e}", now=now()
            )
            return
        except BackendError as e:
            # The LLM's own message may name internal hosts: it goes to the log, not to the client.
            log.warning("job %s: backend failed: %s", job.id, e)
            self.store.fail(job.id, token, ErrorKind.backend, BACKEND_FAILED, now=now())
            return
        except Exception:
            log.exception("job %s: unexpected error", job.id)
            self.store.fail(job.id, token, ErrorKind.internal, "internal error", now=now())
            return
        row = brief_row(new_id(), result.brief, with_text=job.with_text, owner=job.owner)
        if not self.store.succeed(job.id, token, row, now=now()):
            log.info("%s: job %s ended elsewhere (cancelled?); its brief is not stored", self.name, job.id)


class WorkerPool:
    """`count` workers on threads of this process (inside `govbrief serve`)."""

    def __init__(
        self,
        store: Store,
        backends: BackendSource,
        config: WorkerConfig,
        count: int,
        *,
        clock: Clock = time.time,
    ) -> None:
        self.stop = threading.Event()
        self.workers = [
            Worker(store, backends, config, clock=clock, stop=self.stop, name=f"worker-{i + 1}")
            for i in range(count)
        ]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for worker in self.workers:
            thread = threading.Thread(target=worker.run_forever, name=f"govbrief-{worker.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def notify(self) -> None:
        for worker in self.workers:
            worker.wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop claiming; a running job goes back to the queue at its next progress report. A job
        stuck longer than `timeout` is left to its lease (its thread is a daemon)."""
        self.stop.set()
        self.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
