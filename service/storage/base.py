"""What the service keeps, whatever the engine: briefs and jobs, behind one small Protocol.

Two implementations: SQLite (`sqlite.py`, the embedded default: one file under GOVBRIEF_DATA_DIR)
and PostgreSQL (`postgres.py`, with GOVBRIEF_DATABASE_URL: any number of servers and workers on any
number of machines share it). The LLM answer cache follows the same setting (`open_answer_cache`).

Jobs. A job is stored (with its report's bytes) before it is acknowledged. A worker *claims* it:
the job turns `running` under a claim token and a lease (`lease_until`) that the worker renews with
heartbeats. Every later write of that worker names its token, so a worker that lost its lease (it
stalled, or the job was cancelled) can no longer change the job. A job whose lease has run out (its
process was killed) is claimable again, until `max_attempts` claims have been spent. Time is always
passed in (`now`), so tests drive leases with a fake clock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from service.progress import Progress


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def done(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


class ErrorKind(StrEnum):
    """Why a job failed, for people: the page says each in Chinese."""

    input = "input"  # the report cannot be read or is not a report (the message names the file)
    backend = "backend"  # the LLM gave no usable answer
    config = "config"  # the server cannot use the backend asked for
    internal = "internal"  # a bug, or the job kept killing its workers


@dataclass(frozen=True)
class NewJob:
    id: str
    data: bytes
    filename: str
    backend: str | None  # None: the server's default when the job runs
    with_text: bool = False
    owner: str | None = None  # the key's fingerprint when API keys are on


@dataclass
class Job:
    id: str
    status: JobStatus
    created: float
    updated: float
    filename: str
    backend: str | None
    with_text: bool
    owner: str | None
    attempts: int = 0
    brief_id: str | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    progress: Progress = field(default_factory=lambda: Progress(0, 0))
    lease_until: float | None = None
    claim: str | None = None  # the token of the claim running it (only for the worker holding it)


@dataclass(frozen=True)
class BriefRow:
    """A brief as stored: the served JSON body (id first) and the full Brief with its text, plus
    the facts the library lists and filters by."""

    id: str
    sha256: str
    backend: str
    body: bytes
    full: bytes
    owner: str | None = None
    title: str | None = None
    region: str | None = None
    year: int | None = None
    genre: str | None = None


@dataclass(frozen=True)
class BriefSummary:
    id: str
    created: float
    backend: str
    title: str | None
    region: str | None
    year: int | None
    genre: str | None


@dataclass(frozen=True)
class BriefFilter:
    region: str | None = None
    year: int | None = None
    genre: str | None = None
    backend: str | None = None


class Store(Protocol):
    """Briefs and jobs. Every method is safe to call from many threads."""

    # --- briefs ---
    def put_brief(self, row: BriefRow) -> None: ...
    def body(self, brief_id: str) -> bytes | None: ...
    def full(self, brief_id: str) -> bytes | None: ...
    def list_briefs(
        self, owner: str, filters: BriefFilter, *, limit: int, offset: int
    ) -> tuple[list[BriefSummary], int]:
        """One page of `owner`'s briefs, newest first, and how many there are in all."""
        ...

    # --- jobs ---
    def add_job(self, job: NewJob, *, now: float) -> Job: ...
    def job(self, job_id: str) -> Job | None: ...
    def job_input(self, job_id: str) -> bytes | None: ...
    def claim(self, token: str, *, now: float, lease: float, max_attempts: int) -> Job | None:
        """The oldest claimable job (queued, or running with its lease run out), now running under
        `token`; None when there is none. No two callers ever get the same claim. A job whose
        claims are all spent is failed instead, and the next one is looked at."""
        ...

    def heartbeat(
        self, job_id: str, token: str, *, now: float, lease: float, progress: Progress | None = None
    ) -> bool:
        """Renew the lease (and record progress); False when `token` no longer holds the job."""
        ...

    def progress_since(self, job_id: str, after: int) -> list[tuple[int, Progress]]:
        """Every progress report of the job after sequence number `after`, in order: a stream
        reader that fell behind still sees each chunk."""
        ...

    def count_jobs(self, status: JobStatus) -> int: ...

    def release(self, job_id: str, token: str, *, now: float) -> bool:
        """Put a running job back in the queue (its worker is shutting down)."""
        ...

    def succeed(self, job_id: str, token: str, brief: BriefRow, *, now: float) -> bool:
        """Store the brief and end the job with it, in one transaction; False (and nothing stored)
        when `token` no longer holds the job."""
        ...

    def fail(self, job_id: str, token: str, kind: ErrorKind, error: str, *, now: float) -> bool: ...
    def cancel(self, job_id: str, *, now: float) -> Job | None:
        """Cancel a job that has not ended (a running one stops at its next report); the job as it
        now is, or None when there is no such job."""
        ...

    # --- the server's browser sessions and Idempotency-Key answers ---
    def add_session(self, digest: str, owner: str, expires: float, now: float) -> None:
        """Keep a session (by the sha256 of its id: a copy of the database opens none) for the
        caller `owner`; sessions that have run out are dropped on the way."""
        ...

    def session_owner(self, digest: str, now: float) -> str | None:
        """The owner of a session that has not run out; None for any other."""
        ...

    def drop_session(self, digest: str) -> None: ...
    def created_under(self, key: str, now: float) -> tuple[str, str] | None:
        """(request fingerprint, brief id) of the brief created under an Idempotency-Key, if it
        is still kept (IDEMPOTENCY_TTL)."""
        ...

    def put_created_under(self, key: str, fingerprint: str, brief_id: str, now: float) -> None: ...

    def ping(self) -> bool: ...
    def close(self) -> None: ...


