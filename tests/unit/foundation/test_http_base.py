"""The connectors' one HTTP base (respx): what is retried, the waits, the remote's own signals."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import OutcomeUnknownError, RetriableError
from connectors.http import HttpBase
from connectors.retry import RetryOptions, backoff_delay, retry_after_seconds

BASE = "https://remote.test"


class Limited(RetriableError): ...


class Down(RetriableError): ...


class Remote(HttpBase):
    remote = "Remote"
    rate_limited = Limited
    server_error = Down


def client(sleeps: list[float], **options: Any) -> Remote:
    return Remote(
        httpx.Client(base_url=BASE),
        sleep=sleeps.append,
        retry=RetryOptions(**{"max_attempts": 4, "jitter": False, **options}),
    )


@given(st.integers(min_value=1, max_value=12))
def test_backoff_is_stripes_jittered_into_the_upper_half(attempt: int) -> None:
    s = min(0.5 * 2 ** (attempt - 1), 5.0)
    assert backoff_delay(attempt, RetryOptions(jitter=False)) == s
    assert s / 2 <= backoff_delay(attempt, RetryOptions()) <= s


def test_retry_after_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    date_header = "Mon, 07 Dec 2026 12:00:30 GMT"
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert (
        retry_after_seconds(httpx.Response(429, headers={"Retry-After": date_header}), now=now)
        == 30.0
    )
    # Tripletex's reset is a delta and wins over Retry-After.
    both = httpx.Response(429, headers={"X-Rate-Limit-Reset": "7", "Retry-After": "99"})
    assert retry_after_seconds(both) == 7.0
    assert retry_after_seconds(httpx.Response(429)) is None


@pytest.mark.parametrize(
    ("method", "safe", "answers", "expect", "calls"),
    [
        ("GET", True, [503, 200], nullcontext(), 2),
        ("PUT", False, [503], pytest.raises(OutcomeUnknownError, match="look it up"), 1),
        ("PUT", False, [429, 200], nullcontext(), 2),  # refused, so nothing happened
        ("GET", True, [500, 500, 500, 500], pytest.raises(Down, match="500"), 4),
        ("GET", True, [404], nullcontext(), 1),  # a 4xx is the caller's to type
    ],
    ids=["read-5xx", "write-5xx", "write-429", "bounded", "4xx-returned"],
)
@respx.mock
def test_what_is_retried(method, safe, answers, expect, calls) -> None:
    route = respx.route(method=method, url=f"{BASE}/x").mock(
        side_effect=[httpx.Response(s) for s in answers]
    )
    with expect:
        client([]).exchange(method, "/x", safe=safe)
    assert route.call_count == calls


@respx.mock
def test_a_lost_answer_to_a_write_is_unknown_but_a_refused_connection_is_retried() -> None:
    route = respx.put(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError):
        client([]).exchange("PUT", "/x", safe=False)
    assert route.call_count == 1
    route.mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])
    assert client([]).exchange("PUT", "/x", safe=False).status_code == 200


@respx.mock
def test_the_remotes_wait_is_slept_and_a_long_one_goes_back_to_the_job() -> None:
    sleeps: list[float] = []
    respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(502),
            httpx.Response(200),
        ]
    )
    client(sleeps).exchange("GET", "/x", safe=True)
    assert sleeps == [3.0, 1.0]  # the remote's own wait, then the backoff of try 2
    respx.get(f"{BASE}/x").respond(429, headers={"X-Rate-Limit-Reset": "600"})
    with pytest.raises(Limited) as err:
        client(sleeps).exchange("GET", "/x", safe=True)
    assert err.value.wait_s == 600.0 and err.value.status == 429


@respx.mock
def test_no_requests_left_waits_for_the_reset_before_the_next_one() -> None:
    sleeps: list[float] = []
    respx.get(f"{BASE}/x").respond(
        200, headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "4"}
    )
    c = client(sleeps)
    c.exchange("GET", "/x", safe=True)
    assert sleeps == []
    c.exchange("GET", "/x", safe=True)
    assert len(sleeps) == 1 and 3.5 < sleeps[0] <= 4.01  # the reset, and the pacer's 1 ms past it
    assert c.requests == 2
