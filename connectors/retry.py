"""Retry policy shared by the HTTP clients (stripe-python's rules, tenacity underneath).

In-request retries stay short and bounded; a long wait (a rate-limit period that has
minutes left) is raised to the caller as a `RetriableError` so the job row carries it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryOptions:
    """How hard a client tries before giving a request back to its caller."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 5.0
    # A server-requested wait longer than this is not slept in-request: the job is rescheduled.
    max_inline_wait_s: float = 30.0
    jitter: Callable[[float], float] = field(default=lambda s: random.uniform(s / 2, s))


def should_retry(method: str, status: int | None, *, idempotent: bool) -> bool:
    """Whether a failed request may be sent again as it is."""
    if status == 429:
        return True  # refused, so nothing happened
    if status is None or status >= 500:  # network error or server fault
        return method.upper() in {"GET", "HEAD", "DELETE"} or idempotent
    return False  # other 4xx will not change


def backoff_delay(attempt: int, opts: RetryOptions) -> float:
    """Jittered exponential backoff for attempt 1, 2, ... : min(base·2^(n-1), max) in [s/2, s]."""
    s = min(opts.base_delay_s * 2 ** (attempt - 1), opts.max_delay_s)
    return opts.jitter(s)


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait: `X-Rate-Limit-Reset` (a delta, Tripletex) or
    `Retry-After` (seconds or an HTTP date, Kravia and most others)."""
    for header in ("X-Rate-Limit-Reset", "Retry-After"):
        raw = response.headers.get(header)
        if raw is None:
            continue
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            continue
        now = now or datetime.now(UTC)
        return max(0.0, (when - now).total_seconds())
    return None


class Again(Exception):
    """Raised inside an attempt: this try failed in a way the next one may not.
    `error` is what the caller gets if the tries run out; `wait_s` the server's own wait."""

    def __init__(self, error: Exception, wait_s: float | None = None):
        super().__init__(str(error))
        self.error, self.wait_s = error, wait_s


def run(attempt: Callable[[], T], opts: RetryOptions, sleep: Callable[[float], None]) -> T:
    """Call `attempt` until it returns, retrying on `Again` with backoff (or the server's wait),
    at most `opts.max_attempts` times; then raise the last `Again.error`."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Again) and error.wait_s is not None:
            return error.wait_s
        return backoff_delay(state.attempt_number, opts)

    retrying = Retrying(
        stop=stop_after_attempt(opts.max_attempts),
        wait=wait,
        retry=retry_if_exception_type(Again),
        sleep=sleep,
    )
    try:
        return retrying(attempt)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        assert isinstance(last, Again)
        raise last.error from last
