"""The AIMD limiter: bounds concurrency, halves once per storm, pauses on Retry-After, creeps back."""

from __future__ import annotations

import threading
import time

import pytest

from service.batch.limiter import MAX_PAUSE_SECONDS, AdaptiveLimiter
from service.llm.errors import TransientError


def throttled(retry_after: float | None = None) -> TransientError:
    return TransientError("HTTP 429: slow down", status=429, retry_after=retry_after)


def test_bounds_requests_in_flight() -> None:
    limiter = AdaptiveLimiter(3)
    peak = 0
    now = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal peak, now
        with limiter:
            with lock:
                now += 1
                peak = max(peak, now)
            time.sleep(0.01)
            with lock:
                now -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3
    assert limiter.stats().in_flight == 0


def test_one_storm_halves_once_then_creeps_back() -> None:
    limiter = AdaptiveLimiter(16)
    # 8 requests in flight when the storm hits: all get 429, the window halves once.
    for _ in range(8):
        limiter.acquire()
    for _ in range(8):
        limiter.release(throttled())
    st = limiter.stats()
    assert st.limit == 8 and st.decreases == 1 and st.throttled == 8
    # A request that starts after the decrease and is throttled again: a new storm, halve again.
    limiter.acquire()
    limiter.release(throttled())
    assert limiter.limit == 4
    # Successes widen the window by 1/window each: a window's worth of them adds one.
    for _ in range(4):
        with limiter:
            pass
    assert 4.9 < limiter.limit < 5.1
    for _ in range(500):
        with limiter:
            pass
    assert limiter.limit == 16  # never above the ceiling


def test_floor_and_non_throttle_errors() -> None:
    limiter = AdaptiveLimiter(4, floor=2)
    for _ in range(5):
        limiter.acquire()
        limiter.release(throttled())
    assert limiter.limit == 2
    before = limiter.limit
    with pytest.raises(ValueError), limiter:
        raise ValueError("a bad answer, not a rate limit")
    assert limiter.limit == before  # neither a success nor a throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_retry_after_pauses_every_new_request() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, clock=clock)
    limiter.acquire()
    limiter.release(throttled(retry_after=0.2))
    assert limiter.stats().in_flight == 0  # a free slot, and still no request may start …
    assert not limiter.acquire(blocking=False)
    clock.now += 0.19
    assert not limiter.acquire(blocking=False)
    clock.now += 0.02  # … until the server's 0.2 s have passed
    assert limiter.acquire(blocking=False)
    limiter.release()


def test_a_long_retry_after_pauses_new_requests_for_at_most_the_cap() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, clock=clock)
    limiter.acquire()
    limiter.release(throttled(retry_after=3600))
    clock.now += MAX_PAUSE_SECONDS - 0.01
    assert not limiter.acquire(blocking=False)
    clock.now += 0.02
    assert limiter.acquire(blocking=False)


def test_a_blocked_acquire_waits_for_the_pause_and_no_longer() -> None:
    """A blocking acquire during a pause asks its condition to wait for what is left of the pause."""
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, clock=clock)
    limiter.acquire()
    limiter.release(throttled(retry_after=0.5))
    asked: list[float | None] = []

    def wait(timeout: float | None = None) -> bool:
        asked.append(timeout)
        clock.now += timeout or 0.0
        return True

    limiter._cond.wait = wait  # type: ignore[method-assign]
    clock.now += 0.2
    with limiter:
        pass
    assert asked == [pytest.approx(0.3)]


def test_status_from_the_transport_exception_passes_through_the_with_block() -> None:
    limiter = AdaptiveLimiter(8)
    with pytest.raises(TransientError), limiter:
        raise TransientError("HTTP 503", status=503)
    assert limiter.limit == 4
    with pytest.raises(TransientError), limiter:
        raise TransientError("timed out")  # a timeout is not the server asking us to slow down
    assert limiter.limit == 4


def test_bad_bounds() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimiter(0)
    with pytest.raises(ValueError):
        AdaptiveLimiter(2, floor=3)
