"""Sync streams: what to read from Tripletex, page by page, and the bookmark to keep.

A stream never touches a database. It yields `StreamPage`s; the caller stores each page's
records and the page's `state` in one transaction. Through `connectors.read_ahead` the next
page is read while one is stored: each page's `state` is a snapshot taken when it was read, so
a bookmark still moves only with the page that carries it.

Customers have `changedSince`: the bookmark is the start time of the last complete pass,
moved only at the end of a pass and never past the start of the pass (rows changed during
the sync come again next time).

Invoices have no `changedSince` (tripletex-api.md §2.5), so three modes:
- `incremental`: new invoices by invoice date since the last sync (minus a margin), and the
  invoices whose payments were posted since then (`/ledger/posting?type=INCOMING_PAYMENT`
  gives their numbers; the caller maps numbers to ids, which are fetched with the `id` filter);
- `rescan`: every invoice-date window (a year each) with `If-None-Match` digests per page, so
  unchanged pages cost a 304; run daily to catch what the incremental pass cannot see
  (payments backdated past the margin, edits);
- `full`: every window without digests: reads everything again (repairs, first sync).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.read_ahead import read_ahead
from connectors.tripletex import models
from connectors.tripletex.pagination import FromCountPaginator
from connectors.tripletex.rows import customer_row, invoice_row

if TYPE_CHECKING:  # the client reads its lists from the declarations below
    from connectors.tripletex.client import Page, TripletexClient


@dataclass(frozen=True)
class Stream:
    """A list Tripletex serves, declared: where it is, what to ask for, how it is paged and
    sorted, the record model its values decode to, the plain row a record becomes, and the
    bookmark the sync keeps for it. The client reads with it, the sync stores by it."""

    name: str  # "customers"
    what: str  # a record of it, as errors name one: "customer"
    path: str
    fields: str
    record: type
    row: Callable[[Any], dict[str, Any]]
    bookmark: str
    key: str = "id"  # a record's natural key in Tripletex (our rows' external_id)
    sorting: str = "id"  # stable paging: a row changed during the sync cannot move pages
    paginator: Callable[[int], FromCountPaginator] = FromCountPaginator

    def params(self, **filters: Any) -> dict[str, Any]:
        """The query of a list request, with `filters` (None values left out)."""
        return {
            "fields": self.fields,
            "sorting": self.sorting,
            **{k: v for k, v in filters.items() if v is not None},
        }


CUSTOMERS = Stream(
    "customers",
    "customer",
    "/customer",
    models.CUSTOMER_FIELDS,
    models.Customer,
    customer_row,
    bookmark="tripletex.customers",
)
INVOICES = Stream(
    "invoices",
    "invoice",
    "/invoice",
    models.INVOICE_FIELDS,
    models.Invoice,
    invoice_row,
    bookmark="tripletex.invoices",
)

MARGIN = timedelta(days=1)  # backdated invoices and payments within this are caught incrementally;
# older ones by the daily rescan


@dataclass(frozen=True)
class StreamPage:
    """Records to store, and the bookmark state to store with them."""

    stream: str
    records: list[Any]
    state: dict[str, Any]
    unchanged: bool = False
    final: bool = False
    rows: int = 0  # rows the page covers (for an unchanged page: as many as last time)


@dataclass(frozen=True)
class Bookmark:
    """A high-water mark that only moves forward and never past the sync's start."""

    value: datetime | None

    def advance(self, seen: datetime, *, sync_started: datetime) -> Bookmark:
        """The bookmark after seeing `seen` during a sync that started at `sync_started`."""
        new = min(seen, sync_started)
        if self.value is not None and new <= self.value:
            return self
        return Bookmark(new)


def customer_pages(
    client: TripletexClient, state: dict[str, Any], *, started: datetime, full: bool
) -> Iterator[StreamPage]:
    """Active and inactive customers changed since the bookmark (all with `full`)."""
    since = None if full else state.get("changed_since")
    for inactive in (False, True):
        for records in client.customers(changed_since=since, inactive=inactive):
            yield StreamPage("customers", records, state)
    old = Bookmark(datetime.fromisoformat(since) if since else None)
    # Tripletex compares against its own clock: step back by the margin for clock skew.
    mark = old.advance(started - timedelta(minutes=5), sync_started=started)
    yield StreamPage(
        "customers",
        [],
        {"changed_since": mark.value.strftime("%Y-%m-%dT%H:%M:%S") if mark.value else None},
        final=True,
    )


