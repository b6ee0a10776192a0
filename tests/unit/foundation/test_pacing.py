"""Rate limits obeyed ahead of time, and several requests of one client at once (respx and
the pacer on a hand-moved clock)."""

from __future__ import annotations

import math
import threading

import httpx
import pytest
import respx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.pacing import Pacer
from tests.unit.foundation.test_http_base import BASE, Limited, Remote, client


def limits(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Reset": str(reset),
    }


@respx.mock
def test_few_requests_left_are_spread_over_the_seconds_left() -> None:
    sleeps: list[float] = []
    respx.get(f"{BASE}/x").respond(200, headers=limits(100, 10, 5))
    c = client(sleeps)
    # A stopped clock: on the real one a loaded machine moved it by more than the tolerance
    # between the calls (seen at load 36), and `sleep` here only records.
    c._pacer = Pacer(clock=lambda: 0.0)
    c.exchange("GET", "/x", safe=True)
    c.exchange("GET", "/x", safe=True)
    c.exchange("GET", "/x", safe=True)
    # 10 left of 100 with 5 s to go: the second 0.5 s after the first; the second's answer
    # says 10 left again with 5 s to go, so the ten share the 4.5 s after the second's start:
    # the third 0.45 s after it.
    assert sleeps == pytest.approx([0.5, 0.95], abs=0.01)


@respx.mock
def test_many_requests_left_are_not_slowed() -> None:
    sleeps: list[float] = []
    respx.get(f"{BASE}/x").respond(200, headers=limits(100, 21, 60))
    c = client(sleeps)
    for _ in range(3):
        c.exchange("GET", "/x", safe=True)
    assert sleeps == []


@respx.mock
def test_a_wait_longer_than_the_inline_limit_goes_back_to_the_caller() -> None:
    sleeps: list[float] = []
    respx.get(f"{BASE}/x").respond(200, headers=limits(100, 0, 600))
    c = client(sleeps)
    c.exchange("GET", "/x", safe=True)
    with pytest.raises(Limited) as err:
        c.exchange("GET", "/x", safe=True)
    assert err.value.wait_s == pytest.approx(600, abs=1) and sleeps == []
    assert c.requests == 1  # the refused wait sent nothing


def test_requests_on_their_way_count_as_spent() -> None:
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    for _ in range(4):
        assert pacer.ticket() == 0.0
    # The first answer: 4 left, but three more requests are still on their way.
    pacer.done(httpx.Headers(limits(100, 4, 10)))
    assert pacer.ticket() == pytest.approx(10.0, abs=0.01)  # 10 s spread over the 1 left


@settings(deadline=None)  # up to 900 simulated requests an example: no wall-clock limit
@given(
    limit=st.integers(min_value=1, max_value=300),
    period=st.integers(min_value=1, max_value=120),
    latency=st.floats(min_value=0.0, max_value=0.5),
)
# Found by hypothesis in a clean-clone run: the third period's first request left one ulp
# before the period ended (4.0 + 3.999999999999999), and the remote refused three.
@example(limit=3, period=4, latency=2.220446049250313e-16)
def test_paced_requests_are_never_refused_and_use_the_limit(
    limit: int, period: int, latency: float
) -> None:
    """Against a remote counting `limit` requests a `period` (Tripletex's headers, the reset
    rounded up to whole seconds), one request at a time: none is refused, and three periods'
    worth take at most four periods, each longer by the second the rounding may cost."""
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    start, used, refused = 0.0, 0, 0
    for _ in range(3 * limit):
        now[0] += pacer.ticket()
        if now[0] - start >= period:
            start, used = now[0], 0
        if used < limit:
            used += 1
        else:
            refused += 1
        reset = math.ceil(start + period - now[0])
        now[0] += latency
        pacer.done(httpx.Headers(limits(limit, limit - used, reset)))
    assert refused == 0
    assert now[0] <= 4 * (period + 1) + 3 * limit * latency


