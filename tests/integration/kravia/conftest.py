from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from connectors.kravia.sandbox import KraviaSandbox
from connectors.serving import Served, serve_in_thread

TODAY = date(2026, 3, 20)


@pytest.fixture
def kravia() -> KraviaSandbox:
    return KraviaSandbox(today=TODAY)


@pytest.fixture
def kravia_served(kravia: KraviaSandbox) -> Iterator[Served]:
    with serve_in_thread(kravia.app()) as s:
        yield s
