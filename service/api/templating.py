"""The pages: the package's one template environment (service.templating), one strict CSP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, Response

from service.api.sending import body_response
from service.templating import environment

# Everything the pages load comes from this server; no inline script or style anywhere.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: Swagger UI: its files and the spec from this server alone; it sets style attributes as it draws.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def is_page(path: str) -> bool:
    """Paths answered with pages, not JSON, errors included."""
    return path in ("/", "/briefs", "/session", "/logout", "/docs", "/library") or path.startswith(
        ("/briefs/", "/jobs/")
    )


def page(
    name: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    csp: str = _CSP,
    **context: Any,
) -> Response:
    return page_response(environment().get_template(name).render(**context), status_code, headers, csp=csp)


def page_response(
    html: str | bytes, status_code: int = 200, headers: Mapping[str, str] | None = None, *, csp: str = _CSP
) -> Response:
    """A rendered page (rendered here, or in a worker as bytes), with the CSP every page carries."""
    all_headers = {"Content-Security-Policy": csp, **(headers or {})}
    if isinstance(html, bytes):
        return body_response(html, "text/html; charset=utf-8", status_code, all_headers)
    return HTMLResponse(html, status_code, all_headers)


def error_page(
    status_code: int, message: str, headers: Mapping[str, str] | None = None, **context: Any
) -> Response:
    template = "login.html" if status_code == 401 else "error.html"
    return page(template, status_code, headers, status=status_code, message=message, **context)
