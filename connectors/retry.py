"""Retry policy for the connectors (stripe-python's rules, tenacity's wait strategies).

In-request retries stay short and bounded; a long wait (a rate-limit period that has
minutes left) is raised to the caller as a `RetriableError` so the job row carries it.
`connectors.http.HttpBase` is the one place that applies this policy to HTTP exchanges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import TypeVar

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

T = TypeVar("T")


@dataclass(frozen=True)
class RetryOptions:
    """How hard a client tries before giving a request back to its caller."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 5.0
    # A server-requested wait longer than this is not slept in-request: the job is rescheduled.
    max_inline_wait_s: float = 30.0
    jitter: bool = True  # off in tests that assert on the waits

    def backoff(self) -> wait_base:
        """stripe-python's backoff as tenacity waits: s = min(base·2^(n-1), max), jittered into
        [s/2, s] (half of it fixed, the other half drawn)."""
        if not self.jitter:
            return wait_exponential(multiplier=self.base_delay_s, max=self.max_delay_s)
        half = {"multiplier": self.base_delay_s / 2, "max": self.max_delay_s / 2}
        return wait_exponential(**half) + wait_random_exponential(**half)


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


class wait_remote(wait_base):  # lower case, like tenacity's own strategies
    """The remote's own wait (`Again.wait_s`, from Retry-After / X-Rate-Limit-Reset) when it
    gave one, else `fallback`."""

    def __init__(self, fallback: wait_base):
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, Again) and error.wait_s is not None:
            return error.wait_s
        return float(self.fallback(retry_state))


def backoff_delay(attempt: int, opts: RetryOptions) -> float:
    """The backoff `run` waits before try `attempt + 1` (for tests and reports; every client
    retries through `HttpBase`, none waits by hand)."""
    return float(opts.backoff()(SimpleNamespace(attempt_number=attempt)))  # type: ignore[arg-type]


@lru_cache(maxsize=256)
def _retrying(opts: RetryOptions, sleep: Callable[[float], None]) -> Retrying:
    # One per policy and sleep, shared: tenacity keeps each call's state per thread, and
    # building the strategies anew for every request cost more than the request's own checks.
    return Retrying(
        stop=stop_after_attempt(opts.max_attempts),
        wait=wait_remote(opts.backoff()),
        retry=retry_if_exception_type(Again),
        sleep=sleep,
    )


def run(attempt: Callable[[], T], opts: RetryOptions, sleep: Callable[[float], None]) -> T:
    """Call `attempt` until it returns, retrying on `Again` with backoff (or the server's wait),
    at most `opts.max_attempts` times; then raise the last `Again.error`."""
    try:
        return _retrying(opts, sleep)(attempt)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        assert isinstance(last, Again)
        raise last.error from last
