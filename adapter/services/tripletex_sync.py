"""Sync customers and invoices from Tripletex into the store, page by page.

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
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from stdnum.no import kontonr, orgnr

from adapter import company_settings
from adapter.clock import OSLO
from adapter.domain import AllocationKind, Money
from adapter.log import get_logger
from adapter.services import tripletex_letters
from adapter.store.database import Database
from adapter.store.repositories.bulk import insert_rows
from adapter.store.sql import upsert
from adapter.store.tables import claims, customers, invoices
from adapter.store.uow import UnitOfWork
from connectors.bank.kid import detect_scheme
from connectors.read_ahead import read_ahead
from connectors.tripletex import models
from connectors.tripletex.client import TripletexClient
from connectors.tripletex.streams import InvoiceSync, StreamPage, customer_pages

log = get_logger(__name__)
_T = TypeVar("_T")

CUSTOMER_STREAM, INVOICE_STREAM = "tripletex.customers", "tripletex.invoices"
_CUSTOMER_COLUMNS = (
    "customer_number",
    "name",
    "kind",
    "org_number",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "bank_account",
    "overdue_notice_email",
    "ledger_automation",
    "remote_changed_at",
)
_INVOICE_COLUMNS = (
    "customer_id",
    "number",
    "invoice_date",
    "due_date",
    "kid",
    "currency",
    "amount_ore",
    "company_amount_ore",
    "ledger_outstanding_ore",
    "ledger_outstanding_total_ore",
    "postpone_reminders_to",
    "is_credit_note",
    "department",
    "project",
    "remote_digest",
)
_INVOICE_WRITE = (*_INVOICE_COLUMNS, "external_id", "source", "outstanding_ore")


@dataclass
class Counts:
    """New, changed and unchanged records of one stream."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0


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


def _customer_row(c: models.Customer) -> dict[str, Any]:
    org = orgnr.compact(c.organization_number or "")
    account = next(
        (kontonr.compact(a.bban) for a in c.bank_accounts if a.bban and kontonr.is_valid(a.bban)),
        None,
    )
    address = c.postal_address or models.Address()
    return {
        "external_id": str(c.id),
        "customer_number": str(c.customer_number) if c.customer_number is not None else None,
        "name": c.name,
        "kind": "private" if c.is_private else "business",
        # An organisation number the ledger holds that does not validate is kept out, not fatal.
        "org_number": org if not c.is_private and orgnr.is_valid(org) else None,
        "email": c.invoice_email or c.email,
        "phone": c.phone,
        "address_line1": address.line1 or "",
        "address_line2": address.line2 or "",
        "postal_code": address.postal_code or "",
        "city": address.city or "",
        "country": (address.country.iso if address.country and address.country.iso else "NO"),
        "bank_account": account,
        "overdue_notice_email": c.overdue_notice_email or None,
        "ledger_automation": c.own_automation,
        "remote_changed_at": None,
    }


def store_customers(
    uow: UnitOfWork,
    records: Iterable[models.Customer],
    counts: Counts,
    rows: list[dict[str, Any]] | None = None,
) -> None:
    """Insert or update customers by their Tripletex id, counting what changed. `rows` are the
    records' `_customer_row`s when already built."""
    rows = rows if rows is not None else [_customer_row(c) for c in records]
    if not rows:
        return
    existing = {
        r.external_id: r
        for r in uow.conn.execute(
            select(customers).where(
                customers.c.company_id == uow.require_company(),
                customers.c.external_id.in_([r["external_id"] for r in rows]),
            )
        )
    }
    now = uow.clock.now()
    for row in rows:
        old = existing.get(row["external_id"])
        if old is None:
            counts.new += 1
        elif any(getattr(old, k) != row[k] for k in _CUSTOMER_COLUMNS if k != "remote_changed_at"):
            counts.changed += 1
        else:
            counts.unchanged += 1
        row.update(company_id=uow.require_company(), updated_at=now)
    upsert(
        uow.conn,
        customers,
        rows,
        key=["company_id", "external_id"],
        update=[*_CUSTOMER_COLUMNS, "updated_at"],
    )


