"""Remote clients for a company, built from its stored connection (secrets opened in memory).

Clients are kept per company, so a Tripletex session token and the open connections are
reused across jobs; every few minutes an entry is checked against the stored connection, and a
changed one is picked up (the client it replaces closed a few minutes later).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adapter.store.database import Database
from adapter.store.repositories.connections import StoredConnection
from connectors.kravia.client import KraviaClient
from connectors.tripletex.client import Credentials, TripletexClient
from connectors.wire import WireClient

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class _Entry:
    client: Any
    connection: tuple[Any, Any]  # the stored connection it was built from (config, secrets)
    checked: float  # when it was last found current (time.monotonic)


class Clients:
    """Builds (and keeps) the clients a handler needs for one company.

    An entry older than `ttl_s` is checked against the stored connection: kept (its session
    and open connections reused) when the connection is the same, replaced when it changed.
    A replaced client is closed `ttl_s` later, when no request can still be using it (a
    client is never closed under a request on its way)."""

    def __init__(
        self,
        db: Database,
        *,
        sleep: Callable[[float], None] = time.sleep,
        ttl_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        max_in_flight: int = 1,
        wire: bool = False,
    ):
        self.db, self.sleep, self.ttl_s, self.transport = db, sleep, ttl_s, transport
        # The long-running processes' clients send plain requests on connections of their
        # own (connectors/wire.py: a third of httpx's CPU a request); tests that mock httpx's
        # transport (respx) keep httpx's.
        self.wire = wire and transport is None
        self.max_in_flight = max_in_flight  # requests at once per company's Tripletex client
        self._cache: dict[tuple[str, int], _Entry] = {}
        self._retired: list[tuple[float, Any]] = []  # (when replaced, client)
        self._lock = threading.Lock()
        self._building: dict[tuple[str, int], threading.Lock] = {}

    def _fresh(self, key: tuple[str, int]) -> Any | None:
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit.checked < self.ttl_s:
            return hit.client
        return None

    def _cached(
        self, remote: str, company_id: int, build: Callable[[StoredConnection], Any]
    ) -> Any:
        key = (remote, company_id)
        with self._lock:
            if (client := self._fresh(key)) is not None:
                return client
            building = self._building.setdefault(key, threading.Lock())
        # One build per company at a time: the threads sending its rows at once share one
        # client (one session), rather than each making its own.
        with building:
            with self._lock:
                if (client := self._fresh(key)) is not None:
                    return client
            with self.db.uow(company_id, read_only=True) as uow:
                conn = uow.connections.get(remote)
            stored = (conn.config, conn.secrets)
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None and hit.connection == stored:
                    hit.checked = time.monotonic()
                    return hit.client
            client = build(conn)
            with self._lock:
                old = self._cache.get(key)
                self._cache[key] = _Entry(client, stored, time.monotonic())
                if old is not None:
                    self._retired.append((time.monotonic(), old.client))
            self._close_retired()
        return client

    def _close_retired(self, *, all_: bool = False) -> None:
        """Close the clients replaced more than `ttl_s` ago (every one, `all_`)."""
        now = time.monotonic()
        with self._lock:
            due = [c for at, c in self._retired if all_ or now - at >= self.ttl_s]
            self._retired = [(at, c) for at, c in self._retired if c not in due]
        for client in due:
            client.http.close()

    def forget(self, company_id: int) -> None:
        """Drop cached clients of a company (after its connection changed); they are closed
        once no request can still be using them."""
        with self._lock:
            for key in [k for k in self._cache if k[1] == company_id]:
                self._retired.append((time.monotonic(), self._cache.pop(key).client))

    def close(self) -> None:
        """Close every client (the process is stopping)."""
        with self._lock:
            for entry in self._cache.values():
                self._retired.append((0.0, entry.client))
            self._cache.clear()
        self._close_retired(all_=True)

    def http(self, base_url: str) -> httpx.Client:
        """An httpx client for a remote base URL."""
        if self.wire:
            return WireClient(base_url=base_url, timeout=TIMEOUT)
        return httpx.Client(base_url=base_url, timeout=TIMEOUT, transport=self.transport)

    def tripletex(self, company_id: int) -> TripletexClient:
        """The company's Tripletex client."""

        def build(conn: StoredConnection) -> TripletexClient:
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

        def build(conn: StoredConnection) -> KraviaClient:
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
