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

import math
import threading
import time
from collections.abc import Callable

import httpx

_PAST_RESET_S = 0.001  # how far past a period's end the next one is taken to start


def _number(headers: httpx.Headers, name: str) -> float | None:
    raw = headers.get(name)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class Pacer:
    """When the next request of one client may start. Thread-safe: a client sends several
    requests at once, and each takes a start time (`ticket`) and reports its answer (`done`).

    It keeps the period as the last answer told it: when it ends (now + Reset) and how many
    requests may still start in it (Remaining, less the requests on their way). While that
    is more than `low_share` of the limit, requests start at once; below it, the ones left
    are spread evenly over the time left; with none left, the next request starts when the
    period ends, as the first of the next one. Start times are handed out from this budget,
    so many requests waiting at once never share one estimate (each waits its own turn,
    and none past the period's end)."""

    def __init__(self, *, low_share: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self.low_share, self.clock = low_share, clock
        self._lock = threading.Lock()
        self._last = -1e18  # when the last request started (clock time)
        self._ends = -1e18  # when the period the answers told of ends (clock time)
        self._left: float | None = None  # requests that may still start in it (None: no limit)
        self._limit: float | None = None
        self._flying: set[int] = set()  # the tickets of the requests on their way
        self._tickets = 0
        self._not_before = -1e18  # a request waiting for the next period starts then
        self._epoch = 0  # the first ticket of the period the pacer counts in
        # The last Remaining learnt, and the requests then still on their way.
        self._told: tuple[float, frozenset[int]] = (math.inf, frozenset())

    def ticket(self) -> float:
        """Reserve the next start: the seconds to wait before sending (0: send now)."""
        return self.reserve()[1]

    def reserve(self) -> tuple[int, float]:
        """Reserve the next start: (the request's ticket, for `done`; the seconds to wait
        before sending it)."""
        with self._lock:
            now = self.clock()
            self._tickets += 1
            ticket = self._tickets
            self._flying.add(ticket)
            start = max(now, self._not_before)
            if self._left is not None and self._ends <= start:
                # The period told of is over: count down the next one from the limit.
                self._new_period(ticket)
            if self._left is not None:
                if self._left < 1 and self._ends == math.inf:
                    # The next period's allowance is spent before any of its answers came
                    # (a limit below the requests on their way): wait for them a little.
                    start = max(start, self._last + 1.0)
                    self._left = 1.0
                elif self._left < 1:  # none left: the first of the next period
                    start = max(start, self._ends)
                    self._not_before = start  # nobody starts before it
                    self._new_period(ticket)
                    if self._left is None or self._left < 1:
                        self._left = 1.0  # the limit is below the requests on their way
                elif self._left <= (self._limit or 0) * self.low_share and self._ends < math.inf:
                    # Few left: spread them evenly over the time left in the period (after
                    # the starts already handed out, so a queue of waiting requests ends with
                    # the period, not past it).
                    gap = (self._ends - max(self._last, start)) / self._left
                    start = max(start, self._last + gap)
                self._left -= 1
            self._last = start
            return ticket, start - now

    def _new_period(self, ticket: int) -> None:
        """The period the answers told of is over and `ticket` is the first request of the
        next: count down from the limit until its answers tell when it ends."""
        self._epoch = ticket  # answers to earlier requests tell of the last period
        self._told = (math.inf, frozenset())  # and are no lower count of this one
        self._ends, self._left = math.inf, self._limit

    def done(self, headers: httpx.Headers | None, ticket: int | None = None) -> None:
        """The request of `ticket` has its answer (None: it got none); learn from the answer's
        headers. Without a ticket: the oldest request on its way (answers come in order)."""
        with self._lock:
            mine = ticket if ticket is not None else min(self._flying, default=0)
            self._flying.discard(mine)
            if headers is None:
                return
            remaining = _number(headers, "X-Rate-Limit-Remaining")
            reset = _number(headers, "X-Rate-Limit-Reset")
            if remaining is None or reset is None:
                if mine >= self._epoch and self._ends == math.inf:
                    # Counting down a period whose answers tell of no limit (a remote that
                    # gives its headers only with a 429): there is none to keep to, or every
                    # later request would wait a second after the one before, for ever.
                    self._left = None
                return
            if mine < self._epoch:
                # Sent in a period that is over (its answer came late): it does not tell of the
                # period counted now, whose count it must not replace (a late "0 left, reset
                # in 1 s" made the pacer count a whole fresh period again while the remote was
                # half-way through it: a 429 in kravia/test_limits at load 5 to 7). None left
                # still holds the next start back until its reset: it may tell of another
                # count (a 429 with a reset minutes off), and waiting a little is harmless.
                if remaining < 1:
                    self._not_before = max(self._not_before, self.clock() + reset + _PAST_RESET_S)
                return
            # Answers overtake each other: a request already on its way when a count came
            # back may have been counted before it, and then tells of more left than there is
            # (a 6 after a 3 gave a 429 in every few runs of
            # tests/integration/kravia/test_limits.py): such a higher count is old news.
            fewest, overtaken = self._told
            if mine in overtaken and remaining > fewest:
                return
            self._told = (remaining, frozenset(self._flying))
            self._limit = _number(headers, "X-Rate-Limit-Limit") or self._limit
            # A hair past the reset: the remote counts the period from its own clock and
            # rounds the reset to whole seconds, and a start computed exactly at the end can
            # fall an ulp inside it (three 429s in tests/unit/foundation/test_pacing.py).
            self._ends = self.clock() + reset + _PAST_RESET_S
            # Every request still on its way may spend some of what is left: one sent before
            # this one may reach the remote after it (a loaded machine wakes a sender late;
            # counting only the later ones gave a 429 at load 5 to 7).
            self._left = max(0.0, remaining - len(self._flying))
