"""The browser side: an upload form on `/`, and a brief page beside its report text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import KEY_COOKIE, Authorized, BrieferDep, SettingsDep, StoreDep, key_is_valid
from service.api.intake import read_report
from service.api.routes import jobs
from service.api.templating import error_page, page
from service.api.view import brief_view
from service.ingest import SUPPORTED_SUFFIXES
from service.models import Brief

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)

_FORMAT_ORDER = [".txt", ".md", ".html", ".htm", ".pdf", ".docx"]
_HTML: dict[str, Any] = {"content": {"text/html": {"schema": {"type": "string"}}}}
_PAGE_401: dict[int | str, dict[str, Any]] = {
    401: {"description": "API keys are configured: a page asking for one", **_HTML}
}


@router.get("/", summary="The upload form", dependencies=[Authorized], responses={200: _HTML, **_PAGE_401})
async def index(settings: SettingsDep) -> Response:
    return page(
        "index.html",
        accept=",".join(sorted(SUPPORTED_SUFFIXES)),
        formats=" ".join(s.lstrip(".") for s in sorted(SUPPORTED_SUFFIXES, key=_FORMAT_ORDER.index)),
        max_mb=f"{settings.max_upload_bytes / (1 << 20):g}",
        llm=settings.llm_configured,
        default_backend=settings.default_backend(),
    )


@router.post("/briefs", dependencies=[Authorized], include_in_schema=False)
async def create_from_form(request: Request, settings: SettingsDep, briefer: BrieferDep) -> Response:
    report = await read_report(request, max_bytes=settings.max_upload_bytes)
    if (report.options.backend or settings.default_backend()) == "openai":
        # An LLM takes minutes: the browser waits on the job page, which shows the progress.
        job = await jobs.submit(request, report, briefer)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    created = await briefer.create(
        report.data, report.filename, report.options.backend, with_text=False, owner=jobs.caller(request)
    )
    # 303: the browser follows with a GET, so reloading the brief page does not post again.
    return RedirectResponse(f"/briefs/{created.id}", status_code=303)


@router.get(
    "/briefs/{brief_id}",
    summary="A brief beside its report text",
    dependencies=[Authorized],
    responses={200: _HTML, 404: {"description": "No brief with this id", **_HTML}, **_PAGE_401},
)
async def brief_page(brief_id: str, store: StoreDep) -> Response:
    full = store.full(brief_id)
    if full is None:
        return error_page(404, "没有找到这份简报（链接可能有误）。")
    # Parsing and rendering a long report's page takes milliseconds: off the event loop.
    return await run_in_threadpool(_brief_page, brief_id, full)


def _brief_page(brief_id: str, full: bytes) -> Response:
    brief = Brief.model_validate_json(full)
    return page("brief.html", id=brief_id, v=brief_view(brief), brief=brief)


@router.post("/session", include_in_schema=False)
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=512)],
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """The key form on the 401 page: a browser cannot send a Bearer header, so it keeps a cookie."""
    keys = request.app.state.api_keys
    response = RedirectResponse(_local(next), status_code=303)
    if not keys:
        return response
    if not key_is_valid(key, keys):
        return error_page(401, "密钥不正确。", next=_local(next))
    response.set_cookie(
        KEY_COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


def _local(target: str) -> str:
    """Only redirect within this site: '/x' yes; '//evil.example', 'https://…', '/\\evil' no."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"
