"""`create_app(settings)`: the HTTP service, a thin edge over the pipeline.

Nothing here knows how a brief is made: the pipeline is called through `work.Briefer`, and the
pipeline never imports this package (an import-linter contract).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

from service import package_version
from service.api.auth import Auth, FailureThrottle, Sessions, parse_keys
from service.api.deps import Authorized, KeyedStaticFiles
from service.api.metrics import Metrics, MetricsMiddleware
from service.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from service.api.routes import briefs, job_pages, jobs, library, ops, pages
from service.api.templating import DOCS_CSP, error_page, is_page, page
from service.api.work import BackendFactory, Briefer, Renderer
from service.errors import BackendError, ConfigError, EmptyBriefError, InputError
from service.jobs import WorkerConfig, WorkerPool
from service.settings import Settings, get_settings
from service.storage import open_store
from service.storage.base import JobStatus

log = logging.getLogger("govbrief.api")

DESCRIPTION = """Grounded, structured briefs of Chinese local-government annual rule-of-law reports
(法治政府建设年度报告): achievements (主要成效), problems (存在问题) and plans (下一步安排), every item
cited to the sentences that state it.

When the server has `GOVBRIEF_API_KEYS` set, every endpoint but `/healthz` needs
`Authorization: Bearer <key>`; too many wrong keys from one client get 429 with `Retry-After`. Errors are `{"detail": "..."}` with one line naming the file and the problem.
"""


def create_app(
    settings: Settings | None = None,
    *,
    backend_factory: BackendFactory | None = None,
    clock: Callable[[], float] = time.time,
    warm: bool = False,
) -> FastAPI:
    """`backend_factory(name, settings)` builds backends (in the workers too, so it must pickle);
    tests pass one that fails or reports usage. `clock` times sessions and the wrong-key throttle;
    `warm` starts the run workers before the app answers (the server), not on the first report.
    Raises ConfigError for settings the server must not start with (e.g. short API keys)."""
    settings = settings or get_settings()
    keys = parse_keys(settings.api_keys)
    store = open_store(settings)
    metrics = Metrics()
    briefer = Briefer(settings, store, metrics, backend_factory)
    renderer = Renderer(settings)
    for status in (JobStatus.queued, JobStatus.running):
        # Counted in the store, so they include jobs that `govbrief worker` processes run.
        metrics.gauge(
            f"govbrief_jobs_{status.value}", f"Jobs {status.value} now (every worker on this store).",
            partial(store.count_jobs, status),
        )  # fmt: skip
    # Job workers on threads of this process (none with --workers 0: `govbrief worker` runs them).
    pool = WorkerPool(store, briefer.backend, WorkerConfig.from_settings(settings), settings.workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm:
            await asyncio.gather(briefer.warm(), renderer.warm())
        pool.start()
        yield
        # After uvicorn's grace period: runs still going are stopped, their workers ended.
        await run_in_threadpool(pool.close)
        await run_in_threadpool(briefer.close)
        await run_in_threadpool(renderer.close)
        store.close()

    app = FastAPI(
        title="govbrief",
        version=package_version() or "0.0.0",
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
            {"name": "jobs", "description": "Briefs made in the background, with their progress."},
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    app.state.briefer = briefer
    app.state.renderer = renderer
    app.state.workers = pool
    app.state.auth = auth = Auth(
        keys,
        Sessions(keys, store, settings.session_ttl, clock),
        FailureThrottle(settings.auth_failures_burst, settings.auth_failures_per_second, clock),
        metrics,
    )
    app.state.idempotency_in_flight = set()

    app.include_router(briefs.router)
    app.include_router(pages.router)
    app.include_router(ops.router)
    app.include_router(jobs.router)
    app.include_router(library.router)
    app.include_router(job_pages.router)
    _add_docs(app)
    app.mount("/static", KeyedStaticFiles(auth=auth, packages=[("service", "static")]), name="static")
    _add_exception_handlers(app)

    # add_middleware puts each new one outside the previous: metrics see every answer.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, timeout=settings.body_timeout
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Prefer"],
            expose_headers=["Location", "X-Brief-Id"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


#: Swagger UI's files, from the swagger-ui-bundle-v2 package: nothing is loaded from another origin.
_DOCS_ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}


def _add_docs(app: FastAPI) -> None:
    """The OpenAPI document and its Swagger UI, each needing a key (or a session) when keys are
    configured; a browser without one gets the key form, like the pages. The UI is served from
    files installed with the package, started by /static/docs.js (no inline script), under a CSP."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Authorized])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Authorized])
    async def docs(request: Request) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return page("docs.html", title=f"{app.title} - Swagger UI", root=root, csp=DOCS_CSP)

    @app.get("/docs/assets/{name}", include_in_schema=False, dependencies=[Authorized])
    async def docs_asset(name: str) -> FileResponse:
        if name not in _DOCS_ASSETS:
            raise HTTPException(404, "Not Found")
        return FileResponse(Path(str(swagger_ui_path)) / name)


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
