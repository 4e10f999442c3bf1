"""`/v1/briefs`: create a brief from a report, read it back as JSON or Markdown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from service import render
from service.api.deps import Authorized, BrieferDep, SettingsDep, StoreDep
from service.api.examples import EXAMPLE_BRIEF
from service.api.intake import read_report, request_body_openapi
from service.api.routes import jobs
from service.models import Brief

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
        404: "No brief with this id",
        413: "The body is over the server's limit (GOVBRIEF_MAX_UPLOAD_BYTES)",
        415: "Not JSON or multipart, or a file type that is not a report (zip, .doc, .exe)",
        422: "An empty, undecodable or non-report file, or invalid fields; the message names the file",
        502: "The LLM backend could not produce a brief",
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
    **_errors(400, 401, 413, 415, 422, 502),
}


@router.post(
    "",
    status_code=201,
    summary="Brief a report",
    response_class=Response,
    responses=_CREATED,
    openapi_extra={"requestBody": request_body_openapi()},
)
async def create_brief(request: Request, settings: SettingsDep, briefer: BrieferDep) -> Response:
    """Brief a report sent as JSON (`text`) or as a file upload (`file`: txt, md, html, pdf, docx; UTF-8 or
    GBK). Every item cites the sentences that state it. Identical requests in flight share one run.
    With `Prefer: respond-async` the answer is `202` and a job at once (see `/v1/jobs`)."""
    report = await read_report(request, max_bytes=settings.max_upload_bytes)
    if jobs.prefers_async(request):
        return jobs.accepted(await jobs.submit(request, report, briefer))
    opts = report.options
    created = await briefer.create(
        report.data, report.filename, opts.backend, with_text=opts.with_text, owner=jobs.caller(request)
    )
    headers = {"Location": f"/v1/briefs/{created.id}", "X-Brief-Id": created.id}
    if opts.format == "md":
        return Response(render.to_markdown(created.result.brief), 201, headers, media_type=MARKDOWN)
    return Response(created.body, 201, headers, media_type=JSON)


# Declared before "/{brief_id}", which would otherwise take "abc.md" as an id.
@router.get(
    "/{brief_id}.md",
    summary="A stored brief as Markdown",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}, **_errors(401, 404)},
)
async def get_brief_markdown(brief_id: str, store: StoreDep) -> Response:
    full = store.full(brief_id)
    if full is None:
        raise _not_found(brief_id)
    return Response(render.to_markdown(Brief.model_validate_json(full)), media_type=MARKDOWN)


@router.get(
    "/{brief_id}",
    summary="A stored brief",
    response_class=Response,
    responses={200: {"model": BriefOut, "content": {JSON: {"example": EXAMPLE_BRIEF}}}, **_errors(401, 404)},
)
async def get_brief(brief_id: str, store: StoreDep) -> Response:
    """The brief as it was created (`source.text` only if it was asked for)."""
    # A primary-key read of a cached body takes microseconds: done on the loop, no threadpool hop.
    body = store.body(brief_id)
    if body is None:
        raise _not_found(brief_id)
    return Response(body, media_type=JSON)


def _not_found(brief_id: str) -> HTTPException:
    return HTTPException(404, f"no brief with id {brief_id[:64]!r}")
