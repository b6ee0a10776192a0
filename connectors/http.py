"""The one HTTP base of the connectors: an `httpx.Client` passed in, the request count, the
remote's rate-limit signals, and retries of what is safe to send again.

A client for a remote (Tripletex, Kravia) subclasses `HttpBase`, names the remote and its two
retriable errors, and sends every request through `exchange`. What is retried (stripe-python,
notion-sdk-py):
- a connection that never reached the remote: always;
- 429: always (the request was refused, so nothing happened), after the remote's own wait
  (`X-Rate-Limit-Reset` / `Retry-After`); a wait longer than `max_inline_wait_s` is raised
  as the remote's `rate_limited` error so the job row carries it;
- 5xx and a connection lost mid-answer: only when the request is `safe` (a read or an
  idempotent write), with tenacity's jittered exponential backoff; for an unsafe write the
  outcome is unknown and `OutcomeUnknownError` asks the caller to look it up first;
- any other answer is returned as it is: the client turns 4xx into its typed errors.
With no requests left in the period (`X-Rate-Limit-Remaining: 0`), the next request waits for
the reset first rather than spend one on a 429; with few left, requests are spread over the
rest of the period (connectors/pacing.py). A wait longer than `max_inline_wait_s` is raised as
the remote's `rate_limited` error instead of slept.

One client may have up to `max_in_flight` requests on their way at once (threads sharing it:
a worker sends several outbox rows of one company at the same time); the pacing, the session
and the request count are shared by them.

A worker sending an outbox row holds a lease on it; another worker may take the row once the
lease runs out. So the worker sets a write guard (`guarded_writes`) for the length of the
send: every unsafe request first asks the guard (which checks, and renews, the lease) and is
not sent when it refuses (`WriteRefused`); and every request of the send gets the guard's
deadline, shorter than the lease, so no answer can arrive after another worker took over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import structlog

from connectors.errors import OutcomeUnknownError, RetriableError
from connectors.pacing import Pacer
from connectors.retry import Again, RetryOptions, retry_after_seconds, run


@dataclass(frozen=True)
class WriteGuard:
    """Set by the caller of a send: `check` raises `WriteRefused` when the write may no longer
    be made; `deadline_s` bounds each request's wait for an answer."""

    check: Callable[[], None]
    deadline_s: float


_GUARD: ContextVar[WriteGuard | None] = ContextVar("kravflyt_write_guard", default=None)


@contextmanager
def guarded_writes(check: Callable[[], None], *, deadline_s: float) -> Iterator[None]:
    """Within this block (this thread), remote writes ask `check` first and every request
    waits at most `deadline_s` for its answer."""
    token = _GUARD.set(WriteGuard(check, deadline_s))
    try:
        yield
    finally:
        _GUARD.reset(token)


# Requests made for a lookup carry this header (its value names the lookup: the outbox row and
# the try), so a sandbox's fault injection can fail lookups in particular and count them on its
# own side; the remotes ignore an unknown header.
PURPOSE_HEADER = "X-Kravflyt-Purpose"
_PURPOSE: ContextVar[str | None] = ContextVar("kravflyt_request_purpose", default=None)


@contextmanager
def purpose(name: str) -> Iterator[None]:
    """Within this block (this thread), every request says what it is for (`PURPOSE_HEADER`)."""
    token = _PURPOSE.set(name)
    try:
        yield
    finally:
        _PURPOSE.reset(token)


def check_write() -> None:
    """Ask the write guard, if one is set, whether a remote write may be made now (raises
    `WriteRefused` if not). HttpBase calls it before every unsafe request; a sender that
    writes by other means (SMTP) calls it itself."""
    guard = _GUARD.get()
    if guard is not None:
        guard.check()


def write_deadline(default: float | None) -> float | None:
    """How long a request may wait: the guard's deadline when it is shorter than `default`."""
    guard = _GUARD.get()
    if guard is None:
        return default
    return guard.deadline_s if default is None else min(default, guard.deadline_s)


