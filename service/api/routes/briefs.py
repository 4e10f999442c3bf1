"""`/v1/briefs`: create a brief from a report, read it back as JSON or Markdown."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.api import idempotency
from service.api.auth import caller
from service.api.deps import Authorized, BrieferDep, RendererDep, SettingsDep, StoreDep
from service.api.examples import EXAMPLE_BRIEF
from service.api.intake import disconnected, read_report, request_body_openapi
from service.api.routes import jobs
from service.api.sending import body_response
from service.api.work import Renderer
from service.models import Brief
from service.storage.base import Store

router = APIRouter(prefix="/v1/briefs", tags=["briefs"], dependencies=[Authorized])

JSON = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"


class BriefOut(Brief):
    id: str = Field(
        description="Where the brief is kept: GET /v1/briefs/{id}, /v1/briefs/{id}.md, /briefs/{id}"
    )


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="What is wrong, in one line (a list for invalid JSON fields)"
    )


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    what = {
        400: "A backend this server cannot use, or a malformed multipart body",
        401: "API keys are configured and the request has no valid one",
        409: "A request with the same Idempotency-Key is still being answered",
        429: "Too many wrong API keys from this client: wait for Retry-After seconds",
        404: "No brief with this id",
        408: "The body was not all received within GOVBRIEF_BODY_TIMEOUT",
        413: "The body is over the server's limit (GOVBRIEF_MAX_UPLOAD_BYTES)",
        415: "Not JSON or multipart, or a file type that is not a report (zip, .doc, .exe)",
        422: "An empty, undecodable or non-report file, a report over a limit (its run time included), "
        "invalid fields, or an Idempotency-Key reused for another request; the message names the file",
        502: "The LLM backend could not produce a brief",
        503: "Every worker and queue place is taken: retry after Retry-After seconds",
    }
    return {code: {"model": ErrorOut, "description": what[code]} for code in codes}


_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "model": BriefOut,
        "description": "The brief, stored; `Location` says where. With `format: md`, a Markdown brief "
        "(its id in `X-Brief-Id`).",
        "content": {JSON: {"example": EXAMPLE_BRIEF}, "text/markdown": {"schema": {"type": "string"}}},
        "headers": {
            "Location": {"description": "/v1/briefs/{id}", "schema": {"type": "string"}},
            "X-Brief-Id": {"description": "The new brief's id", "schema": {"type": "string"}},
        },
    },
    202: {
        "model": jobs.JobOut,
        "description": "With `Prefer: respond-async`: the job, stored and queued; `Location` is "
        "/v1/jobs/{id}, where its progress and then its brief's id are.",
        "headers": {"Location": {"description": "/v1/jobs/{id}", "schema": {"type": "string"}}},
    },
    **_errors(400, 401, 408, 409, 413, 415, 422, 429, 502, 503),
}


@router.post(
    "",
    status_code=201,
    summary="Brief a report",
    response_class=Response,
    responses=_CREATED,
    openapi_extra={"requestBody": request_body_openapi()},
)
async def create_brief(
    request: Request, settings: SettingsDep, briefer: BrieferDep, store: StoreDep, renderer: RendererDep
) -> Response:
    """Brief a report sent as JSON (`text`) or as a file upload (`file`: txt, md, html, pdf, docx; UTF-8 or
    GBK). Every item cites the sentences that state it. Identical requests in flight share one run.
    With an `Idempotency-Key` header, a retried request gets the brief the first one made. With
    `Prefer: respond-async` the answer is `202` and a job at once (see `/v1/jobs`)."""
    report = await read_report(request, max_bytes=settings.max_upload_bytes)
    if jobs.prefers_async(request):
        return jobs.accepted(await jobs.submit(request, report, briefer))
    opts = report.options
    once = await idempotency.claim(request, report, store, time.time())
    try:
        if once is not None and once.brief_id is not None:
            return await _replay(once.brief_id, opts.format, store, renderer)
        created = await briefer.create(
            report.data, report.filename, opts.backend, with_text=opts.with_text, owner=caller(request),
            gone=lambda: disconnected(request),
        )  # fmt: skip
        if once is not None:
            await run_in_threadpool(
                store.put_created_under, once.key, once.fingerprint, created.id, time.time()
            )
    finally:
        if once is not None:
            once.release()
    headers = {"Location": f"/v1/briefs/{created.id}", "X-Brief-Id": created.id}
    if opts.format == "md":
        return body_response(await _markdown(created.id, renderer), MARKDOWN, 201, headers)
    return body_response(created.body, JSON, 201, headers)


async def _replay(brief_id: str, format: str, store: Store, renderer: Renderer) -> Response:
    headers = {"Location": f"/v1/briefs/{brief_id}", "X-Brief-Id": brief_id, "Idempotent-Replayed": "true"}
    if format == "md":
        return body_response(await _markdown(brief_id, renderer), MARKDOWN, 201, headers)
    return body_response(await run_in_threadpool(_body, brief_id, store), JSON, 201, headers)


# Declared before "/{brief_id}", which would otherwise take "abc.md" as an id.
@router.get(
    "/{brief_id}.md",
    summary="A stored brief as Markdown",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}, **_errors(401, 404)},
)
async def get_brief_markdown(brief_id: str, renderer: RendererDep) -> Response:
    return body_response(await _markdown(brief_id, renderer), MARKDOWN)


async def _markdown(brief_id: str, renderer: Renderer) -> bytes:
    # Parsing and rendering a large brief takes seconds: in a worker process, never in the server.
    markdown = await renderer.markdown(brief_id)
    if markdown is None:
        raise _not_found(brief_id)
    return markdown


@router.get(
    "/{brief_id}",
    summary="A stored brief",
    response_class=Response,
    responses={200: {"model": BriefOut, "content": {JSON: {"example": EXAMPLE_BRIEF}}}, **_errors(401, 404)},
)
async def get_brief(brief_id: str, store: StoreDep) -> Response:
    """The brief as it was created (`source.text` only if it was asked for)."""
    # The body is stored ready to send, but may be tens of MB: read it off the event loop.
    return body_response(await run_in_threadpool(_body, brief_id, store), JSON)


def _body(brief_id: str, store: Store) -> bytes:
    body = store.body(brief_id)
    if body is None:
        raise _not_found(brief_id)
    return body


def _not_found(brief_id: str) -> HTTPException:
    return HTTPException(404, f"no brief with id {brief_id[:64]!r}")
