"""uvicorn's server, with a shutdown that stops runs once the grace period is over."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

#: Seconds, after the grace period, for the requests whose runs were stopped to get their 503.
ANSWER_SECONDS = 5


class GracefulServer(uvicorn.Server):
    """On SIGTERM, requests in flight get `grace` seconds; then the runs still going are stopped, so
    that their requests are answered (503) rather than cut off when uvicorn gives up on them."""

    def __init__(self, config: uvicorn.Config, stop_runs: Callable[[], None], grace: float) -> None:
        super().__init__(config)
        self.stop_runs, self.grace = stop_runs, grace

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        timer = asyncio.get_running_loop().call_later(self.grace, self.stop_runs)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()