def _customer_ids(
    uow: UnitOfWork, client: TripletexClient, external_ids: set[str], known: dict[str, int]
) -> dict[str, int]:
    """Our ids of customers by their Tripletex id; `known` holds those looked up on earlier
    pages of this sync (a customer's id never changes) and gains the ones looked up now."""
    wanted = external_ids - known.keys()
    if wanted:
        company = uow.require_company()
        q = select(customers.c.external_id, customers.c.id).where(
            customers.c.company_id == company, customers.c.external_id.in_(wanted)
        )
        known.update({r.external_id: r.id for r in uow.conn.execute(q)})
        missing = wanted - known.keys()
        if missing:  # a customer created after the customer pass: fetch it now
            store_customers(uow, [client.customer(int(m)) for m in sorted(missing)], Counts())
            known.update({r.external_id: r.id for r in uow.conn.execute(q)})
    return known


def _invoice_row(inv: models.Invoice) -> dict[str, Any]:
    """The row of an invoice, but for our customer id (looked up when it is stored)."""
    where = f"invoice {inv.invoice_number}"
    kid = inv.kid.strip() if inv.kid else None
    return {
        "external_id": str(inv.id),
        "source": "tripletex",
        "number": str(inv.invoice_number),
        "invoice_date": inv.invoice_date,
        "due_date": max(inv.due_date, inv.invoice_date),
        # A KID the bank would refuse is no KID to match on: kept out (and logged).
        "kid": kid if kid and detect_scheme(kid) else None,
        # Every amount in the invoice's own currency (what the debtor owes), and the amount in
        # the company's too: Tripletex's `amount` is in NOK, `amountCurrency` and the
        # outstanding fields in the invoice's currency (spec 2.72.00, Invoice).
        "currency": inv.currency.code,
        "amount_ore": models.to_ore(inv.invoice_amount, where=f"{where} amountCurrency"),
        "company_amount_ore": models.to_ore(inv.amount, where=f"{where} amount"),
        "ledger_outstanding_ore": models.to_ore(
            inv.invoice_outstanding, where=f"{where} amountCurrencyOutstanding"
        ),
        "ledger_outstanding_total_ore": models.to_ore(
            inv.invoice_outstanding_total, where=f"{where} amountCurrencyOutstandingTotal"
        ),
        "postpone_reminders_to": (
            inv.invoice_remark.postpone_reminders_to if inv.invoice_remark else None
        ),
        "is_credit_note": inv.is_credit_note,
        "department": inv.department,
        "project": inv.project,
        "remote_digest": str(inv.version),
    }


