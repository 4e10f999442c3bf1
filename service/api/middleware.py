"""Edge middleware: the request body limit and the security headers every response carries."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        exact = "" if limit < 1024 else f" ({limit} bytes)"
        super().__init__(413, f"request body too large: the limit is {_size(limit)}{exact}")


def _size(n: int) -> str:
    """A size for people: "20 MiB", "4 KiB", "9.8 KiB" (one decimal at most), "512 bytes"."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            text = (
                f"{value:.0f}"
                if value >= 100 or value == int(value)
                else f"{value:.1f}".rstrip("0").rstrip(".")
            )
            return f"{text} {unit}"
    return f"{n} byte" if n == 1 else f"{n} bytes"


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body not received within {seconds:g} s (GOVBRIEF_BODY_TIMEOUT)")


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes`, or not all received within `timeout` seconds, while they are
    read: a client trickling an upload (or stopping halfway) holds a connection only that long.

    A declared Content-Length over the limit is refused before a byte is read, but the count of the
    bytes actually received is what holds: chunked bodies have no Content-Length. The error is
    raised from `receive`, i.e. inside whatever route reads the body, so the app's exception
    handlers answer it (JSON for the API, a page for the browser).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 60.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        received = 0
        deadline = asyncio.get_running_loop().time() + self.timeout
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if declared is not None and declared > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            if body_done:  # after the body only a disconnect comes, whenever it does
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects malformed framing itself; the count still holds
    return None


# Raw (name, value) pairs, appended as they are: this runs on every response, the hot GET included.
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    # Brief ids are capabilities: never leak a brief page's URL to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_wrapper)
