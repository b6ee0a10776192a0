from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from connectors.retry import RetryOptions
from connectors.serving import Served, serve_in_thread
from connectors.tripletex.client import Credentials, TripletexClient
from connectors.tripletex.sandbox import TripletexSandbox, create_sandbox
from tests.contracts.tripletex import ContractTransport

TODAY = date(2026, 3, 2)


@pytest.fixture
def sandbox() -> TripletexSandbox:
    return create_sandbox(customers=60, invoices=600, seed=7, today=TODAY)


@pytest.fixture
def served(sandbox: TripletexSandbox) -> Iterator[Served]:
    with serve_in_thread(sandbox.app()) as s:
        yield s


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def contract() -> ContractTransport:
    """The transport every Tripletex client of these tests sends through: each request and
    answer is checked against Tripletex's published spec."""
    return ContractTransport()


@pytest.fixture
def make_client(served: Served, sleeps: list[float], contract: ContractTransport):
    def make(page_size: int = 100) -> TripletexClient:
        return TripletexClient(
            httpx.Client(base_url=f"{served.url}/v2", timeout=10, transport=contract),
            Credentials("sandbox-consumer-token", "sandbox-employee-token"),
            today=lambda: TODAY,
            sleep=sleeps.append,
            retry=RetryOptions(max_attempts=8, base_delay_s=0.0, jitter=False),
            page_size=page_size,
        )

    return make


def set_faults(served: Served, **plan: object) -> None:
    httpx.put(f"{served.url}/_sandbox/faults", json=plan).raise_for_status()