def store_invoices(
    uow: UnitOfWork,
    client: TripletexClient,
    records: list[models.Invoice],
    counts: Counts,
    rows: list[dict[str, Any]] | None = None,
    customer_ids: dict[str, int] | None = None,
) -> int:
    """Insert or update invoices, open claims for new ones, and record payments Tripletex made.
    Returns how many ledger-side payments were recorded. `rows` are the records'
    `_invoice_row`s when already built; `customer_ids` are our customers' ids by Tripletex id
    as far as known (kept from page to page of a sync).

    A page costs a fixed handful of statements, whatever its size: rows are compared with what
    is stored and only new or different ones are written."""
    if not records:
        return 0
    company = uow.require_company()
    rows = rows if rows is not None else [_invoice_row(r) for r in records]
    ids = _customer_ids(
        uow,
        client,
        {str(r.customer.id) for r in records},
        {} if customer_ids is None else customer_ids,
    )
    for row, inv in zip(rows, records, strict=True):
        row["customer_id"] = ids[str(inv.customer.id)]
        if inv.kid and row["kid"] is None:
            log.warning(
                "invoice KID has no valid check digit; not used for matching", invoice=row["number"]
            )
    external_ids = [r["external_id"] for r in rows]
    existing = {
        r.external_id: r
        for r in uow.conn.execute(
            select(invoices.c.id, invoices.c.external_id, invoices.c.outstanding_ore)
            .add_columns(*(invoices.c[k] for k in _INVOICE_COLUMNS))
            .where(invoices.c.company_id == company, invoices.c.external_id.in_(external_ids))
        )
    }
    now = uow.clock.now()
    writes: list[dict[str, Any]] = []
    for row in rows:
        old = existing.get(row["external_id"])
        if old is None:
            counts.new += 1
        elif (
            old.remote_digest != row["remote_digest"]
            or old.ledger_outstanding_ore != row["ledger_outstanding_ore"]
        ):
            counts.changed += 1
        else:
            counts.unchanged += 1
        if old is None or any(getattr(old, k) != row[k] for k in _INVOICE_COLUMNS):
            # Our own outstanding follows from allocations (recomputed below), never from the ledger.
            outstanding = row["amount_ore"] if old is None else old.outstanding_ore
            row["outstanding_ore"] = outstanding
            writes.append(row)
    written = insert_rows(
        uow.conn,
        invoices,
        _INVOICE_WRITE,
        # By Tripletex id once (PostgreSQL refuses to update a row twice in one statement).
        ([w[k] for k in _INVOICE_WRITE] for w in {w["external_id"]: w for w in writes}.values()),
        same={"company_id": company, "updated_at": now},
        key=("company_id", "external_id"),
        update=(*_INVOICE_COLUMNS, "updated_at"),
        returning=("external_id", "id"),
    )
    our_ids = {ext: r.id for ext, r in existing.items()}
    our_ids.update(written)
    if len(our_ids) < len(set(external_ids)):  # not expected: every new row was written
        our_ids |= _invoice_ids(uow, [e for e in external_ids if e not in our_ids])
    _open_claims(
        uow, sorted(our_ids[r["external_id"]] for r in rows if not r["is_credit_note"]), now
    )
    page = [(inv, our_ids[str(inv.id)]) for inv in records]
    # A new invoice starts at its amount (above); changed ones and credit notes are recomputed.
    touched = {
        our_ids[w["external_id"]]
        for w in writes
        if w["external_id"] in existing or w["is_credit_note"]
    }
    touched |= _apply_credit_notes(uow, [(inv, iid) for inv, iid in page if inv.is_credit_note])
    paid = _ledger_payments(
        uow, page, fresh={iid for ext, iid in our_ids.items() if ext not in existing}
    )
    uow.payments.recompute_outstanding(sorted(touched.union(paid)))
    with_reminders = [(inv, iid) for inv, iid in page if inv.reminders]
    if with_reminders:
        tripletex_letters.import_reminders(uow, with_reminders)
    return len(paid)


def _invoice_ids(uow: UnitOfWork, external_ids: list[str]) -> dict[str, int]:
    """Our ids of invoices by their Tripletex id."""
    rows = uow.conn.execute(
        select(invoices.c.external_id, invoices.c.id).where(
            invoices.c.company_id == uow.require_company(),
            invoices.c.external_id.in_(external_ids),
        )
    )
    return {r.external_id: r.id for r in rows}


def _open_claims(uow: UnitOfWork, invoice_ids: list[int], now: datetime) -> None:
    """A claim for each of these invoices that has none, in a few multi-row statements (the
    caller leaves out credit notes, which are no claims)."""
    insert_rows(
        uow.conn,
        claims,
        ("invoice_id",),
        ((i,) for i in invoice_ids),
        same={"company_id": uow.require_company(), "status": "open", "updated_at": now},
        key=("invoice_id",),
    )


