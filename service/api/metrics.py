"""Prometheus metrics (prometheus-client), one registry per app so that apps never share counts."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: What `generate_latest` writes: the text format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

# A `_created` timestamp series beside every counter doubles the output and tells nothing here.
disable_created_metrics()


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "govbrief_http_requests",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "govbrief_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ("route",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.briefs_created = Counter(
            "govbrief_briefs_created", "Briefs created and stored.", ("backend",), registry=r
        )
        self.pipeline_runs = Counter(
            "govbrief_pipeline_runs",
            "Pipeline runs by outcome (ok, rejected input, stopped at the time limit, error); "
            "identical concurrent requests share one.",
            ("backend", "outcome"),
            registry=r,
        )
        self.pipeline_seconds = Histogram(
            "govbrief_pipeline_duration_seconds",
            "Time to brief one report.",
            ("backend",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.coalesced = Counter(
            "govbrief_requests_coalesced",
            "Requests that waited on an identical run already in flight.",
            registry=r,
        )
        self.runs_refused = Counter(
            "govbrief_runs_refused", "Runs refused with 503: every worker and queue place taken.", registry=r
        )
        self.auth_throttled = Counter(
            "govbrief_auth_throttled", "Requests refused with 429 after too many wrong keys.", registry=r
        )
        self.llm_calls = Counter(
            "govbrief_llm_calls", "HTTP calls to the LLM endpoint.", ("backend",), registry=r
        )
        self.llm_tokens = Counter("govbrief_llm_tokens", "LLM tokens spent.", ("backend", "kind"), registry=r)
        self.llm_cache_hits = Counter(
            "govbrief_llm_cache_hits",
            "Briefs answered entirely from the LLM answer cache.",
            ("backend",),
            registry=r,
        )

    def gauge(self, name: str, help: str, read: Callable[[], float]) -> None:
        """A value read at scrape time (e.g. runs in flight)."""
        Gauge(name, help, registry=self.registry).set_function(read)

    def render(self) -> str:
        return generate_latest(self.registry).decode()


class MetricsMiddleware:
    """Counts every response, 4xx and 5xx included, by route template (never by raw path, whose
    brief ids would make one series per brief)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_of(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "unmatched"
