"""`/v1/jobs`: briefs made in the background. `POST /v1/briefs` with `Prefer: respond-async` (and
the web form, when the backend is an LLM) stores a job and answers 202 at once; a worker (in this
process or `govbrief worker`) runs it; these routes show it, stream its progress and cancel it.

With API keys on, a job belongs to the key that made it: another key gets 404.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.api.auth import caller
from service.api.deps import Authorized, SettingsDep, StoreDep
from service.api.intake import Report
from service.api.work import Briefer, check_backend
from service.jobs import new_id
from service.storage.base import Job, JobStatus, NewJob, Store

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Authorized])

#: A comment line this often keeps proxies from closing a quiet event stream.
KEEPALIVE_SECONDS = 15.0


class ProgressOut(BaseModel):
    chunks_done: int = Field(description="Chunks answered so far (cached answers included)")
    chunks_total: int = Field(description="Chunks the report was cut into (0 until it is read)")
    calls: int = Field(description="LLM calls made so far")
    prompt_tokens: int
    completion_tokens: int


class JobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    created: str = Field(description="When the job was stored (ISO 8601, UTC)")
    updated: str
    attempts: int = Field(description="Times a worker has taken it up (a restart takes it up again)")
    brief_id: str | None = Field(description="The brief, once succeeded: GET /v1/briefs/{brief_id}")
    error: str | None = Field(description="Why it failed, in one line")
    error_kind: str | None = Field(description="input, backend, config or internal")
    progress: ProgressOut


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status.value,
        "created": _iso(job.created),
        "updated": _iso(job.updated),
        "attempts": job.attempts,
        "brief_id": job.brief_id,
        "error": job.error,
        "error_kind": job.error_kind.value if job.error_kind else None,
        "progress": job.progress.as_dict(),
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prefers_async(request: Request) -> bool:
    """RFC 7240: `Prefer: respond-async` (among other preferences, any case)."""
    return any(
        part.split(";", 1)[0].split("=", 1)[0].strip().lower() == "respond-async"
        for value in request.headers.getlist("prefer")
        for part in value.split(",")
    )


async def submit(request: Request, report: Report, briefer: Briefer) -> Job:
    """Store the report as a job (before anything is acknowledged) and wake a worker."""
    # A backend this server is not configured for is refused now, not after a trip through the
    # queue; nothing is built here (the worker builds it), so the 202 does not wait on an import.
    check_backend(report.options.backend or briefer.settings.default_backend(), briefer.settings)
    job = NewJob(
        id=new_id(),
        data=report.data,
        filename=report.filename,
        backend=report.options.backend,
        with_text=report.options.with_text,
        owner=caller(request),
    )
    store: Store = request.app.state.store
    stored = await run_in_threadpool(store.add_job, job, now=time.time())
    request.app.state.workers.notify()
    return stored


def accepted(job: Job) -> Response:
    return JSONResponse(
        job_json(job),
        202,
        {"Location": f"/v1/jobs/{job.id}", "Preference-Applied": "respond-async"},
    )


async def visible_job(request: Request, store: Store, job_id: str) -> Job:
    job = await run_in_threadpool(store.job, job_id)
    if job is None or (request.app.state.auth.keys and job.owner != caller(request)):
        raise HTTPException(404, f"no job with id {job_id[:64]!r}")
    return job


_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No job with this id (or not made with this key)"}
}
_401: dict[int | str, dict[str, Any]] = {
    401: {"description": "API keys are configured and the request has no valid one"}
}


@router.get("/{job_id}", summary="A job", response_model=JobOut, responses={**_401, **_404})
async def get_job(job_id: str, request: Request, store: StoreDep) -> JSONResponse:
    """Its status, its progress, and the brief's id once it has succeeded."""
    return JSONResponse(job_json(await visible_job(request, store, job_id)))


@router.delete(
    "/{job_id}",
    summary="Cancel a job",
    response_model=JobOut,
    responses={**_401, **_404, 409: {"description": "The job has already ended"}},
)
async def cancel_job(job_id: str, request: Request, store: StoreDep) -> JSONResponse:
    """A queued job never runs; a running one stops at its next chunk and stores nothing."""
    job = await visible_job(request, store, job_id)
    if job.status.done:
        if job.status is JobStatus.cancelled:
            return JSONResponse(job_json(job))
        raise HTTPException(409, f"job {job_id} has already ended ({job.status.value})")
    cancelled = await run_in_threadpool(store.cancel, job_id, now=time.time())
    assert cancelled is not None
    return JSONResponse(job_json(cancelled), 200 if cancelled.status is JobStatus.cancelled else 409)


@router.get(
    "/{job_id}/events",
    summary="A job's progress as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **_401,
        **_404,
    },
)
async def job_events(job_id: str, request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """One event (`data:` the job, as `GET /v1/jobs/{id}` gives it) at once, one per progress report
    (every chunk answered), and one when it ends, after which the stream closes. `Last-Event-ID`
    resumes after that event."""
    job = await visible_job(request, store, job_id)
    try:
        after = int(request.headers.get("last-event-id", "0"))
    except ValueError:
        after = 0
    poll = min(settings.job_poll_seconds, 0.25)
    return StreamingResponse(
        _stream(request, store, job, after, poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(request: Request, store: Store, job: Job, after: int, poll: float) -> AsyncIterator[bytes]:
    def event(current: Job, seq: int | None = None) -> bytes:
        head = f"id: {seq}\n" if seq is not None else ""
        return f"{head}data: {json.dumps(job_json(current), ensure_ascii=False)}\n\n".encode()

    last_sent = time.monotonic()
    yield event(job)
    while True:
        # Read the job before its reports: a report stored after this read is picked up next turn.
        current = await run_in_threadpool(store.job, job.id)
        if current is None:
            return
        reports = await run_in_threadpool(store.progress_since, job.id, after)
        for seq, progress in reports:
            after = seq
            # Each report as the job stood then: running, at that point.
            snapshot = replace(
                current,
                status=JobStatus.running,
                progress=progress,
                brief_id=None,
                error=None,
                error_kind=None,
            )
            yield event(snapshot, seq)
            last_sent = time.monotonic()
        if current.status.done:
            yield event(current, after or None)
            return
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(poll)
