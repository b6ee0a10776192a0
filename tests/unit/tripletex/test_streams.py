"""Reading ahead: pages come in order, at most one ahead, errors where the page would be."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date

import pytest

from connectors.tripletex import models
from connectors.tripletex.client import Page
from connectors.tripletex.errors import TripletexMalformedRecord
from connectors.tripletex.streams import InvoiceSync, read_ahead


def counted(n: int, taken: list[int]) -> Iterator[int]:
    for i in range(n):
        taken.append(i)
        yield i


def test_items_come_in_order_at_most_one_ahead() -> None:
    taken: list[int] = []
    handled: list[int] = []
    for item in read_ahead(counted(5, taken)):
        assert len(taken) <= len(handled) + 2  # this one, and at most the next
        handled.append(item)
    assert handled == [0, 1, 2, 3, 4]


def test_an_error_surfaces_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise TripletexMalformedRecord("invoice 10003: field amount")

    handled: list[int] = []
    with pytest.raises(TripletexMalformedRecord, match="invoice 10003: field amount"):
        for item in read_ahead(pages()):
            handled.append(item)
    assert handled == [1, 2]


def test_closing_early_stops_reading() -> None:
    taken: list[int] = []
    with closing(read_ahead(counted(100, taken))) as ahead:
        assert next(ahead) == 0
    assert len(taken) <= 2


class PagedClient:
    """Serves `rows` invoices of one window two to a page, each page with its own digest."""

    page_size = 2

    def __init__(self, rows: int):
        self.rows, self.asked = rows, []

    def invoice_page(
        self, date_from: date, date_to: date, *, start: int, if_none_match: str | None = None
    ) -> Page:
        self.asked.append(start)
        values = [
            models.parse_record(
                models.Invoice,
                {
                    "id": i,
                    "invoiceNumber": i,
                    "invoiceDate": "2026-01-05",
                    "invoiceDueDate": "2026-01-19",
                    "customer": {"id": 1},
                    "amount": "100.00",
                    "amountOutstanding": "100.00",
                },
                what="invoice",
            )
            for i in range(start, min(start + self.page_size, self.rows))
        ]
        return Page(values, digest=f"d{start}")


def test_a_page_read_ahead_is_not_in_the_bookmark_of_the_page_before() -> None:
    client = PagedClient(rows=5)
    sync = InvoiceSync(client, today=date(2026, 3, 2), history_start=date(2026, 1, 1))  # type: ignore[arg-type]
    pages = sync.full(use_digests=True)
    first = next(pages)
    assert [r.id for r in first.records] == [0, 1]
    deadline = time.monotonic() + 5
    while len(client.asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the next page is requested on the read-ahead thread
    assert client.asked == [0, 2]
    # Read, but not handed on: its digest is in no bookmark yet.
    assert list(first.state["digests"]) == list(sync.digests) == ["2026-01-01:2026-03-03:0"]
    rest = list(pages)
    assert [len(p.records) for p in rest] == [2, 1, 0]
    assert client.asked == [0, 2, 4]  # a short page ends the window: no request past it
    assert len(rest[-1].state["digests"]) == 3
