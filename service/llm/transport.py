"""The one retry layer for LLM HTTP calls (the openai client's own retries are off: max_retries=0).

Retried: `TransientError` — 408/409/429/5xx, timeouts, connection errors. A `Retry-After` (or
`retry-after-ms`) the server sends is honoured exactly; otherwise the wait is exponential with equal
jitter, so parallel chunks that failed together don't come back together. Every call is bounded in
total time: each attempt's timeout is cut to what is left of the budget, and a wait that would end
past the budget stops the retries instead of sleeping into it.

Retries are also drawn from a `RetryBudget` shared by every call on the same `Transport` (one per
backend, so one per batch): a token bucket where each retry spends a token and each successful
attempt puts a fraction of one back. While the service is healthy the bucket stays full and changes
nothing; in a 5xx storm across a whole batch it empties after a bounded number of retries, and from
then on calls fail after their first attempt (batch puts those reports back in its queue) instead of
every in-flight chunk retrying `max_retries` times into an outage.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

from service.llm.errors import TransientError

log = logging.getLogger("govbrief.llm")
T = TypeVar("T")

#: An attempt gets at least this long; less than this left in the budget means give up now.
_MIN_ATTEMPT_SECONDS = 0.05


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # retries after the first attempt
    max_call_seconds: float = 180.0  # one logical call, every attempt and wait included
    timeout: float = 60.0  # one attempt
    backoff_initial: float = 0.5
    backoff_max: float = 20.0

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        return cls(
            max_retries=settings.llm_max_retries,
            max_call_seconds=settings.llm_max_call_seconds,
            timeout=settings.llm_timeout,
            backoff_initial=getattr(settings, "llm_backoff_initial", cls.backoff_initial),
            backoff_max=getattr(settings, "llm_backoff_max", cls.backoff_max),
        )

    def backoff(self, attempt: int) -> float:
        """Wait after failed attempt number `attempt` (1-based), without a Retry-After."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` as seconds, or `retry-after` as an HTTP date."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ms = lower.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000, 0.0)
        except ValueError:
            pass
    raw = lower.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


#: Defaults for the shared retry budget (GOVBRIEF_LLM_RETRY_BUDGET, GOVBRIEF_LLM_RETRY_BUDGET_REFILL).
DEFAULT_RETRY_BUDGET = 50
DEFAULT_RETRY_REFILL = 0.1


class RetryBudget:
    """A thread-safe token bucket of retries, shared by everything using one `Transport`.

    Starts full with `capacity` tokens; each retry takes one (`try_spend`), each successful attempt
    adds `refill` (`succeeded`), never above `capacity`. With the defaults (50, 0.1) a healthy
    endpoint never notices it, ten successes earn back one retry, and an outage costs at most about
    50 retries across the whole batch before calls stop retrying.
    """

    def __init__(self, capacity: float = DEFAULT_RETRY_BUDGET, refill: float = DEFAULT_RETRY_REFILL) -> None:
        if capacity < 1:
            raise ValueError("a retry budget needs a capacity of at least 1 (use no budget to turn it off)")
        if refill < 0:
            raise ValueError("the retry budget's refill cannot be negative")
        self.capacity = float(capacity)
        self.refill = float(refill)
        self._tokens = float(capacity)
        self._lock = threading.Lock()
        self.spent = 0  # retries granted
        self.denied = 0  # retries refused for want of a token

    @classmethod
    def from_settings(cls, settings: Any) -> RetryBudget | None:
        """None (no shared cap: only each call's `max_retries`) when the capacity is set to 0."""
        capacity = getattr(settings, "llm_retry_budget", DEFAULT_RETRY_BUDGET)
        refill = getattr(settings, "llm_retry_budget_refill", DEFAULT_RETRY_REFILL)
        if capacity is None or capacity <= 0:
            return None
        return cls(capacity, refill)

    @property
    def tokens(self) -> float:
        with self._lock:
            return self._tokens

    def try_spend(self) -> bool:
        """Take one token for a retry; False (and nothing taken) when fewer than one is left."""
        with self._lock:
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.spent += 1
                return True
            self.denied += 1
            return False

    def succeeded(self) -> None:
        with self._lock:
            self._tokens = min(self.capacity, self._tokens + self.refill)

    def __repr__(self) -> str:
        return (
            f"RetryBudget(tokens={self.tokens:.2f}/{self.capacity:g}, refill={self.refill:g}, "
            f"spent={self.spent}, denied={self.denied})"
        )


class Transport:
    """Runs one logical call with retries. `limiter` (a semaphore, or anything used as `with limiter:`
    around each HTTP attempt, e.g. batch's adaptive limiter, which reads `.status`/`.retry_after` off
    the exception leaving the block) bounds in-flight requests across every report sharing it;
    waits between attempts don't hold a slot. `budget`, when given, caps retries across every call
    on this transport (see `RetryBudget`). `clock` and `sleep` are the time it reads and the waits
    it takes; tests replace them to check what was asked for without waiting for it."""

    def __init__(
        self,
        policy: RetryPolicy,
        limiter: AbstractContextManager[Any] | None = None,
        budget: RetryBudget | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.limiter = limiter
        self.budget = budget
        self.clock = clock
        self.sleep = sleep

    def call(
        self,
        attempt: Callable[[float], T],
        *,
        on_attempt: Callable[[], None] | None = None,
        describe: str = "LLM call",
    ) -> T:
        """`attempt(timeout)` until it returns, raises a non-transient error, or the policy is spent.

        `on_attempt` runs once per HTTP request actually sent, which is what `llm_calls` counts.
        """
        policy = self.policy
        budget = self.budget
        clock = self.clock
        started = clock()
        out_of_budget = False

        def remaining() -> float:
            return policy.max_call_seconds - (clock() - started)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientError) and exc.retry_after is not None:
                return exc.retry_after
            return policy.backoff(state.attempt_number)

        def stop(state: tenacity.RetryCallState) -> bool:
            nonlocal out_of_budget
            if state.attempt_number > policy.max_retries:
                return True
            # Sleeping past the budget would only end in a timeout with less time to spare.
            if state.upcoming_sleep + _MIN_ATTEMPT_SECONDS > remaining():
                return True
            # Last, so that a token is only taken for a retry that will really happen.
            if budget is not None and not budget.try_spend():
                out_of_budget = True
                log.info("%s: shared retry budget spent; not retrying", describe)
                return True
            return False

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s: attempt %d failed (%s); retrying in %.2fs",
                describe,
                state.attempt_number,
                exc,
                state.upcoming_sleep,
            )

        def one_attempt() -> T:
            left = remaining()
            if left < _MIN_ATTEMPT_SECONDS:
                raise TransientError(f"{describe}: no time left in the {policy.max_call_seconds:g}s budget")
            guard: AbstractContextManager[Any] = self.limiter if self.limiter is not None else nullcontext()
            with guard:
                if on_attempt is not None:
                    on_attempt()
                result = attempt(min(policy.timeout, left))
            if budget is not None:
                budget.succeeded()
            return result

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(one_attempt)
        except TransientError as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            why = "; the shared retry budget is spent" if out_of_budget else ""
            raise TransientError(
                f"{exc} (gave up after {tries} attempt{'s' if tries != 1 else ''}, "
                f"{clock() - started:.1f}s{why})",
                status=exc.status,
                retry_after=exc.retry_after,
            ) from None
