"""The library: `GET /v1/briefs` (and the page `/library`) lists the briefs made with the caller's
API key, newest first, a page at a time, filtered by region, year, genre and backend.

Only with API keys on: a key is what a brief belongs to. With keys off there is no listing, and a
brief's unguessable id stays the only thing that guards it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.api.auth import caller
from service.api.deps import Authorized, StoreDep
from service.api.templating import error_page, page
from service.storage.base import BriefFilter, BriefSummary, Store

router = APIRouter(dependencies=[Authorized])

NO_LISTING = "no listing: briefs are listed per API key, and this server has no GOVBRIEF_API_KEYS"


class BriefListed(BaseModel):
    id: str
    created: str = Field(description="ISO 8601, UTC")
    title: str | None
    region: str | None
    year: int | None
    genre: str | None
    backend: str


class BriefPage(BaseModel):
    items: list[BriefListed]
    total: int = Field(description="Briefs matching the filters, on all pages")
    page: int
    per_page: int
    next: str | None = Field(description="The next page's URL, when there is one")


class Filters(BaseModel):
    region: str | None = Field(default=None, max_length=100, description="Exactly as in report.region")
    year: int | None = Field(default=None, ge=1949, le=2200, description="The year reported on")
    genre: str | None = Field(default=None, max_length=100, description="report.genre")
    backend: str | None = Field(default=None, max_length=20, description="rules or openai")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=100)


def _listed(b: BriefSummary) -> dict[str, Any]:
    created = datetime.fromtimestamp(b.created, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "id": b.id,
        "created": created,
        "title": b.title,
        "region": b.region,
        "year": b.year,
        "genre": b.genre,
        "backend": b.backend,
    }


async def _page(request: Request, store: Store, q: Filters, path: str) -> dict[str, Any]:
    owner = caller(request)
    if owner is None:
        raise HTTPException(404, NO_LISTING)
    filters = BriefFilter(region=q.region, year=q.year, genre=q.genre, backend=q.backend)
    items, total = await run_in_threadpool(
        store.list_briefs, owner, filters, limit=q.per_page, offset=(q.page - 1) * q.per_page
    )
    nxt = None
    if q.page * q.per_page < total:
        params = {k: v for k, v in q.model_dump().items() if v is not None}
        nxt = f"{path}?{urlencode({**params, 'page': q.page + 1})}"
    return {
        "items": [_listed(b) for b in items],
        "total": total,
        "page": q.page,
        "per_page": q.per_page,
        "next": nxt,
    }


@router.get(
    "/v1/briefs",
    tags=["briefs"],
    summary="The briefs made with your key",
    response_model=BriefPage,
    responses={
        401: {"description": "API keys are configured and the request has no valid one"},
        404: {"description": "API keys are off: there is no listing"},
    },
)
async def list_briefs(request: Request, store: StoreDep, q: Annotated[Filters, Query()]) -> JSONResponse:
    """Newest first. Only the briefs made with the key this request presents."""
    return JSONResponse(await _page(request, store, q, "/v1/briefs"))


@router.get("/library", include_in_schema=False, response_class=HTMLResponse)
async def library_page(request: Request, store: StoreDep, q: Annotated[Filters, Query()]) -> Response:
    if caller(request) is None:
        return error_page(404, "简报列表按 API 密钥区分，本服务未启用 API 密钥，因此不提供列表。")
    listing = await _page(request, store, q, "/library")
    return page("library.html", listing=listing, q=q)
