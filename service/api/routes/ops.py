"""Operations: liveness for load balancers (always open) and Prometheus metrics (behind the key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from service.api.deps import Authorized, MetricsDep, SettingsDep, StoreDep
from service.api.metrics import CONTENT_TYPE

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str
    backend: str


@router.get(
    "/healthz",
    summary="Liveness and store check (no key needed)",
    response_model=Health,
    responses={503: {"model": Health, "description": "The brief store cannot be read"}},
)
async def healthz(settings: SettingsDep, store: StoreDep) -> Response:
    ok = store.ping()
    body = Health(status="ok" if ok else "store unavailable", backend=settings.default_backend())
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Authorized],
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}},
        401: {"description": "API keys are configured and the request has no valid one"},
    },
)
async def metrics(metrics: MetricsDep) -> Response:
    # In a thread: some gauges are read from the store (the job counts), a query away.
    return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE)
