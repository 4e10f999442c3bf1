"""Prometheus text-format metrics, written by hand: a few counters and histograms need no library.

Format: https://prometheus.io/docs/instrumenting/exposition_formats/ (version 0.0.4).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class Counter:
    def __init__(self, name: str, help: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labelnames = name, help, labelnames
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        out += [f"{self.name}{_labels(self.labelnames, k)} {_num(v)}" for k, v in items]
        return out


class Gauge:
    """A value read at scrape time (e.g. runs in flight)."""

    def __init__(self, name: str, help: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help, read

    def lines(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {_num(self.read())}",
        ]


class Histogram:
    def __init__(
        self,
        name: str,
        help: str,
        labelnames: tuple[str, ...] = (),
        buckets: Iterable[float] = _LATENCY_BUCKETS,
    ) -> None:
        self.name, self.help, self.labelnames = name, help, labelnames
        self.buckets = tuple(sorted(buckets))
        # per label set: [count per bucket (not cumulative)..., +Inf count], sum
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        i = next((n for n, b in enumerate(self.buckets) if value <= b), len(self.buckets))
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[i] += 1
            total[0] += value

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            series = sorted((k, (list(c), t[0])) for k, (c, t) in self._series.items())
        for labels, (counts, total) in series:
            running = 0
            for bound, n in zip((*self.buckets, float("inf")), counts, strict=True):
                running += n
                le = 'le="+Inf"' if bound == float("inf") else f'le="{_num(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {running}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, labels)} {_num(total)}")
            out.append(f"{self.name}_count{_labels(self.labelnames, labels)} {running}")
        return out


class Metrics:
    def __init__(self) -> None:
        self.requests = Counter(
            "govbrief_http_requests_total",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
        )
        self.latency = Histogram(
            "govbrief_http_request_duration_seconds", "HTTP request latency by route template.", ("route",)
        )
        self.briefs_created = Counter(
            "govbrief_briefs_created_total", "Briefs created and stored.", ("backend",)
        )
        self.pipeline_runs = Counter(
            "govbrief_pipeline_runs_total",
            "Pipeline runs by outcome (ok, rejected input, error); identical concurrent requests share one.",
            ("backend", "outcome"),
        )
        self.pipeline_seconds = Histogram(
            "govbrief_pipeline_duration_seconds", "Time to brief one report.", ("backend",)
        )
        self.coalesced = Counter(
            "govbrief_requests_coalesced_total", "Requests that waited on an identical run already in flight."
        )
        self.llm_calls = Counter("govbrief_llm_calls_total", "HTTP calls to the LLM endpoint.", ("backend",))
        self.llm_tokens = Counter("govbrief_llm_tokens_total", "LLM tokens spent.", ("backend", "kind"))
        self.llm_cache_hits = Counter(
            "govbrief_llm_cache_hits_total",
            "Briefs answered entirely from the LLM answer cache.",
            ("backend",),
        )
        self._gauges: list[Gauge] = []

    def gauge(self, name: str, help: str, read: Callable[[], float]) -> None:
        self._gauges.append(Gauge(name, help, read))

    def render(self) -> str:
        families: list[Counter | Histogram | Gauge] = [
            self.requests, self.latency, self.briefs_created, self.pipeline_runs, self.pipeline_seconds,
            self.coalesced, self.llm_calls, self.llm_tokens, self.llm_cache_hits, *self._gauges,
        ]  # fmt: skip
        return "\n".join(line for family in families for line in family.lines()) + "\n"


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
            self.metrics.requests.inc(method, route, str(status))
            self.metrics.latency.observe(time.perf_counter() - started, route)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "unmatched"
