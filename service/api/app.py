"""`create_app(settings)`: the HTTP service, a thin edge over the pipeline.

Nothing here knows how a brief is made: the pipeline is called through `work.Briefer`, and the
pipeline never imports this package (an import-linter contract).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from service.api.deps import Authorized, KeyedStaticFiles, parse_keys
from service.api.metrics import Metrics, MetricsMiddleware
from service.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from service.api.routes import briefs, ops, pages
from service.api.store import BriefStore
from service.api.templating import error_page, is_page
from service.api.work import BackendFactory, Briefer
from service.errors import BackendError, ConfigError, EmptyBriefError, InputError
from service.settings import Settings, get_settings

log = logging.getLogger("govbrief.api")

DESCRIPTION = """Grounded, structured briefs of Chinese local-government annual rule-of-law reports
(法治政府建设年度报告): achievements (主要成效), problems (存在问题) and plans (下一步安排), every item
cited to the sentences that state it.

When the server has `GOVBRIEF_API_KEYS` set, every endpoint but `/healthz` needs
`Authorization: Bearer <key>`. Errors are `{"detail": "..."}` with one line naming the file and the problem.
"""


def _version() -> str:
    try:
        return version("govbrief")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def create_app(settings: Settings | None = None, *, backend_factory: BackendFactory | None = None) -> FastAPI:
    """`backend_factory(name, settings)` builds backends; tests pass one that counts or fails."""
    settings = settings or get_settings()
    store = BriefStore(settings.data_dir / "briefs.sqlite3")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="govbrief",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        # /docs and /openapi.json are added below, behind the key like everything but /healthz.
        docs_url=None,
        openapi_url=None,
        openapi_tags=[
            {"name": "briefs", "description": "Brief a report; read stored briefs."},
            {"name": "pages", "description": "HTML pages for people."},
            {"name": "ops", "description": "Health and metrics."},
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    app.state.briefer = Briefer(settings, store, metrics, backend_factory)
    app.state.api_keys = parse_keys(settings.api_keys)

    app.include_router(briefs.router)
    app.include_router(pages.router)
    app.include_router(ops.router)
    _add_docs(app)
    app.mount(
        "/static", KeyedStaticFiles(keys=app.state.api_keys, packages=[("service", "static")]), name="static"
    )
    _add_exception_handlers(app)

    # add_middleware puts each new one outside the previous: metrics see every answer.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Location", "X-Brief-Id"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _add_docs(app: FastAPI) -> None:
    """The OpenAPI document and its Swagger UI, each needing a key (or the pages' cookie) when keys
    are configured; a browser without one gets the key form, like the pages."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Authorized])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Authorized])
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - Swagger UI")


def _error(request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> Response:
    if is_page(request.url.path):
        if status == 401:
            detail = "此服务需要访问密钥：请输入管理员提供的 API 密钥。"
        text = detail if isinstance(detail, str) else "; ".join(str(d.get("msg", d)) for d in detail)
        return error_page(status, text, headers, next=request.url.path)
    return JSONResponse({"detail": detail}, status, headers)


def _add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> Response:
        # The CLI's message, word for word: "<file>: <problem>".
        return _error(request, exc.status_code, str(exc))

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(EmptyBriefError)
    async def empty_brief(request: Request, exc: EmptyBriefError) -> Response:
        # Why the brief would be empty (ids the model cited, evidence it could not ground) names no
        # host or key: the client needs it to act (another model, another prompt).
        log.warning("empty brief: %s", exc)
        return _error(request, 502, f"the LLM's answers were unusable: {exc}")

    @app.exception_handler(BackendError)
    async def backend_error(request: Request, exc: BackendError) -> Response:
        # The LLM's own message may name internal hosts: it goes to the log, not to the client.
        log.warning("backend failed: %s", exc)
        return _error(
            request, 502, "the backend could not produce a brief; try again later, or use backend 'rules'"
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_page(request.url.path):
            return _error(request, 422, list(exc.errors()))
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware calls this; the traceback goes to the log only.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error"}, 500)
