"""Large bodies go out in slices: one write of 60 MB would have the event loop copy it into the
transport's buffer, then shift that buffer down after every partial send, all between two other
requests' turns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from starlette.responses import Response, StreamingResponse

SLICE = 1 << 20


def body_response(
    body: bytes, media_type: str, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    if len(body) <= SLICE:
        return Response(body, status_code, headers, media_type=media_type)

    async def slices() -> AsyncIterator[bytes]:
        view = memoryview(body)
        for start in range(0, len(body), SLICE):
            yield bytes(view[start : start + SLICE])

    sized = {**(headers or {}), "Content-Length": str(len(body))}
    return StreamingResponse(slices(), status_code, sized, media_type=media_type)