def _apply_credit_notes(uow: UnitOfWork, notes: list[tuple[models.Invoice, int]]) -> set[int]:
    """Tie credit notes to the invoices they credit and reduce those once; returns the ids of
    the credited invoices (their outstanding changes)."""
    originals = _invoice_ids(
        uow, [str(n.credited_invoice) for n, _id in notes if n.credited_invoice]
    )
    linked = [
        (note, note_id, originals[str(note.credited_invoice)])
        for note, note_id in notes
        if str(note.credited_invoice) in originals
    ]  # an original older than our history has nothing of ours to reduce
    if not linked:
        return set()
    uow.conn.execute(
        invoices.update()
        .where(invoices.c.id == bindparam("note_id"))
        .values(credit_note_for_id=bindparam("original_id")),
        [{"note_id": note_id, "original_id": original} for _n, note_id, original in linked],
    )
    company = uow.require_company()
    amounts = [
        -models.to_ore(note.invoice_amount, where=f"credit note {note.invoice_number} amount")
        for note, _id, _original in linked
    ]
    applied = uow.payments.allocate_credit_notes(
        [
            (original, note_id, amount, note.invoice_date)
            for (note, note_id, original), amount in zip(linked, amounts, strict=True)
        ]
    )
    reduced = [
        (note, note_id, original, amount)
        for (note, note_id, original), amount in zip(linked, amounts, strict=True)
        if note_id in applied
    ]
    at_agency = _handed_off(uow, (original for _n, _id, original, _a in reduced))
    for note, note_id, original, amount in reduced:
        if original in at_agency:
            uow.outbox.add(
                "kravia.creditnote",
                idempotency_key=f"kravia:creditnote:{company}:{note_id}",
                payload={
                    "payment_id": note_id,
                    "invoice_id": original,
                    "amount_ore": amount,
                    "date": note.invoice_date.isoformat(),
                    "text": f"Kreditnota {note.invoice_number}",
                },
            )
    uow.audit.record_many(
        actor="tripletex",
        action="invoice.credit_note",
        lines=[
            (
                ("invoice", original),
                f"credit note {note.invoice_number} reduces the invoice by {Money(amount)} kr",
                {"credit_note": note.invoice_number, "amount_ore": amount},
            )
            for note, _id, original, amount in reduced
        ],
    )
    return {original for _n, _id, original in linked}


def _handed_off(uow: UnitOfWork, invoice_ids: Iterable[int]) -> set[int]:
    """Which of these invoices are at the agency now (a payment on them is forwarded)."""
    ids = sorted(set(invoice_ids))
    if not ids:
        return set()
    rows = uow.conn.execute(
        select(claims.c.invoice_id, claims.c.agency_status).where(
            claims.c.invoice_id.in_(ids), claims.c.status == "handed_off"
        )
    )
    return {r.invoice_id for r in rows if not str(r.agency_status or "").startswith("closed")}


