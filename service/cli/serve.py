"""`govbrief serve`: the HTTP API and the brief pages, on uvicorn."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from service.cli.common import error, fail
from service.errors import GovbriefError
from service.settings import get_settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8000,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
) -> None:
    """Serve the briefs API (/v1/briefs, OpenAPI at /docs) and the brief pages (/) with uvicorn.

    Backend: the LLM when one is configured (GOVBRIEF_LLM_*), else rules.
    Briefs are kept in GOVBRIEF_DATA_DIR and survive restarts.
    GOVBRIEF_API_KEYS (comma-separated) makes every endpoint but /healthz need `Authorization: Bearer <key>`.

    Examples:

      govbrief serve

      GOVBRIEF_API_KEYS=s3cret govbrief serve --host 0.0.0.0 --port 8080
    """
    import uvicorn  # only this command needs the server (and the app)

    from service.api import create_app

    settings = get_settings()
    try:
        app = create_app(settings)
    except (GovbriefError, OSError) as e:
        fail(f"cannot start: {e}")
    if not settings.api_keys and not _is_loopback(host):
        error(f"warning: listening on {host} with no GOVBRIEF_API_KEYS: anyone who can reach it can use it")
    typer.echo(
        f"govbrief: serving on http://{host}:{port}/ (backend {settings.default_backend()}, "
        f"briefs in {settings.data_dir})",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, access_log=access_log, server_header=False)
