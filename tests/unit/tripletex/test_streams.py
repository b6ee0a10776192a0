"""Invoice pages read ahead: the next page is asked for early, but its digest stays out of
the bookmark of the page before (read_ahead itself: tests/unit/foundation/test_read_ahead.py)."""

from __future__ import annotations

import time
from datetime import date

from connectors.tripletex import models
from connectors.tripletex.client import Page
from connectors.tripletex.streams import InvoiceSync


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
