"""The browser side: an upload form on `/`, and a brief page beside its report text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.auth import SESSION_COOKIE, Auth, caller
from service.api.deps import Authorized, BrieferDep, RendererDep, SettingsDep
from service.api.intake import disconnected, read_report
from service.api.routes import jobs
from service.api.templating import error_page, page, page_response
from service.ingest import SUPPORTED_SUFFIXES
from service.settings import Settings
from service.storage.base import owner_of

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)

_FORMAT_ORDER = [".txt", ".md", ".html", ".htm", ".pdf", ".docx"]
_HTML: dict[str, Any] = {"content": {"text/html": {"schema": {"type": "string"}}}}
_PAGE_401: dict[int | str, dict[str, Any]] = {
    401: {"description": "API keys are configured: a page asking for one", **_HTML}
}


@router.get("/", summary="The upload form", dependencies=[Authorized], responses={200: _HTML, **_PAGE_401})
async def index(request: Request, settings: SettingsDep) -> Response:
    return page(
        "index.html",
        signed_in=SESSION_COOKIE in request.cookies,
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
        report.data, report.filename, report.options.backend, with_text=False,
        owner=caller(request), gone=lambda: disconnected(request),
    )  # fmt: skip
    # 303: the browser follows with a GET, so reloading the brief page does not post again.
    return RedirectResponse(f"/briefs/{created.id}", status_code=303)


@router.get(
    "/briefs/{brief_id}",
    summary="A brief beside its report text",
    dependencies=[Authorized],
    responses={200: _HTML, 404: {"description": "No brief with this id", **_HTML}, **_PAGE_401},
)
async def brief_page(request: Request, brief_id: str, renderer: RendererDep) -> Response:
    # Reading, parsing and rendering a long report's page take seconds: in a worker process.
    html = await renderer.page(brief_id, signed_in=SESSION_COOKIE in request.cookies)
    if html is None:
        return error_page(404, "没有找到这份简报（链接可能有误）。")
    return page_response(html)


@router.post("/session", include_in_schema=False)
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=512)],
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """The key form on the 401 page: a browser cannot send a Bearer header, so it gets a session."""
    auth: Auth = request.app.state.auth
    settings: Settings = request.app.state.settings
    response = RedirectResponse(_local(next), status_code=303)
    if not auth.keys:
        return response
    if not auth.try_key(request, key):  # raises Throttled (429) while this client must wait
        return error_page(401, "密钥不正确。", next=_local(next))
    cookie = await run_in_threadpool(auth.sessions.open, owner_of(key))
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=settings.session_ttl, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """Ends the browser session (in the store too, so a copied cookie stops working)."""
    auth: Auth = request.app.state.auth
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(auth.sessions.close, cookie)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _local(target: str) -> str:
    """Only redirect within this site: '/x' yes; '//evil.example', 'https://…', '/\\evil' no."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"
