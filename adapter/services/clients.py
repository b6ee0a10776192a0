"""Remote clients for a company, built from its stored connection (secrets opened in memory).

Clients are kept per company for a few minutes so a Tripletex session token is reused across
jobs; a changed connection is picked up when the entry expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from adapter.store.database import Database
from connectors.kravia.client import KraviaClient
from connectors.tripletex.client import Credentials, TripletexClient

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class Clients:
    """Builds (and briefly keeps) the clients a handler needs for one company."""

    def __init__(
        self,
        db: Database,
        *,
        sleep: Callable[[float], None] = time.sleep,
        ttl_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        max_in_flight: int = 1,
    ):
        self.db, self.sleep, self.ttl_s, self.transport = db, sleep, ttl_s, transport
        self.max_in_flight = max_in_flight  # requests at once per company's Tripletex client
        self._cache: dict[tuple[str, int], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._building: dict[tuple[str, int], threading.Lock] = {}

    def _cached(self, remote: str, company_id: int, build: Callable[[], Any]) -> Any:
        key = (remote, company_id)
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < self.ttl_s:
                return hit[1]
            building = self._building.setdefault(key, threading.Lock())
        # One build per company at a time: the threads sending its rows at once share one
        # client (one session), rather than each making its own.
        with building:
            with self._lock:
                hit = self._cache.get(key)
                if hit and time.monotonic() - hit[0] < self.ttl_s:
                    return hit[1]
            client = build()
            with self._lock:
                self._cache[key] = (time.monotonic(), client)
        return client

    def forget(self, company_id: int) -> None:
        """Drop cached clients of a company (after its connection changed)."""
        with self._lock:
            for key in [k for k in self._cache if k[1] == company_id]:
                del self._cache[key]

    def http(self, base_url: str) -> httpx.Client:
        """An httpx client for a remote base URL."""
        return httpx.Client(base_url=base_url, timeout=TIMEOUT, transport=self.transport)

    def tripletex(self, company_id: int) -> TripletexClient:
        """The company's Tripletex client."""

        def build() -> TripletexClient:
            with self.db.uow(company_id, read_only=True) as uow:
                conn = uow.connections.get("tripletex")
            return tripletex_client(
                self.http(conn.config["base_url"]),
                conn.config,
                conn.secrets,
                self.db,
                self.sleep,
                max_in_flight=self.max_in_flight,
            )

        return self._cached("tripletex", company_id, build)

    def kravia(self, company_id: int) -> KraviaClient:
        """The company's Kravia client."""

        def build() -> KraviaClient:
            with self.db.uow(company_id, read_only=True) as uow:
                conn = uow.connections.get("kravia")
            return kravia_client(
                self.http(conn.config["base_url"]),
                conn.secrets,
                self.sleep,
                max_in_flight=self.max_in_flight,
            )

        return self._cached("kravia", company_id, build)


def kravia_client(
    http: httpx.Client,
    secrets: dict[str, Any],
    sleep: Callable[[float], None],
    *,
    max_in_flight: int = 1,
) -> KraviaClient:
    """A Kravia client from a connection's secrets (up to `max_in_flight` requests at once,
    paced by the answers' rate-limit headers like Tripletex's)."""
    return KraviaClient(http, secrets["token"], sleep=sleep, max_in_flight=max_in_flight)


def tripletex_client(
    http: httpx.Client,
    config: dict[str, Any],
    secrets: dict[str, Any],
    db: Database,
    sleep: Callable[[float], None],
    *,
    max_in_flight: int = 1,
) -> TripletexClient:
    """A Tripletex client from a connection's settings and secrets."""
    creds = Credentials(
        consumer_token=secrets["consumer_token"],
        employee_token=secrets["employee_token"],
        client_company_id=config.get("client_company_id"),
    )
    return TripletexClient(
        http, creds, today=db.clock.today, sleep=sleep, max_in_flight=max_in_flight
    )
