"""`Idempotency-Key` on `POST /v1/briefs`: a client that retries an upload whose answer it never
saw gets the brief it already made, not a second run and a second stored brief.

The key is scoped to the caller (the API key it presents), so two clients never see each other's
answers. Same key and same request: the stored brief again (`Idempotent-Replayed: true`). Same key,
different request: 422. Same key while the first request is still being answered: 409.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from service.api.intake import Report
from service.storage.base import Store

HEADER = "idempotency-key"
_VALID = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass
class Claim:
    key: str
    fingerprint: str
    brief_id: str | None  # set when an earlier request with this key made a brief
    _release: Callable[[], None]

    def release(self) -> None:
        self._release()


def fingerprint(report: Report) -> str:
    """What makes two requests the same: the report's bytes, its name and the options. (Not the raw
    body: a multipart body differs on every send by its random boundary.)"""
    h = hashlib.sha256(report.data)
    h.update(b"\0" + report.filename.encode("utf-8", "surrogatepass"))
    h.update(b"\0" + report.options.model_dump_json().encode())
    return h.hexdigest()


async def claim(request: Request, report: Report, store: Store, now: float) -> Claim | None:
    """None without the header; else the claim on the key, held until `release()`."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _VALID.fullmatch(raw):
        raise HTTPException(422, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    caller = request.headers.get("authorization", "")
    key = hashlib.sha256(f"{caller}\0{raw}".encode()).hexdigest()
    busy: set[str] = request.app.state.idempotency_in_flight
    if key in busy:
        raise HTTPException(
            409, "a request with this Idempotency-Key is still being answered; retry once it is done"
        )
    busy.add(key)
    try:
        digest = await run_in_threadpool(fingerprint, report)
        earlier = await run_in_threadpool(store.created_under, key, now)
    except BaseException:
        busy.discard(key)
        raise
    claimed = Claim(key, digest, None, lambda: busy.discard(key))
    if earlier is not None:
        if earlier[0] != digest:
            claimed.release()
            raise HTTPException(
                422, "this Idempotency-Key was used with a different request; use a new key for a new report"
            )
        claimed.brief_id = earlier[1]
    return claimed
