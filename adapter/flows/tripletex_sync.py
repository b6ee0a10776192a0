"""Sync customers and invoices from Tripletex into the store, page by page: the orchestrator.

What is read is declared in connectors/tripletex/streams.py (path, fields, paging, bookmark,
record model and its plain row); what is written is the store step (tripletex_store.py). This
module chooses the mode, runs the streams with a read-ahead, and decides when to commit. No
remote call is made inside an open transaction: pages are read on the read-ahead thread and a
batch commits before waiting for one; a customer an invoice page names but the store lacks is
fetched after the pages before it are committed, then stored, then the page.

Each page is written together with the bookmark state it advances, and a transaction holds
whole pages only (several consecutive ones, see `_Batch`), so a failure mid-sync leaves every
committed page valid and the bookmark at the last committed page: the next sync reads the
rest again (storing a page is an idempotent upsert). Payments Tripletex booked itself (its
own OCR matching, a payment typed in by hand) appear as new payment postings on an invoice:
each becomes a payment of ours (source "tripletex") unless it is the posting of a payment we
registered (`:payment`), which it is tied to instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any, TypeVar

from adapter import company_settings
from adapter.clock import OSLO
from adapter.i18n import N_
from adapter.services import tripletex_store
from adapter.services.tripletex_store import (
    Counts,
    missing_customers,
    store_customers,
    store_invoices,
)
from adapter.store.database import Database
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork
from connectors.read_ahead import read_ahead
from connectors.tripletex.client import TripletexClient
from connectors.tripletex.streams import (
    CUSTOMERS,
    INVOICES,
    InvoiceSync,
    StreamPage,
    customer_pages,
)

_T = TypeVar("_T")

CUSTOMER_STREAM, INVOICE_STREAM = CUSTOMERS.bookmark, INVOICES.bookmark


@dataclass
class SyncSummary:
    """What a sync did."""

    mode: str
    customers: Counts = field(default_factory=Counts)
    invoices: Counts = field(default_factory=Counts)
    ledger_payments: int = 0
    requests: int = 0
    pages: int = 0

    def as_json(self) -> dict[str, Any]:
        """The summary in the shape `kravflyt sync tripletex --json` prints."""
        return {
            "customers": asdict(self.customers),
            "invoices": asdict(self.invoices),
            "requests": self.requests,
            "mode": self.mode,
            "ledger_payments": self.ledger_payments,
        }


def _store_page(uow: UnitOfWork, page: StreamPage, store: Callable[[], None], stream: str) -> None:
    """Store a page and the bookmark state it carries in the open transaction."""
    store()
    if page.state:
        value, state = uow.bookmarks.get(stream)
        merged = {**state, **page.state}
        uow.bookmarks.put(
            stream, merged.get("last_sync") or merged.get("changed_since") or value, merged
        )


# Commits are dear on SQLite: the random-order invoice indexes (KID, customer, due date) make
# every transaction dirty thousands of index pages, all written out again at each commit.
# Consecutive pages share most of them, so several pages go in one transaction (a full sync of
# 100,000 invoices: 26 commits instead of 121, 15 % faster), but not so many that a failure
# throws much away or other writers wait long on the lock.
_BATCH_PAGES, _BATCH_SECONDS = 10, 1.0


class _Batch:
    """The pages stored since the last commit, and when to commit them. `heartbeat` runs after
    each commit, never between: a job's heartbeat writes its lease on a connection of its own,
    which on SQLite would wait for this transaction's lock (held by the same thread)."""

    def __init__(self, uow: UnitOfWork, heartbeat: Callable[[], object]):
        self.uow, self.heartbeat = uow, heartbeat
        self.pages, self.since = 0, time.monotonic()

    def stored(self, *, next_ready: bool) -> None:
        """One more page stored. Committed now when the next page is still on its way (the
        commit overlaps the wait, and no lock is held across a rate-limit pause), or when
        the batch is full or old."""
        self.pages += 1
        if (
            not next_ready
            or self.pages >= _BATCH_PAGES
            or time.monotonic() - self.since >= _BATCH_SECONDS
        ):
            self.commit()

    def commit(self) -> None:
        """Make the pages stored so far durable, with the bookmark of the last of them."""
        self.uow.commit()
        self.pages, self.since = 0, time.monotonic()
        self.heartbeat()


