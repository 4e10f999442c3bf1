"""Workers over the store, on both engines: a job runs once and ends with its brief or its error;
cancelled and shut-down runs stop at their next report; many jobs and two workers (threads here,
`govbrief worker -n 2` processes below) run every job exactly once."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service import progress
from service.backends.base import Backend
from service.backends.rules import RulesBackend
from service.document import Document, Extraction
from service.errors import LLMTransportError
from service.ingest import sample_path
from service.jobs import Worker, WorkerConfig
from service.models import Brief
from service.progress import Progress
from service.settings import Settings
from service.storage import open_store
from service.storage.base import ErrorKind, JobStatus, NewJob, Store

SAMPLE = sample_path().read_bytes()
CONFIG = WorkerConfig(lease=30.0, poll=0.05, max_attempts=3)


def report(i: int) -> bytes:
    """The sample, made distinct so that each job's report has its own sha256."""
    return SAMPLE + f"\n（第{i}份）\n".encode()


def settings_for(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", database_url=database_url, backend="rules"
    )


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[Store]:
    s = open_store(settings_for(tmp_path, database_url))
    yield s
    s.close()


class Counting:
    """Rules, counting the runs per report."""

    name = "rules"

    def __init__(self) -> None:
        self.runs: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def extract(self, doc: Document) -> Extraction:
        with self._lock:
            self.runs[doc.sha256] += 1
        return RulesBackend().extract(doc)


def worker(store: Store, backend: Backend, **kw: object) -> Worker:
    return Worker(store, lambda name: backend, CONFIG, **kw)  # type: ignore[arg-type]


def add(store: Store, i: int, data: bytes | None = None, filename: str = "report.txt") -> None:
    store.add_job(NewJob(f"j{i}", report(i) if data is None else data, filename, None), now=time.time())


def test_a_job_runs_to_its_brief(store: Store) -> None:
    add(store, 1)
    assert worker(store, RulesBackend()).run_once()
    job = store.job("j1")
    assert job is not None and job.status is JobStatus.succeeded and job.attempts == 1
    assert job.brief_id and job.progress.chunks_done == job.progress.chunks_total > 0
    body = store.body(job.brief_id)
    assert body is not None and body.startswith(b'{"id":"' + job.brief_id.encode())
    brief = Brief.model_validate_json(store.full(job.brief_id) or b"")
    assert brief.report.title and brief.problems and brief.source.text
    # The stored reports: the chunk count first, the end last.
    reports = [p for _, p in store.progress_since("j1", 0)]
    assert reports[0].chunks_done == 0 and reports[-1].chunks_done == reports[-1].chunks_total
    assert not worker(store, RulesBackend()).run_once()  # nothing left


def test_an_unreadable_report_fails_naming_the_file(store: Store) -> None:
    add(store, 1, data=b"\x00\x01 not text", filename="scan.pdf")
    worker(store, RulesBackend()).run_once()
    job = store.job("j1")
    assert job is not None and job.status is JobStatus.failed and job.error_kind is ErrorKind.input
    assert job.error and job.error.startswith("scan.pdf")


def test_a_backend_failure_is_reported_without_its_details(store: Store) -> None:
    class Down:
        name = "openai"

        def extract(self, doc: Document) -> Extraction:
            raise LLMTransportError("connect to http://10.0.0.7:8000 failed")

    add(store, 1)
    worker(store, Down()).run_once()
    job = store.job("j1")
    assert job is not None and job.status is JobStatus.failed and job.error_kind is ErrorKind.backend
    assert "10.0.0.7" not in (job.error or "")


class Paused:
    """Reports one chunk, then waits to be let go (or for the test to give up)."""

    name = "rules"

    def __init__(self) -> None:
        self.reported = threading.Event()
        self.go = threading.Event()

    def extract(self, doc: Document) -> Extraction:
        progress.report(Progress(1, 5, 1, 10, 10))
        self.reported.set()
        assert self.go.wait(30), "the test never let the run go on"
        progress.report(Progress(2, 5, 2, 20, 20))
        return RulesBackend().extract(doc)


def run_in_thread(fn: Callable[[], object]) -> threading.Thread:
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_a_cancelled_running_job_stops_and_stores_nothing(store: Store) -> None:
    add(store, 1)
    backend = Paused()
    t = run_in_thread(worker(store, backend).run_once)
    assert backend.reported.wait(30)
    cancelled = store.cancel("j1", now=time.time())
    assert cancelled is not None and cancelled.status is JobStatus.cancelled
    backend.go.set()
    t.join(30)
    assert not t.is_alive()
    job = store.job("j1")
    assert job is not None and job.status is JobStatus.cancelled and job.brief_id is None


def test_a_worker_shutting_down_puts_its_job_back(store: Store) -> None:
    add(store, 1)
    backend = Paused()
    stop = threading.Event()
    t = run_in_thread(worker(store, backend, stop=stop).run_once)
    assert backend.reported.wait(30)
    stop.set()
    backend.go.set()
    t.join(30)
    job = store.job("j1")
    assert job is not None and job.status is JobStatus.queued and job.attempts == 0
    assert worker(store, RulesBackend()).run_once()
    done = store.job("j1")
    assert done is not None and done.status is JobStatus.succeeded


def test_two_workers_run_every_job_exactly_once(tmp_path: Path, database_url: str | None) -> None:
    settings = settings_for(tmp_path, database_url)
    setup = open_store(settings)
    n = 24
    for i in range(n):
        add(setup, i)
    backend = Counting()
    stores = [open_store(settings) for _ in range(2)]
    stop = threading.Event()
    workers = [worker(s, backend, stop=stop, name=f"w{k}") for k, s in enumerate(stores)]
    threads = [run_in_thread(w.run_forever) for w in workers]
    deadline = time.monotonic() + 120
    while setup.count_jobs(JobStatus.succeeded) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert setup.count_jobs(JobStatus.succeeded) == n
    assert len(backend.runs) == n and set(backend.runs.values()) == {1}
    for i in range(n):
        job = setup.job(f"j{i}")
        assert job is not None and job.attempts == 1
    for s in [setup, *stores]:
        s.close()


def test_worker_processes_on_one_postgresql_run_every_job_once(tmp_path: Path, postgres_url: str) -> None:
    """`govbrief worker -n 2`: two processes claiming from one PostgreSQL."""
    settings = settings_for(tmp_path, postgres_url)
    store = open_store(settings)
    n = 30
    for i in range(n):
        add(store, i)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBRIEF_")}
    env.update(
        GOVBRIEF_DATABASE_URL=postgres_url,
        GOVBRIEF_BACKEND="rules",
        GOVBRIEF_DATA_DIR=str(tmp_path / "data"),
        GOVBRIEF_JOB_POLL_SECONDS="0.05",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", "from service.cli import main; main()", "worker", "-n", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while store.count_jobs(JobStatus.succeeded) < n and time.monotonic() < deadline:
            assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
            time.sleep(0.1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert store.count_jobs(JobStatus.succeeded) == n
    jobs = [store.job(f"j{i}") for i in range(n)]
    assert all(j is not None and j.attempts == 1 for j in jobs)
    assert err.count(b"running job") == n, err.decode()[-2000:]  # not one job started twice
    assert len({j.brief_id for j in jobs if j is not None}) == n
    store.close()
