"""The one retry layer for LLM HTTP calls (the openai client's own retries are off: max_retries=0).

Retried: `TransientError` — 408/409/429/5xx, timeouts, connection errors. A `Retry-After` (or
`retry-after-ms`) the server sends is honoured exactly; otherwise the wait is exponential with equal
jitter, so parallel chunks that failed together don't come back together. Every call is bounded in
total time: each attempt's timeout is cut to what is left of the budget, and a wait that would end
past the budget stops the retries instead of sleeping into it.
"""

from __future__ import annotations

import email.utils
import logging
import random
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


class Transport:
    """Runs one logical call with retries. `limiter` (a semaphore, or anything used as `with limiter:`
    around each HTTP attempt, e.g. batch's adaptive limiter, which reads `.status`/`.retry_after` off
    the exception leaving the block) bounds in-flight requests across every report sharing it;
    waits between attempts don't hold a slot."""

    def __init__(self, policy: RetryPolicy, limiter: AbstractContextManager[Any] | None = None) -> None:
        self.policy = policy
        self.limiter = limiter

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
        started = time.monotonic()

        def remaining() -> float:
            return policy.max_call_seconds - (time.monotonic() - started)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientError) and exc.retry_after is not None:
                return exc.retry_after
            return policy.backoff(state.attempt_number)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number > policy.max_retries:
                return True
            # Sleeping past the budget would only end in a timeout with less time to spare.
            return state.upcoming_sleep + _MIN_ATTEMPT_SECONDS > remaining()

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
                return attempt(min(policy.timeout, left))

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(one_attempt)
        except TransientError as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            raise TransientError(
                f"{exc} (gave up after {tries} attempt{'s' if tries != 1 else ''}, "
                f"{time.monotonic() - started:.1f}s)",
                status=exc.status,
                retry_after=exc.retry_after,
            ) from None