#: How long an ended job's progress reports are kept (for event streams that fell behind); they are
#: pruned when the next job is added.
PROGRESS_KEPT = 3600.0

#: The pruning, for both engines (`{p}` is the engine's placeholder).
PRUNE_PROGRESS = (
    "DELETE FROM job_progress WHERE job_id IN (SELECT id FROM jobs "
    "WHERE status IN ('succeeded', 'failed', 'cancelled') AND updated < {p})"
)

#: How long an Idempotency-Key's answer is kept: longer than any client retries.
IDEMPOTENCY_TTL = 24 * 3600

#: The tables of sessions and Idempotency-Key answers, the same in both engines (`{real}` is the
#: engine's floating-point type).
SERVER_TABLES = """
CREATE TABLE IF NOT EXISTS sessions (
    digest  TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    expires {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created     {real} NOT NULL,
    brief_id    TEXT NOT NULL
);
"""


def owner_of(key: str) -> str:
    """What a brief records of the API key that made it: a fingerprint, never the key."""
    return hashlib.sha256(b"govbrief-owner\0" + key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def progress_json(progress: Progress) -> str:
    return json.dumps(progress.as_dict(), separators=(",", ":"))


def progress_from(raw: str | dict[str, Any] | None) -> Progress:
    data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return Progress(**{k: int(v) for k, v in data.items() if k in Progress.__dataclass_fields__})


def brief_facts(report: Any) -> dict[str, Any]:
    """The listing's columns from a Brief's `report` (genre only where the Brief has one)."""
    genre = getattr(report, "genre", None)
    return {
        "title": report.title,
        "region": report.region,
        "year": report.year,
        "genre": str(getattr(genre, "value", genre)) if genre is not None else None,
    }


#: The columns a Job is read from, in this order, by both engines.
JOB_COLUMNS = (
    "id, status, created, updated, filename, backend, with_text, owner, attempts, brief_id, error, "
    "error_kind, progress, lease_until, claim"
)

#: Claimable: waiting, or running under a lease that has run out (its worker died).
CLAIMABLE = "(status = 'queued' OR (status = 'running' AND lease_until < {now}))"


def job_from_row(row: tuple[Any, ...] | Any) -> Job:
    (id_, status, created, updated, filename, backend, with_text, owner, attempts, brief_id, error,
     kind, progress, lease_until, claim) = row  # fmt: skip
    return Job(
        id=id_,
        status=JobStatus(status),
        created=float(created),
        updated=float(updated),
        filename=filename,
        backend=backend,
        with_text=bool(with_text),
        owner=owner,
        attempts=int(attempts),
        brief_id=brief_id,
        error=error,
        error_kind=ErrorKind(kind) if kind else None,
        progress=progress_from(progress),
        lease_until=float(lease_until) if lease_until is not None else None,
        claim=claim,
    )


def gave_up(attempts: int) -> str:
    return f"gave up after {attempts} attempts: every worker that ran this job stopped before it ended"


def listing_where(owner: str, filters: BriefFilter, placeholder: str) -> tuple[str, list[Any]]:
    """The WHERE clause of a library page (both engines; `placeholder` is `?` or `%s`)."""
    clauses, params = [f"owner = {placeholder}"], [owner]
    for column in ("region", "year", "genre", "backend"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = {placeholder}")
            params.append(value)
    return " AND ".join(clauses), params
