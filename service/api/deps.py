"""Request dependencies: the app's singletons, and the API-key check (routes and /static).

Every dependency is `async def`: FastAPI runs plain `def` dependencies in the threadpool, a hop
that would cost more than the work they do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from service.api.auth import Auth
from service.api.metrics import Metrics
from service.api.work import Briefer, Renderer
from service.settings import Settings
from service.storage.base import Store


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def _briefer(request: Request) -> Briefer:
    briefer: Briefer = request.app.state.briefer
    return briefer


async def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]
BrieferDep = Annotated[Briefer, Depends(_briefer)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
RendererDep = Annotated[Renderer, Depends(_renderer)]


_bearer = HTTPBearer(
    auto_error=False, description="One of the keys in GOVBRIEF_API_KEYS (only when it is set)."
)


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Open when no keys are configured; otherwise the Bearer header, or a browser session.
    (`credentials` is there for the OpenAPI security scheme; `Auth.check` reads the same header.)"""
    del credentials
    auth: Auth = request.app.state.auth
    auth.check(request)


Authorized = Depends(require_key)


class KeyedStaticFiles(StaticFiles):
    """/static behind the same key as every other endpoint (a mount takes no dependencies). The
    error is raised inside the app, so its handlers answer it like any other 401."""

    def __init__(self, *, auth: Auth, **kw: Any) -> None:
        super().__init__(**kw)
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.auth.check(Request(scope))
        await super().__call__(scope, receive, send)
