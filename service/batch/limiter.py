"""Adaptive concurrency for LLM requests: an AIMD limiter shared by every report of a batch.

It stands where the LLM transport expects its semaphore (`with limiter:` around each HTTP attempt),
so it sees the outcome of every attempt without any hook in the backend: the exception leaving the
`with` block carries the HTTP status.

- A rate-limit answer (429, and 503/529 "overloaded") halves the window (multiplicative decrease)
  and, when the server says how long to wait, holds *every* new attempt until then. Without that,
  the other in-flight chunks keep hammering a server that already said no, burn their own retries
  and fail their reports; with it, the whole batch slows down together and the retries succeed.
- Each success widens the window by 1/window (additive increase: +1 per window's worth of
  successes), creeping back up to the ceiling once the storm has passed.
- A storm hits many in-flight requests at once; only one decrease is taken per "generation" (the
  requests that started after the last decrease), so 16 simultaneous 429s halve once, not 16 times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

#: Statuses that mean "slow down" rather than "this request is wrong".
THROTTLE_STATUSES = frozenset({429, 503, 529})
#: Longest global pause taken on a server's word; a Retry-After of an hour should not stall a batch
#: that other requests could be making progress on (each request still honours its own wait).
MAX_PAUSE_SECONDS = 30.0


@dataclass(frozen=True)
class LimiterStats:
    limit: float
    ceiling: int
    in_flight: int
    throttled: int  # rate-limit answers seen
    decreases: int  # times the window was halved
    lowest: float  # smallest window so far


class AdaptiveLimiter:
    """A semaphore whose size follows the server: `with limiter:` around one HTTP attempt."""

    def __init__(
        self,
        ceiling: int,
        *,
        floor: int = 1,
        initial: int | None = None,
        decrease: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling < 1 or floor < 1 or floor > ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, got floor={floor} ceiling={ceiling}")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be in (0, 1)")
        self.ceiling = ceiling
        self.floor = floor
        self._clock = clock  # injected by tests: a pause is checked against it
        self._decrease = decrease
        self._limit = float(initial if initial is not None else ceiling)
        self._in_flight = 0
        self._paused_until = 0.0
        self._last_decrease = float("-inf")
        self._throttled = 0
        self._decreases = 0
        self._lowest = self._limit
        self._cond = threading.Condition()
        # Start times of the attempts this thread holds (a stack: the transport never nests, but a
        # backend composed of backends might).
        self._local = threading.local()

    # --- the semaphore face the transport uses --------------------------------------------------

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                now = self._clock()
                if now >= self._paused_until and self._in_flight < int(self._limit):
                    self._in_flight += 1
                    self._starts().append(now)
                    return True
                if not blocking:
                    return False
                wait = None if deadline is None else deadline - now
                if self._paused_until > now:
                    until_resume = self._paused_until - now
                    wait = until_resume if wait is None else min(wait, until_resume)
                if wait is not None and wait <= 0:
                    return False
                self._cond.wait(wait)

    def release(self, error: BaseException | None = None) -> None:
        with self._cond:
            starts = self._starts()
            started = starts.pop() if starts else self._clock()
            self._in_flight -= 1
            status = getattr(error, "status", None) if error is not None else None
            if status in THROTTLE_STATUSES:
                self._throttle(started, getattr(error, "retry_after", None))
            elif error is None:
                self._limit = min(float(self.ceiling), self._limit + 1.0 / max(self._limit, 1.0))
            self._cond.notify_all()

    def __enter__(self) -> AdaptiveLimiter:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release(exc)

    # --- internals ------------------------------------------------------------------------------

    def _starts(self) -> list[float]:
        starts: list[float] | None = getattr(self._local, "starts", None)
        if starts is None:
            starts = self._local.starts = []
        return starts

    def _throttle(self, started: float, retry_after: object) -> None:
        self._throttled += 1
        now = self._clock()
        if started >= self._last_decrease:
            self._limit = max(float(self.floor), self._limit * self._decrease)
            self._last_decrease = now
            self._decreases += 1
            self._lowest = min(self._lowest, self._limit)
        if isinstance(retry_after, int | float) and retry_after > 0:
            self._paused_until = max(self._paused_until, now + min(float(retry_after), MAX_PAUSE_SECONDS))

    # --- for progress displays and tests --------------------------------------------------------

    @property
    def limit(self) -> float:
        return self._limit

    def stats(self) -> LimiterStats:
        with self._cond:
            return LimiterStats(
                limit=self._limit,
                ceiling=self.ceiling,
                in_flight=self._in_flight,
                throttled=self._throttled,
                decreases=self._decreases,
                lowest=self._lowest,
            )
