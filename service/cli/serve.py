"""`govbrief serve`: the HTTP API and the brief pages, on uvicorn."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from service.cli.common import error, fail, load_settings
from service.errors import GovbriefError


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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=64,
            help="Job workers in this process (default GOVBRIEF_WORKERS, 2); 0: jobs are left to `govbrief worker`.",
        ),
    ] = None,
) -> None:
    """Serve the briefs API (/v1/briefs, OpenAPI at /docs) and the brief pages (/) with uvicorn.

    Backend: the LLM when one is configured (GOVBRIEF_LLM_*), else rules. Briefs are kept in GOVBRIEF_DATA_DIR and survive restarts. GOVBRIEF_API_KEYS (comma-separated, 16 characters or more each) makes every endpoint but /healthz need `Authorization: Bearer <key>`. A report's run is stopped after GOVBRIEF_RUN_TIME_LIMIT seconds; SIGTERM waits GOVBRIEF_SHUTDOWN_GRACE seconds for requests in flight.

    Examples:

      govbrief serve

      GOVBRIEF_API_KEYS=$(openssl rand -hex 16) govbrief serve --host 0.0.0.0 --port 8080
    """
    import uvicorn  # only this command needs the server (and the app)

    from service.api import create_app
    from service.api.server import ANSWER_SECONDS, GracefulServer

    settings = load_settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    try:
        app = create_app(settings, warm=True)
    except (GovbriefError, OSError) as e:
        fail(f"cannot start: {e}")
    # Bind before saying "serving on": a busy port is one line and exit 2, not a log after a promise.
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    if not settings.api_keys and not _is_loopback(host):
        error(f"warning: listening on {host} with no GOVBRIEF_API_KEYS: anyone who can reach it can use it")
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"govbrief: serving on http://{shown}:{port}/ (backend {settings.default_backend()}, "
        f"briefs in {'PostgreSQL' if settings.database_url else settings.data_dir}, "
        f"{settings.workers} job worker(s))",
        err=True,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=access_log,
        server_header=False,
        # Idle connections are closed; past max_connections, new work is answered 503 at once.
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
        # Past the grace period, runs are stopped and answered 503 (below); this is for the answers.
        timeout_graceful_shutdown=settings.shutdown_grace + ANSWER_SECONDS,
    )
    try:
        GracefulServer(config, app.state.briefer.stop_runs, settings.shutdown_grace).run(sockets=[sock])
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (what uvicorn would bind), or one error line and exit 2."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:
        fail(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}")
    family, type_, proto, _, address = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as e:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}")
    return sock
