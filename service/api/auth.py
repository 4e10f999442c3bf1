"""API keys, browser sessions and the throttle on wrong keys.

A request is let in by `Authorization: Bearer <key>` or by a browser session: a random id, signed
(itsdangerous) with a secret derived from the keys — so changing the keys signs everyone out — and
kept, hashed, with its expiry in the store, so that logging out ends it for good. The key itself is
never put in a cookie. Each client (by address) may get a few keys wrong; then it earns tries back
slowly (a token bucket) and is answered 429 with Retry-After meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

from itsdangerous import BadSignature, Signer
from starlette.exceptions import HTTPException
from starlette.requests import Request

from service.api.metrics import Metrics
from service.errors import ConfigError
from service.storage.base import Store, owner_of

#: The cookie the key form sets: a signed session id, never the key.
SESSION_COOKIE = "govbrief_session"
MIN_KEY_CHARS = 16


def parse_keys(raw: str | None) -> tuple[bytes, ...]:
    """The keys in GOVBRIEF_API_KEYS. Unset means no keys (an open server); set but listing no key,
    or listing a short one, is refused: either is a mistake that would leave the server open or
    guessable."""
    if raw is None:
        return ()
    keys = tuple(k.strip().encode() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError(
            "GOVBRIEF_API_KEYS is set but lists no key; list keys separated by commas, "
            "or unset it to run without keys"
        )
    short = [k for k in keys if len(k.decode()) < MIN_KEY_CHARS]
    if short:
        raise ConfigError(
            f"GOVBRIEF_API_KEYS: {len(short)} key(s) shorter than {MIN_KEY_CHARS} characters; "
            "use long random keys, e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return keys


def key_is_valid(presented: str, keys: tuple[bytes, ...]) -> bool:
    candidate = presented.encode("utf-8", "surrogateescape")
    # Compare against every key, in constant time each, so timing tells nothing about which or how
    # much of a key matched.
    return any([hmac.compare_digest(candidate, key) for key in keys])


class NotAuthenticated(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            401,
            "missing or invalid API key: send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )


class Throttled(HTTPException):
    def __init__(self, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        super().__init__(
            429,
            f"too many wrong API keys from this client: try again in {seconds} s",
            {"Retry-After": str(seconds)},
        )


class FailureThrottle:
    """A token bucket per client, spent by wrong keys only: `burst` tries, then `per_second`."""

    def __init__(
        self, burst: int, per_second: float, clock: Callable[[], float], max_clients: int = 10_000
    ) -> None:
        self.burst, self.per_second, self.clock, self.max_clients = burst, per_second, clock, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, as of when
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, then = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - then) * self.per_second)

    def wait(self, client: str) -> float:
        """Seconds until `client` may try a key again; 0 when it may now."""
        with self._lock:
            tokens = self._tokens(client, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.per_second

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            self._buckets[client] = (self._tokens(client, now) - 1, now)
            self._buckets.move_to_end(client)
            # Bounded memory: the clients least recently wrong are forgotten first.
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)


class Sessions:
    def __init__(self, keys: tuple[bytes, ...], store: Store, ttl: int, clock: Callable[[], float]) -> None:
        secret = hmac.new(b"govbrief session", b"\0".join(sorted(keys)), hashlib.sha256).digest()
        self._signer = Signer(secret, salt="govbrief-session")
        self.store, self.ttl, self.clock = store, ttl, clock

    def open(self, owner: str) -> str:
        """A new session for the caller `owner` (whose key opened it); the cookie value to set."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add_session(_digest(session_id), owner, now + self.ttl, now)
        return self._signer.sign(session_id).decode()

    def _id(self, cookie: str) -> str | None:
        try:
            return self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeError):
            return None

    def owner(self, cookie: str) -> str | None:
        """Whose session the cookie is; None for a forged, stale-keyed, expired or closed one."""
        # A forged or stale-keyed cookie is turned away by its signature, without touching the store.
        session_id = self._id(cookie)
        return None if session_id is None else self.store.session_owner(_digest(session_id), self.clock())

    def close(self, cookie: str) -> None:
        session_id = self._id(cookie)
        if session_id is not None:
            self.store.drop_session(_digest(session_id))


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Auth:
    def __init__(
        self, keys: tuple[bytes, ...], sessions: Sessions, throttle: FailureThrottle, metrics: Metrics
    ) -> None:
        self.keys, self.sessions, self.throttle, self.metrics = keys, sessions, throttle, metrics

    def try_key(self, request: Request, key: str) -> bool:
        """Check a presented key, throttled per client: raises `Throttled` while the client waits."""
        client = client_of(request)
        wait = self.throttle.wait(client)
        if wait > 0:
            self.metrics.auth_throttled.inc()
            raise Throttled(wait)
        if key_is_valid(key, self.keys):
            return True
        self.throttle.failed(client)
        return False

    def check(self, request: Request) -> None:
        """Raise unless no keys are configured, or the request has a valid key or session. The
        caller (see `caller`) is noted on the request for the routes."""
        if not self.keys:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            if self.try_key(request, token.strip()):
                request.state.caller = owner_of(token.strip())
                return
            raise NotAuthenticated()
        cookie = request.cookies.get(SESSION_COOKIE)
        # Session ids are 256 random bits under a signature: guessing them needs no throttle.
        owner = self.sessions.owner(cookie) if cookie else None
        if owner is not None:
            request.state.caller = owner
            return
        raise NotAuthenticated()


def caller(request: Request) -> str | None:
    """Whom the briefs and jobs a request makes belong to: the fingerprint of its key (a session's
    is the key's that opened it); None when keys are off. Only for requests `Auth.check` let in."""
    return getattr(request.state, "caller", None)