def sync_company(
    db: Database,
    client: TripletexClient,
    company_id: int,
    *,
    mode: str = "auto",
    progress: Callable[[str, int], None] = lambda _stream, _n: None,
    heartbeat: Callable[[], object] = lambda: None,
) -> SyncSummary:
    """Sync one company's customers and invoices; `mode` is auto, incremental, rescan or full."""
    started = db.clock.now()
    today = db.clock.today()
    with db.uow(company_id, read_only=True) as uow:
        uow.companies.get(company_id)
        _, customer_state = uow.bookmarks.get(CUSTOMER_STREAM)
        _, invoice_state = uow.bookmarks.get(INVOICE_STREAM)
        settings = company_settings.effective(
            company_settings.TripletexSettings, uow.settings.get("tripletex")
        )
    mode = _choose_mode(mode, invoice_state, today, settings.rescan_every_days)
    summary = SyncSummary(mode=mode)
    requests_before = client.requests

    # Tripletex's changedSince is local time without a zone (UNCONFIRMED): Oslo time, as the ledger's users see it.
    started_local = started.astimezone(OSLO).replace(tzinfo=None)
    customer_stream = customer_pages(
        client, customer_state, started=started_local, full=mode == "full"
    )
    sync = InvoiceSync(
        client,
        today=today,
        history_start=today - timedelta(days=settings.history_days),
        digests=dict(invoice_state.get("digests") or {}) if mode == "rescan" else {},
    )
    if mode == "incremental":
        invoice_stream = sync.incremental(
            date.fromisoformat(invoice_state["last_sync"]),
            lambda numbers: _ids_for(db, company_id, numbers),
        )
    else:
        invoice_stream = sync.full(use_digests=mode == "rescan")

    customer_ids: dict[str, int] = {}

    def store_invoice_page(uow: UnitOfWork, page: StreamPage, rows: list[dict[str, Any]]) -> None:
        if page.unchanged:
            summary.invoices.unchanged += page.rows
        missing = missing_customers(uow, page.records, customer_ids)
        if missing:  # created after the customer pass: fetched with no transaction open
            batch.commit()
            fetched = [client.customer(m) for m in missing]
            store_customers(uow, fetched, summary.customers)
            missing_customers(uow, page.records, customer_ids)
        summary.ledger_payments += tripletex_store.store_invoices(
            uow, page.records, summary.invoices, rows, customer_ids
        )

    # One connection for the whole sync, a transaction per few pages: a connection per page
    # would cost SQLite a cold page cache and a checkpoint each time.
    with db.uow(company_id) as uow:
        streams = (
            (CUSTOMERS, customer_stream, partial(_store_customer_page, summary)),
            (INVOICES, invoice_stream, store_invoice_page),
        )
        for declared, pages, store in streams:
            # Read ahead: the next page comes over the network while this one is written.
            kind, stream = declared.name, declared.bookmark
            batch = _Batch(uow, heartbeat)
            with closing(read_ahead(_with_rows(pages, declared.row))) as ahead:
                for page, rows in _whole_pages_kept(ahead, batch):
                    _store_page(uow, page, partial(store, uow, page, rows), stream)
                    batch.stored(next_ready=ahead.ready)
                    summary.pages += 1
                    progress(kind, len(page.records))
            batch.commit()
        summary.requests = client.requests - requests_before
        uow.record(
            Event(
                actor="tripletex",
                action="sync.tripletex",
                subject=("company", company_id),
                message=f"{mode} sync: {summary.invoices.new} new and {summary.invoices.changed} changed invoices, "
                f"{summary.customers.new} new customers, {summary.ledger_payments} payments from the ledger",
                data=summary.as_json(),
                said=N_(
                    SYNC_SAID.get(mode, SYNC_SAID["incremental"]),
                    new=summary.invoices.new,
                    changed=summary.invoices.changed,
                    customers=summary.customers.new,
                    payments=summary.ledger_payments,
                ),
                log="tripletex sync",
                log_fields=summary.as_json(),
            )
        )
        uow.commit()
    return summary


def _store_customer_page(
    summary: SyncSummary, uow: UnitOfWork, page: StreamPage, rows: list[dict[str, Any]]
) -> None:
    store_customers(uow, page.records, summary.customers, rows)


def _whole_pages_kept(pages: Iterator[_T], batch: _Batch) -> Iterator[_T]:
    """`pages`; should reading the next one fail, the pages stored before it are committed
    first (each is whole, so worth keeping, as when every page was its own transaction)."""
    while True:
        try:
            item = next(pages)
        except StopIteration:
            return
        except Exception:
            batch.commit()
            raise
        yield item


def _with_rows(
    pages: Iterator[StreamPage], row: Callable[[Any], dict[str, Any]]
) -> Iterator[tuple[StreamPage, list[dict[str, Any]]]]:
    """Each page with its records' rows, built where the page is read: on the read-ahead
    thread, so this work overlaps the database writes of the page before."""
    for page in pages:
        yield page, [row(r) for r in page.records]


# The sync's audit line in words, per mode (what _choose_mode picks).
SYNC_SAID = {
    "full": N_(
        "Full sync from Tripletex: %(new)s new and %(changed)s changed invoices, "
        "%(customers)s new customers, %(payments)s payments from the ledger"
    ).msgid,
    "rescan": N_(
        "Sync from Tripletex, everything read again: %(new)s new and %(changed)s changed "
        "invoices, %(customers)s new customers, %(payments)s payments from the ledger"
    ).msgid,
    "incremental": N_(
        "Sync of changes from Tripletex: %(new)s new and %(changed)s changed invoices, "
        "%(customers)s new customers, %(payments)s payments from the ledger"
    ).msgid,
}


def _choose_mode(mode: str, state: dict[str, Any], today: date, rescan_every_days: int) -> str:
    if mode != "auto":
        return mode
    if not state.get("last_sync"):
        return "full"
    last_rescan = state.get("last_rescan")
    if not last_rescan or date.fromisoformat(last_rescan) <= today - timedelta(
        days=rescan_every_days
    ):
        return "rescan"
    return "incremental"


def _ids_for(db: Database, company_id: int, numbers: list[str]) -> list[int]:
    with db.uow(company_id, read_only=True) as uow:
        return uow.invoices.tripletex_ids(numbers)


def refetch(
    db: Database, client: TripletexClient, company_id: int, kind: str, object_id: int
) -> None:
    """Read one invoice or customer again (what a webhook asks for) and store it; read first,
    then written, so no transaction waits on Tripletex."""
    if kind != "invoice":
        customer = client.customer(object_id)
        with db.uow(company_id) as uow:
            store_customers(uow, [customer], Counts())
            uow.commit()
        return
    invoice = client.invoice(object_id)
    with db.uow(company_id, read_only=True) as uow:
        missing = missing_customers(uow, [invoice], {})
    new_customers = [client.customer(m) for m in missing]
    with db.uow(company_id) as uow:
        store_customers(uow, new_customers, Counts())
        store_invoices(uow, [invoice], Counts())
        uow.commit()