@respx.mock
def test_one_client_sends_up_to_max_in_flight_at_once() -> None:
    together = threading.Barrier(4, timeout=5)
    peak, now_in, lock = [0], [0], threading.Lock()

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            now_in[0] += 1
            peak[0] = max(peak[0], now_in[0])
        try:
            together.wait()  # four requests must be on their way at the same time
        except threading.BrokenBarrierError:
            pass
        with lock:
            now_in[0] -= 1
        return httpx.Response(200)

    respx.get(f"{BASE}/x").mock(side_effect=answer)
    c = Remote(httpx.Client(base_url=BASE), sleep=lambda _s: None, max_in_flight=4)
    threads = [
        threading.Thread(target=c.exchange, args=("GET", "/x"), kwargs={"safe": True})
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not together.broken
    assert peak[0] == 4 and c.requests == 8


def _simulate(in_flight: int, limit: int, period: float, latency: float, total: int):
    """`in_flight` requests of one client on their way at once against a remote counting
    `limit` requests a `period` (its window starts at the first request after the last one
    ended; Reset rounded up to whole seconds), on a simulated clock: (requests served a
    second from the first to the last / what the limit allows, requests refused)."""
    import heapq

    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    window, used, refused, served, first, last = -1e9, 0, 0, 0, None, 0.0
    events: list[tuple[float, int, str, object]] = []
    for n in range(in_flight):
        heapq.heappush(events, (0.0, n, "ticket", None))
    seq, started = in_flight, 0
    while events:
        at, _n, kind, headers = heapq.heappop(events)
        now[0] = at
        seq += 1
        if kind == "ticket" and started < total:
            started += 1
            heapq.heappush(events, (at + pacer.ticket() + latency / 2, seq, "counted", None))
        elif kind == "counted":
            if at - window >= period:
                window, used = at, 0
            if used < limit:
                used, served, last = used + 1, served + 1, at
                first = at if first is None else first
            else:
                refused += 1
                started -= 1  # sent again
            reset = max(0, math.ceil(window + period - at))
            answer = httpx.Headers(limits(limit, limit - used, reset))
            heapq.heappush(events, (at + latency / 2, seq, "answer", answer))
        elif kind == "answer":
            pacer.done(headers)  # type: ignore[arg-type]
            heapq.heappush(events, (at, seq, "ticket", None))
    assert first is not None
    return served / (last - first) / (limit / period), refused


@pytest.mark.parametrize(
    ("in_flight", "limit", "period"),
    [(8, 600, 60.0), (16, 100, 60.0), (32, 300, 60.0), (8, 120, 10.0), (4, 50, 5.0)],
)
def test_many_requests_at_once_use_the_limit_and_are_never_refused(
    in_flight: int, limit: int, period: float
) -> None:
    """Issue 25: a worker sending a company's letters several at once, at 150 ms an answer,
    uses at least 90 % of what the limit allows (less the second a period its rounded Reset
    may cost), and no request is answered 429."""
    use, refused = _simulate(in_flight, limit, period, latency=0.15, total=5 * limit)
    assert refused == 0
    assert use >= 0.9 * period / (period + 1), f"{use:.1%} of the limit"


def test_a_remote_that_stops_telling_its_limit_is_not_paced_for_ever() -> None:
    # One 429 with Remaining 0 from a remote whose other answers carry no rate-limit headers
    # (Kravia's in the fault run): the pacer counted down a limit of 1 it could never learn
    # anew, and spaced every later request a second apart for as long as it lived.
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    pacer.done(httpx.Headers({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "2"}))
    now[0] += pacer.ticket()  # the first of the next period waits for the reset
    assert now[0] == pytest.approx(2.0, abs=0.01)
    pacer.done(httpx.Headers({}))  # its answer tells of no limit
    waits = [pacer.ticket() for _ in range(6)]
    assert waits == [0.0] * 6


class _Remote:
    """A remote counting `limit` requests a `period` on the hand-moved clock `now` (its
    window starts at the first request after the last one ended; Reset rounded up to whole
    seconds), and the pacer told of each answer when it comes."""

    def __init__(self, pacer: Pacer, now: list[float], limit: int, period: float):
        self.pacer, self.now, self.limit, self.period = pacer, now, limit, period
        self.window, self.used, self.refused = -1e9, 0, 0

    def count(self) -> httpx.Headers:
        """One request reaches the remote now: the headers of its answer."""
        if self.now[0] - self.window >= self.period:
            self.window, self.used = self.now[0], 0
        if self.used < self.limit:
            self.used += 1
        else:
            self.refused += 1
        reset = max(0, math.ceil(self.window + self.period - self.now[0]))
        return httpx.Headers(limits(self.limit, self.limit - self.used, reset))

    def exchange(self, ticket: int) -> None:
        """The request of `ticket` reaches the remote now and its answer comes at once."""
        self.pacer.done(self.count(), ticket)


def _replay(
    seed: int, *, senders: int, reads: int, limit: int, period: float, stall: float
) -> tuple[int, list[float]]:
    """`senders` threads of one client, each making `reads` requests one after the other
    against a `_Remote` at 20 ms, on a simulated clock; each step (the wake-up after the
    pacer's wait, the way there, the way back, the next ask) held up at random, now and then
    by up to `stall` seconds (a loaded machine), so requests reach the remote and answers
    come back out of order: (the requests refused, the pacer's waits)."""
    import heapq
    import random

    rng = random.Random(seed)
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    remote = _Remote(pacer, now, limit=limit, period=period)

    def late(base: float = 0.0) -> float:
        x = rng.random()
        return base + rng.uniform(0, 0.005 if x < 0.7 else 0.05 if x < 0.95 else stall)

    headers: dict[int, httpx.Headers] = {}
    waits: list[float] = []
    remote.count()  # a first request outside the client (the test's own read)
    steps: list[tuple[float, int, str, int, int]] = []  # (when, order, step, ticket, reads)
    for _ in range(senders):
        heapq.heappush(steps, (0.02 + late(), len(steps), "ask", 0, reads))
    order = senders
    while steps:
        at, _o, step, ticket, left = heapq.heappop(steps)
        now[0], order = at, order + 1
        if step == "ask" and left:
            ticket, wait = pacer.reserve()
            waits.append(wait)
            heapq.heappush(steps, (at + wait + late() + late(0.02), order, "there", ticket, left))
        elif step == "there":
            headers[ticket] = remote.count()
            heapq.heappush(steps, (at + late(), order, "back", ticket, left))
        elif step == "back":
            pacer.done(headers.pop(ticket), ticket)
            heapq.heappush(steps, (at + late(), order, "ask", 0, left - 1))
    return remote.refused, waits


@pytest.mark.parametrize("stall", [0.3, 2.5])
def test_no_request_waits_while_the_remote_says_plenty_are_left(stall: float) -> None:
    """The demo's path: the worker sends a company's letters 64 at once to Tripletex, whose
    look-alike allows 100,000 a period (here a second, so periods roll over while it sends),
    on a loaded machine (answers out of order, late answers from the last period). No start
    may be held back: every send of the demo's dunning step takes this path."""
    for seed in range(20):
        refused, waits = _replay(seed, senders=64, reads=40, limit=100_000, period=1.0, stall=stall)
        assert refused == 0 and max(waits) == 0.0, f"seed {seed}"


def test_a_request_sent_earlier_that_reaches_the_remote_later_counts_as_spent() -> None:
    # Four senders at once on a loaded machine: the first two are woken late and reach the
    # remote only after the other two have gone on sending as the pacer let them. An answer
    # counted only the requests sent after it as still to come, so the two held up were
    # counted by no one: 9 requests in a period of 8 (kravia/test_limits at load 5 to 7).
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    remote = _Remote(pacer, now, limit=8, period=3.0)

    def reserve() -> tuple[int, float]:
        ticket, wait = pacer.reserve()
        return ticket, now[0] + wait

    held_up = [pacer.reserve()[0] for _ in range(2)]
    fast = [reserve() for _ in range(2)]
    while all(at <= now[0] for _t, at in fast):  # they go on while they may start at once
        for i, (ticket, _at) in enumerate(fast):
            now[0] += 0.02
            remote.exchange(ticket)
            fast[i] = reserve()
    for ticket in held_up:
        remote.exchange(ticket)
    for ticket, at in sorted(fast, key=lambda f: f[1]):
        now[0] = max(now[0], at)
        remote.exchange(ticket)
    assert remote.refused == 0


def test_a_late_answer_from_the_last_period_does_not_start_the_count_again() -> None:
    # The last request of a period of 4 reaches the remote half a second before its end (0
    # left, Reset 1) and its answer comes after the next period began with three requests.
    # It made the pacer take the period to end at that Reset, a second after it came, and
    # count a whole fresh one of 4 from there while the remote was in the middle of its
    # period: four more started at once, and three were refused.
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    remote = _Remote(pacer, now, limit=4, period=3.0)
    for _ in range(3):
        remote.exchange(pacer.reserve()[0])
    now[0] = 2.5
    last, wait = pacer.reserve()
    assert wait == 0.0
    late = remote.count()  # the answer of the last one is held up
    now[0] = 2.6
    nexts = [pacer.reserve() for _ in range(3)]  # the first three of the next period
    now[0] = max(now[0] + wait for _t, wait in nexts)
    assert now[0] >= 3.0
    for ticket, _wait in nexts:
        remote.exchange(ticket)
    now[0] += 0.05
    pacer.done(late, last)
    more = [pacer.reserve() for _ in range(4)]  # four senders free again
    start = now[0]
    for ticket, wait in sorted(more, key=lambda m: m[1]):
        now[0] = max(now[0], start + wait)
        remote.exchange(ticket)
    assert remote.refused == 0


@pytest.mark.parametrize("stall", [0.3, 2.5])
def test_senders_held_up_at_random_are_never_refused(stall: float) -> None:
    """kravia/test_limits on a loaded machine, replayed on a simulated clock: 4 senders x 4
    reads against a limit of 8 per 3 s. Before the fix, run 11 had a 429 with either."""
    for seed in range(300):
        refused, _waits = _replay(seed, senders=4, reads=4, limit=8, period=3.0, stall=stall)
        assert refused == 0, f"seed {seed}"