def _ledger_payments(
    uow: UnitOfWork, page: list[tuple[models.Invoice, int]], *, fresh: set[int]
) -> list[int]:
    """Record the payments Tripletex booked on a page of invoices that we do not know yet,
    in a few statements for the whole page; returns the invoice of each payment recorded.
    `fresh` are the page's invoices stored for the first time just now."""
    company = uow.require_company()
    postings = [(inv, invoice_id, p) for inv, invoice_id in page for p in inv.payments]
    # A posting belongs to one invoice, and a payment of ours tied to it is allocated to that
    # invoice: an invoice stored just now has none, so only the others' postings are looked up
    # (on a first sync, none). Should one be stored all the same, its natural key keeps it out
    # of `add_ledger_payments`' answer and so out of `new`, as if it had been looked up.
    known = uow.payments.known_ledger_refs(
        str(p.id) for _inv, iid, p in postings if iid not in fresh
    )
    unknown = [
        (
            inv,
            invoice_id,
            p,
            -models.to_ore(p.invoice_amount, where=f"invoice {inv.invoice_number} posting {p.id}"),
        )
        for inv, invoice_id, p in postings
        if str(p.id) not in known
    ]
    if not unknown:
        return []
    # Nor has an invoice stored just now an allocation, so no payment of ours to tie a posting to.
    own = uow.payments.own_unlinked_by_invoice(
        iid for _inv, iid, _p, _a in unknown if iid not in fresh
    )
    candidates: list[tuple[models.Invoice, int, models.Posting, int]] = []
    for inv, invoice_id, posting, amount in unknown:
        mine = own.get((invoice_id, posting.date, amount))
        if mine:  # the posting Tripletex made for our own `:payment`
            uow.payments.set_match(mine.pop(0), ledger_ref=str(posting.id))
        else:
            candidates.append((inv, invoice_id, posting, amount))
    ids = uow.payments.add_ledger_payments(
        [
            (f"tripletex:posting:{posting.id}", str(posting.id), amount, posting.date, inv.kid)
            for inv, _iid, posting, amount in candidates
        ],
        source="tripletex",
    )
    new = [item for item in candidates if str(item[2].id) in ids]
    # An invoice stored just now has a claim opened just now: not at the agency.
    at_agency = _handed_off(uow, (iid for _inv, iid, _p, _a in new if iid not in fresh))
    for _inv, invoice_id, posting, amount in new:
        if invoice_id in at_agency:
            # Paid to the company after hand-off: the agency is told once (its own payouts close
            # the claim at the agency first and are not forwarded back).
            payment_id = ids[str(posting.id)]
            uow.outbox.add(
                "kravia.payment",
                idempotency_key=f"kravia:payment:{company}:{payment_id}:{invoice_id}",
                payload={
                    "payment_id": payment_id,
                    "invoice_id": invoice_id,
                    "amount_ore": amount,
                    "date": posting.date.isoformat(),
                },
            )
    uow.payments.allocate_many(
        [
            (ids[str(posting.id)], invoice_id, amount, posting.date)
            for _inv, invoice_id, posting, amount in new
        ],
        kind=AllocationKind.PRINCIPAL,
        order_used="ledger",
        actor="tripletex",
    )
    uow.audit.record_many(
        actor="tripletex",
        action="payment.ledger",
        lines=[
            (
                ("invoice", invoice_id),
                f"payment of {Money(amount)} kr on {posting.date} booked in Tripletex recorded",
                {"posting": str(posting.id), "amount_ore": amount},
            )
            for _inv, invoice_id, posting, amount in new
        ],
    )
    return [invoice_id for _inv, invoice_id, _p, _a in new]


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
        summary.ledger_payments += store_invoices(
            uow, client, page.records, summary.invoices, rows, customer_ids
        )

    # One connection for the whole sync, a transaction per few pages: a connection per page
    # would cost SQLite a cold page cache and a checkpoint each time.
    with db.uow(company_id) as uow:
        streams = (
            (
                "customers",
                CUSTOMER_STREAM,
                customer_stream,
                _customer_row,
                partial(_store_customer_page, summary),
            ),
            ("invoices", INVOICE_STREAM, invoice_stream, _invoice_row, store_invoice_page),
        )
        for kind, stream, pages, row, store in streams:
            # Read ahead: the next page comes over the network while this one is written.
            batch = _Batch(uow, heartbeat)
            with closing(read_ahead(_with_rows(pages, row))) as ahead:
                for page, rows in _whole_pages_kept(ahead, batch):
                    _store_page(uow, page, partial(store, uow, page, rows), stream)
                    batch.stored(next_ready=ahead.ready)
                    summary.pages += 1
                    progress(kind, len(page.records))
            batch.commit()
        summary.requests = client.requests - requests_before
        log.info("tripletex sync", company_id=company_id, **summary.as_json())
        uow.audit.record(
            actor="tripletex",
            action="sync.tripletex",
            subject=("company", company_id),
            message=f"{mode} sync: {summary.invoices.new} new and {summary.invoices.changed} changed invoices, "
            f"{summary.customers.new} new customers, {summary.ledger_payments} payments from the ledger",
            data=summary.as_json(),
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
    ids: list[int] = []
    with db.uow(company_id, read_only=True) as uow:
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            rows = uow.conn.execute(
                select(invoices.c.external_id).where(
                    invoices.c.company_id == company_id,
                    invoices.c.source == "tripletex",
                    invoices.c.number.in_(chunk),
                )
            )
            ids += [int(r.external_id) for r in rows]
    return sorted(ids)


def refetch(
    db: Database, client: TripletexClient, company_id: int, kind: str, object_id: int
) -> None:
    """Read one invoice or customer again (what a webhook asks for) and store it."""
    with db.uow(company_id) as uow:
        if kind == "invoice":
            store_invoices(uow, client, [client.invoice(object_id)], Counts())
        else:
            store_customers(uow, [client.customer(object_id)], Counts())
        uow.commit()
