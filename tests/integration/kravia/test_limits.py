"""The Kravia look-alike's latency and rate limit (issue 25, a MODEL: Kravia documents
neither), and the Kravia client paced by the limit's headers as Tripletex's is: several
requests at once, none answered 429."""

from __future__ import annotations

import threading

import httpx
import pytest

from connectors.kravia.client import KraviaClient


def test_the_kravia_client_keeps_inside_the_look_alikes_limit(kravia, kravia_served) -> None:
    set_limits = httpx.post(
        f"{kravia_served.url}/_sandbox/limits",
        json={"latency_ms": 20, "limit": 8, "period_s": 3},
    )
    assert set_limits.json() == {"latency_ms": 20.0, "limit": 8, "refused_429": 0}
    client = KraviaClient(
        httpx.Client(base_url=f"{kravia_served.url}/api/v2"),
        "sandbox-kravia-token",
        max_in_flight=4,
    )
    answer = httpx.get(
        f"{kravia_served.url}/api/v2/settlements",
        headers={"Authorization": "Bearer sandbox-kravia-token"},
    )
    assert answer.headers["X-Rate-Limit-Limit"] == "8"
    done: list[int] = []

    def read() -> None:
        for _ in range(4):
            client.settlements()
            done.append(1)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 16  # 16 reads (and the one above) over three periods of 8
    state = httpx.post(f"{kravia_served.url}/_sandbox/limits", json={}).json()
    assert state["refused_429"] == 0
    assert client.requests == 16


@pytest.mark.parametrize("limit", [None, 10_000])
def test_the_kravia_client_is_not_slowed_while_plenty_are_left(
    kravia, kravia_served, limit: int | None
) -> None:
    """The demo's path: its Kravia look-alike sets no limit (no rate-limit headers), and a
    limit far above what is sent (1 s periods, rolling over while the reads go) must not
    slow the client either: no start is held back by the pacer."""
    set_limits = {"latency_ms": 5, **({"limit": limit, "period_s": 1} if limit else {})}
    httpx.post(f"{kravia_served.url}/_sandbox/limits", json=set_limits)
    sleeps: list[float] = []
    client = KraviaClient(
        httpx.Client(base_url=f"{kravia_served.url}/api/v2"),
        "sandbox-kravia-token",
        sleep=sleeps.append,
        max_in_flight=4,
    )

    def read() -> None:
        for _ in range(100):
            client.settlements()

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = httpx.post(f"{kravia_served.url}/_sandbox/limits", json={}).json()
    assert client.requests == 400 and state["refused_429"] == 0
    assert sleeps == []
