"""Keeping a client's requests inside the remote's rate limit ahead of time, so a busy sender
uses what the period allows without being answered 429.

Source: Tripletex SPEC-INFO "Rate limiting" (OpenAPI 2.72.00): every answer carries
`X-Rate-Limit-Limit` (requests allowed in the period), `X-Rate-Limit-Remaining` (left) and
`X-Rate-Limit-Reset` (seconds left in the period); once the limit is hit every request answers
429 until the period ends. The pacer reads them from each answer and, while the requests left
are many (more than `low_share` of the limit), lets requests go as fast as the caller sends
them; when they run low it spreads what is left evenly over the seconds left, counting the
requests still on their way as spent; with none left it waits for the reset. A remote that
sends no such headers is never slowed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx


def _number(headers: httpx.Headers, name: str) -> float | None:
    raw = headers.get(name)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class Pacer:
    """When the next request of one client may start. Thread-safe: a client sends several
    requests at once, and each takes a start time (`ticket`) and reports its answer (`done`)."""

    def __init__(self, *, low_share: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self.low_share, self.clock = low_share, clock
        self._lock = threading.Lock()
        self._last = -1e18  # when the last request started (clock time)
        self._interval = 0.0  # the spacing between starts while requests left are few
        self._pause_until = 0.0  # none left: nothing starts before the period's reset
        self._in_flight = 0

    def ticket(self) -> float:
        """Reserve the next start: the seconds to wait before sending (0: send now)."""
        with self._lock:
            now = self.clock()
            start = max(now, self._last + self._interval)
            if self._pause_until > now:
                start = max(start, self._pause_until)
                self._pause_until = 0.0  # one wait for the reset; the answers say the rest
            self._last = start
            self._in_flight += 1
            return start - now

    def done(self, headers: httpx.Headers | None) -> None:
        """The request has its answer (None: it got none); learn from the answer's headers."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if headers is None:
                return
            remaining = _number(headers, "X-Rate-Limit-Remaining")
            reset = _number(headers, "X-Rate-Limit-Reset")
            if remaining is None or reset is None:
                return
            limit = _number(headers, "X-Rate-Limit-Limit")
            usable = remaining - self._in_flight
            if remaining <= 0:
                self._pause_until = self.clock() + reset
                self._interval = 0.0  # the next period starts with its full allowance
            elif limit is not None and remaining > limit * self.low_share:
                self._interval = 0.0
            else:
                self._interval = reset / max(usable, 1.0)
