"""`govbrief worker`: run the stored jobs in processes of their own, beside (or instead of) the
workers inside `govbrief serve`, from the same store (SQLite on this machine, or PostgreSQL)."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from service.cli.common import fail, load_settings
from service.errors import ConfigError, GovbriefError


def worker(
    processes: Annotated[
        int,
        typer.Option("--processes", "-n", min=1, max=256, help="Worker processes, one job at a time each."),
    ] = 1,
) -> None:
    """Run briefing jobs (queued by `POST /v1/briefs` with `Prefer: respond-async`, or the web form
    with an LLM) until stopped (Ctrl-C or SIGTERM: a running job goes back to the queue).

    The store is GOVBRIEF_DATABASE_URL (PostgreSQL; any number of machines) or the SQLite file in
    GOVBRIEF_DATA_DIR (this machine). A job whose worker was killed is run again once its lease
    (GOVBRIEF_JOB_LEASE_SECONDS) has run out; answers already cached are not asked again.

    Examples:

      govbrief worker -n 4

      GOVBRIEF_DATABASE_URL=postgresql://govbrief@db/govbrief govbrief worker -n 8
    """
    settings = load_settings()
    try:  # fail here, in one line, if the store cannot be opened
        from service.storage import open_store

        open_store(settings).close()
    except (GovbriefError, OSError) as e:
        fail(f"cannot start: {e}")
    where = "PostgreSQL" if settings.database_url else str(settings.data_dir)
    typer.echo(f"govbrief: {processes} worker process(es) on jobs in {where}", err=True)
    if processes == 1:
        _run_worker(1)
        return
    ctx = multiprocessing.get_context("spawn")
    children = [
        ctx.Process(target=_run_worker, args=(i + 1,), name=f"govbrief-worker-{i + 1}")
        for i in range(processes)
    ]
    for child in children:
        child.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: each puts its job back and exits

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()


def _run_worker(number: int) -> None:
    """One worker process: its own store connection and backends, one job at a time."""
    from service.backends.base import Backend
    from service.backends.registry import build_backend
    from service.jobs import Worker, WorkerConfig
    from service.storage import open_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    store = open_store(settings)
    stop = threading.Event()
    built: dict[str, Backend] = {}

    def backends(name: str | None) -> Backend:
        name = name or settings.default_backend()
        if name == "openai" and not settings.llm_configured:
            raise ConfigError("backend 'openai' is not configured on this worker (GOVBRIEF_LLM_MODEL …)")
        if name not in built:
            built[name] = build_backend(name, settings)
        return built[name]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    w = Worker(store, backends, WorkerConfig.from_settings(settings), stop=stop, name=f"process-{number}")
    # The loop on a thread, so that this one stays free to receive signals promptly.
    thread = threading.Thread(target=w.run_forever, name="govbrief-worker", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
    store.close()