def windows(first: date, end: date) -> list[tuple[date, date]]:
    """Invoice-date windows of at most a year covering [first, end)."""
    out = []
    start = first
    while start < end:
        stop = min(date(start.year + 1, 1, 1), end)
        out.append((start, stop))
        start = stop
    return out


@dataclass
class InvoiceSync:
    """How an invoice pass runs: the clock, how far back a full pass goes, the page size."""

    client: TripletexClient
    today: date
    history_start: date
    digests: dict[str, list[Any]] = field(default_factory=dict)  # page key -> [digest, rows]

    def _window_pages(
        self, window: tuple[date, date], *, use_digests: bool
    ) -> Iterator[tuple[list[models.Invoice], int, bool]]:
        """Pages of a window: (records, rows on the page, unchanged). The next page is
        requested (and decoded) on a read-ahead thread while this one is handled, so the
        server's time overlaps ours. A page's digest is kept only when the page is handed on,
        so a bookmark never names a page that was read ahead but not stored."""
        with closing(read_ahead(self._responses(window, use_digests=use_digests))) as responses:
            for key, page, known in responses:
                if page.unchanged and known:
                    yield [], int(known[1]), True
                    continue
                if use_digests and page.digest:
                    self.digests[key] = [page.digest, len(page.values)]
                yield page.values, len(page.values), False

    def _responses(
        self, window: tuple[date, date], *, use_digests: bool
    ) -> Iterator[tuple[str, Page, list[Any] | None]]:
        """The raw pages of a window with their key and the digest known for it, until a short
        page ends the window."""
        start = 0
        size = self.client.page_size
        while True:
            key = f"{window[0]}:{window[1]}:{start}"
            known = self.digests.get(key) if use_digests else None
            page = self.client.invoice_page(
                window[0],
                window[1],
                start=start,
                if_none_match=(known[0] if known else "*") if use_digests else None,
            )
            yield key, page, known
            rows = int(known[1]) if page.unchanged and known else len(page.values)
            if rows < size:
                return
            start += size

    def full(self, *, use_digests: bool) -> Iterator[StreamPage]:
        """Every invoice from `history_start` to tomorrow."""
        for window in windows(self.history_start, self.today + timedelta(days=1)):
            for records, rows, unchanged in self._window_pages(window, use_digests=use_digests):
                yield StreamPage(
                    "invoices",
                    records,
                    {"digests": dict(self.digests)},
                    unchanged=unchanged,
                    rows=rows,
                )
        yield StreamPage(
            "invoices",
            [],
            {
                "digests": dict(self.digests),
                "last_sync": self.today.isoformat(),
                "last_rescan": self.today.isoformat(),
            },
            final=True,
        )

    def incremental(
        self, last_sync: date, ids_for_numbers: Callable[[list[str]], list[int]]
    ) -> Iterator[StreamPage]:
        """New invoices since `last_sync` and those with payments posted since then."""
        since = last_sync - MARGIN
        fetched: set[int] = set()
        for records, _rows, _unchanged in self._window_pages(
            (since, self.today + timedelta(days=1)), use_digests=False
        ):
            fetched.update(r.id for r in records)
            yield StreamPage("invoices", records, {})
        numbers = sorted(
            {
                str(p["invoiceNumber"])
                for values in self.client.iter_pages(
                    "/ledger/posting",
                    {
                        "dateFrom": since.isoformat(),
                        "dateTo": (self.today + timedelta(days=1)).isoformat(),
                        "type": "INCOMING_PAYMENT",
                        "fields": "id,invoiceNumber",
                    },
                )
                for p in values
                if p.get("invoiceNumber")
            }
        )
        ids = [i for i in ids_for_numbers(numbers) if i not in fetched]
        size = self.client.page_size
        for chunk_start in range(0, len(ids), size):
            chunk = ids[chunk_start : chunk_start + size]
            page = self.client.page(
                INVOICES.path,
                {
                    **INVOICES.params(
                        id=",".join(str(i) for i in chunk),
                        invoiceDateFrom=self.history_start.isoformat(),
                        invoiceDateTo=(self.today + timedelta(days=1)).isoformat(),
                    ),
                    "from": 0,
                    "count": size,
                },
                record=INVOICES.record,
                what=INVOICES.what,
            )
            yield StreamPage("invoices", page.values, {})
        yield StreamPage("invoices", [], {"last_sync": self.today.isoformat()}, final=True)
