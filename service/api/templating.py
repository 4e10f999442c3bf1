"""Jinja2 for the pages: package templates, autoescaping always on, one strict CSP."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

# Everything the pages load comes from this server; no inline script or style anywhere.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def is_page(path: str) -> bool:
    """Paths answered with pages, not JSON, errors included."""
    return path in ("/", "/briefs", "/session", "/docs", "/library") or path.startswith(
        ("/briefs/", "/jobs/")
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    # autoescape=True for every template, whatever its name: all report text is untrusted.
    return Environment(
        loader=PackageLoader("service", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(
    name: str, status_code: int = 200, headers: Mapping[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code, {"Content-Security-Policy": _CSP, **(headers or {})})


def error_page(
    status_code: int, message: str, headers: Mapping[str, str] | None = None, **context: Any
) -> HTMLResponse:
    template = "login.html" if status_code == 401 else "error.html"
    return page(template, status_code, headers, status=status_code, message=message, **context)
