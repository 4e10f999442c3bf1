"""Request dependencies: the app's singletons, and the API-key check (routes and /static).

Every dependency is `async def`: FastAPI runs plain `def` dependencies in the threadpool, a hop
that would cost more than the work they do.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from service.api.metrics import Metrics
from service.api.work import Briefer
from service.settings import Settings
from service.storage.base import Store

#: The cookie the key form on the pages sets, so that a browser can read briefs when keys are on.
KEY_COOKIE = "govbrief_key"


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def _briefer(request: Request) -> Briefer:
    briefer: Briefer = request.app.state.briefer
    return briefer


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]
BrieferDep = Annotated[Briefer, Depends(_briefer)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


def parse_keys(raw: str | None) -> tuple[bytes, ...]:
    return tuple(k.strip().encode() for k in (raw or "").split(",") if k.strip())


def key_is_valid(presented: str, keys: tuple[bytes, ...]) -> bool:
    candidate = presented.encode("utf-8", "surrogateescape")
    # Compare against every key, in constant time each, so timing tells nothing about which or how
    # much of a key matched.
    return any([hmac.compare_digest(candidate, key) for key in keys])


class NotAuthenticated(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            401,
            "missing or invalid API key: send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )


_bearer = HTTPBearer(
    auto_error=False, description="One of the keys in GOVBRIEF_API_KEYS (only when it is set)."
)


def presented_key(request: Request) -> str | None:
    """What the request offers as a key: `Authorization: Bearer <key>`, else the pages' cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(KEY_COOKIE)


def check_key(request: Request, keys: tuple[bytes, ...]) -> None:
    """Raise `NotAuthenticated` unless no keys are configured or the request presents one of them."""
    if not keys:
        return
    presented = presented_key(request)
    if not presented or not key_is_valid(presented, keys):
        raise NotAuthenticated()


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Open when no keys are configured; otherwise the Bearer header, or the pages' cookie.
    (`credentials` is there for the OpenAPI security scheme; `check_key` reads the same header.)"""
    del credentials
    check_key(request, request.app.state.api_keys)


Authorized = Depends(require_key)


class KeyedStaticFiles(StaticFiles):
    """/static behind the same key as every other endpoint (a mount takes no dependencies). The
    error is raised inside the app, so its handlers answer it like any other 401."""

    def __init__(self, *, keys: tuple[bytes, ...], **kw: Any) -> None:
        super().__init__(**kw)
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            check_key(Request(scope), self.keys)
        await super().__call__(scope, receive, send)
