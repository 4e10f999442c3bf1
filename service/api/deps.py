"""Request dependencies: the app's singletons, and the API-key check.

Every dependency is `async def`: FastAPI runs plain `def` dependencies in the threadpool, a hop
that would cost more than the work they do.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from service.api.metrics import Metrics
from service.api.store import BriefStore
from service.api.work import Briefer
from service.settings import Settings

#: The cookie the key form on the pages sets, so that a browser can read briefs when keys are on.
KEY_COOKIE = "govbrief_key"


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _store(request: Request) -> BriefStore:
    store: BriefStore = request.app.state.store
    return store


async def _briefer(request: Request) -> Briefer:
    briefer: Briefer = request.app.state.briefer
    return briefer


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[BriefStore, Depends(_store)]
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


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Open when no keys are configured; otherwise the Bearer header, or the pages' cookie."""
    keys: tuple[bytes, ...] = request.app.state.api_keys
    if not keys:
        return
    presented = credentials.credentials if credentials else request.cookies.get(KEY_COOKIE)
    if not presented or not key_is_valid(presented, keys):
        raise NotAuthenticated()


Authorized = Depends(require_key)
