"""The pages: the package's one template environment (service.templating), one strict CSP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse

from service.templating import environment

# Everything the pages load comes from this server; no inline script or style anywhere.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def is_page(path: str) -> bool:
    """Paths answered with pages, not JSON, errors included."""
    return path in ("/", "/briefs", "/session", "/docs") or path.startswith("/briefs/")


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