def _bounded(timeout: httpx.Timeout) -> Any:
    """The client's timeouts, each cut to the write guard's deadline (if one is set)."""
    if _GUARD.get() is None:
        return httpx.USE_CLIENT_DEFAULT
    return httpx.Timeout(
        connect=write_deadline(timeout.connect),
        read=write_deadline(timeout.read),
        write=write_deadline(timeout.write),
        pool=write_deadline(timeout.pool),
    )


class HttpBase:
    """Sends requests to one remote with its retry policy; subclasses add the remote's API.

    Safe to share between threads (a sync reads the next page on one while it stores on
    another; a worker's threads send one company's outbox rows): at most `max_in_flight`
    exchanges at once, paced together by the remote's rate-limit headers."""

    remote: ClassVar[str] = "remote"
    rate_limited: ClassVar[type[RetriableError]] = RetriableError
    server_error: ClassVar[type[RetriableError]] = RetriableError

    def __init__(
        self,
        http: httpx.Client,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryOptions | None = None,
        max_in_flight: int = 1,
    ):
        self.http, self.sleep = http, sleep
        self.retry = retry or RetryOptions()
        self.requests = 0  # requests made, for summaries and benchmarks
        self._pacer = Pacer()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._counting = threading.Lock()
        self._log = structlog.get_logger(f"connectors.{self.remote.lower()}")

    def exchange(
        self,
        method: str,
        path: str,
        *,
        safe: bool,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """One request and its answer (below 500, not 429), retried as the module says."""
        name = f"{method} {path}"
        said = _PURPOSE.get()
        if said is not None:
            headers = {**(headers or {}), PURPOSE_HEADER: said}

        def attempt() -> httpx.Response:
            began = time.perf_counter()
            timeout = _bounded(self.http.timeout)

            def send() -> httpx.Response:
                if not safe:
                    check_write()  # just before the write, after any pacing wait
                return self.http.request(
                    method,
                    path,
                    params=params,
                    headers=headers,
                    content=content,
                    auth=auth,
                    timeout=timeout,
                )

            try:
                resp = self._paced(name, send)
            except httpx.ConnectError as exc:  # nothing reached the remote: always safe
                raise Again(self.server_error(f"cannot connect to {self.remote}: {exc}")) from exc
            except httpx.TransportError as exc:
                if safe:
                    raise Again(self.server_error(f"{name}: {type(exc).__name__}")) from exc
                raise OutcomeUnknownError(
                    f"{name}: no answer ({type(exc).__name__}); look it up"
                ) from exc
            # Every exchange at DEBUG for the operator; the log's redaction masks the tokens.
            # Asked first: the line's URL (the request's, built for it) costs more than the
            # line, at hundreds of requests a second.
            if self._log.is_enabled_for(logging.DEBUG):
                self._log.debug(
                    f"{self.remote.lower()} request",
                    method=method,
                    url=str(resp.request.url),
                    status=resp.status_code,
                    ms=round((time.perf_counter() - began) * 1000, 1),
                )
            if resp.status_code == 429:
                wait = retry_after_seconds(resp)
                if wait is not None and wait > self.retry.max_inline_wait_s:
                    raise self.rate_limited(
                        f"{name}: rate limited for {wait:.0f} s", wait_s=wait, status=429
                    )
                raise Again(
                    self.rate_limited(f"{name}: rate limited", wait_s=wait, status=429), wait
                )
            if resp.status_code >= 500:
                if safe:
                    raise Again(
                        self.server_error(f"{name}: {resp.status_code}", status=resp.status_code)
                    )
                raise OutcomeUnknownError(f"{name}: server error {resp.status_code}; look it up")
            return resp

        with self._slots:
            return run(attempt, self.retry, self.sleep)

    def _paced(self, name: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        """Send when the pacer says so (a wait past `max_inline_wait_s` is raised), and let it
        learn from the answer's rate-limit headers."""
        ticket, wait = self._pacer.reserve()
        answer: httpx.Headers | None = None
        try:
            if wait > self.retry.max_inline_wait_s:
                raise self.rate_limited(
                    f"{name}: no requests left for {wait:.0f} s", wait_s=wait, status=429
                )
            if wait > 0:
                self.sleep(wait)
            with self._counting:
                self.requests += 1
            resp = send()
            answer = resp.headers
            return resp
        finally:
            self._pacer.done(answer, ticket)
