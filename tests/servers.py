"""`govbrief serve` as a real process, for the tests and benchmarks that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    data_dir: Path | str,
    *,
    timeout: float = 30.0,
    capture: bool = False,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `govbrief serve` (rules backend, no GOVBRIEF_* from the caller's environment, plus
    `env`) on a free port (or `port`) and wait until /healthz answers. Returns the process and its
    base URL; the caller stops it. With `capture`, its stdout and stderr go to `proc.stdout`."""
    port = port or free_port()
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBRIEF_")}
    env.update(GOVBRIEF_DATA_DIR=str(data_dir), GOVBRIEF_BACKEND="rules")
    env.update(extra)
    cmd = [
        sys.executable,
        "-c",
        "from service.cli import main; main()",
        "serve",
        "--port",
        str(port),
        "--no-access-log",
    ]
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    proc = subprocess.Popen(
        cmd, env=env, stdout=out, stderr=subprocess.STDOUT if capture else subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return proc, base
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("govbrief serve did not start") from None
            time.sleep(0.1)
