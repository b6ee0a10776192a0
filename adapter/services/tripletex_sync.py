"""Sync customers and invoices from Tripletex into the store, page by page.

Each page is written in one transaction together with the bookmark state it advances, so a
failure mid-sync leaves every committed page valid and the bookmark where it was. Payments
Tripletex booked itself (its own OCR matching, a payment typed in by hand) appear as new
payment postings on an invoice: each becomes a payment of ours (source "tripletex") unless
it is the posting of a payment we registered (`:payment`), which it is tied to instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from stdnum.no import kontonr, orgnr

from adapter import company_settings
from adapter.clock import OSLO
from adapter.domain import Allocation, AllocationKind, MatchStatus, Money, Payment
from adapter.log import get_logger
from adapter.store.database import Database
from adapter.store.sql import insert_on_conflict, upsert
from adapter.store.tables import claims, customers, invoices
from adapter.store.uow import UnitOfWork
from connectors.bank.kid import detect_scheme
from connectors.tripletex import models
from connectors.tripletex.client import TripletexClient
from connectors.tripletex.streams import InvoiceSync, StreamPage, customer_pages

log = get_logger(__name__)

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
    "ledger_outstanding_ore",
    "is_credit_note",
    "credit_note_for_id",
    "department",
    "project",
    "remote_digest",
)


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
        "remote_changed_at": None,
    }


def store_customers(uow: UnitOfWork, records: Iterable[models.Customer], counts: Counts) -> None:
    """Insert or update customers by their Tripletex id, counting what changed."""
    rows = [_customer_row(c) for c in records]
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
    uow: UnitOfWork, client: TripletexClient, external_ids: set[str]
) -> dict[str, int]:
    company = uow.require_company()
    q = select(customers.c.external_id, customers.c.id).where(
        customers.c.company_id == company, customers.c.external_id.in_(external_ids)
    )
    found = {r.external_id: r.id for r in uow.conn.execute(q)}
    missing = external_ids - set(found)
    if missing:  # a customer created after the customer pass: fetch it now
        store_customers(uow, [client.customer(int(m)) for m in sorted(missing)], Counts())
        found.update({r.external_id: r.id for r in uow.conn.execute(q)})
    return found


def _invoice_row(inv: models.Invoice, customer_id: int) -> dict[str, Any]:
    where = f"invoice {inv.invoice_number}"
    kid = inv.kid.strip() if inv.kid else None
    return {
        "external_id": str(inv.id),
        "source": "tripletex",
        "customer_id": customer_id,
        "number": str(inv.invoice_number),
        "invoice_date": inv.invoice_date,
        "due_date": max(inv.due_date, inv.invoice_date),
        # A KID the bank would refuse is no KID to match on: kept out (and logged).
        "kid": kid if kid and detect_scheme(kid) else None,
        "currency": inv.currency.code,
        "amount_ore": models.to_ore(inv.amount, where=f"{where} amount"),
        "ledger_outstanding_ore": models.to_ore(
            inv.amount_outstanding, where=f"{where} amountOutstanding"
        ),
        "is_credit_note": inv.is_credit_note,
        "credit_note_for_id": None,
        "department": inv.department,
        "project": inv.project,
        "remote_digest": str(inv.version),
    }


def store_invoices(
    uow: UnitOfWork, client: TripletexClient, records: list[models.Invoice], counts: Counts
) -> int:
    """Insert or update invoices, open claims for new ones, and record payments Tripletex made.
    Returns how many ledger-side payments were recorded."""
    if not records:
        return 0
    company = uow.require_company()
    ids = _customer_ids(uow, client, {str(r.customer.id) for r in records})
    rows = [_invoice_row(r, ids[str(r.customer.id)]) for r in records]
    for r, inv in zip(rows, records, strict=True):
        if inv.kid and r["kid"] is None:
            log.warning(
                "invoice KID has no valid check digit; not used for matching", invoice=r["number"]
            )
    existing = {
        r.external_id: r
        for r in uow.conn.execute(
            select(invoices).where(
                invoices.c.company_id == company,
                invoices.c.external_id.in_([r["external_id"] for r in rows]),
            )
        )
    }
    now = uow.clock.now()
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
        row.update(company_id=company, updated_at=now)
        # Our own outstanding follows from allocations (recomputed below), never from the ledger.
        row["outstanding_ore"] = row["amount_ore"] if old is None else old.outstanding_ore
    new_rows = [r for r in rows if r["external_id"] not in existing]
    upsert(
        uow.conn,
        invoices,
        new_rows,
        key=["company_id", "external_id"],
        update=list(_INVOICE_COLUMNS),
    )
    upsert(
        uow.conn,
        invoices,
        [r for r in rows if r["external_id"] in existing],
        key=["company_id", "external_id"],
        update=[*_INVOICE_COLUMNS, "updated_at"],
    )
    by_external = {
        r.external_id: r
        for r in uow.conn.execute(
            select(invoices.c.id, invoices.c.external_id, invoices.c.is_credit_note).where(
                invoices.c.company_id == company,
                invoices.c.external_id.in_([r["external_id"] for r in rows]),
            )
        )
    }
    claim_rows = [
        {"company_id": company, "invoice_id": row.id, "status": "open", "updated_at": now}
        for row in by_external.values()
        if not row.is_credit_note
    ]
    if claim_rows:
        uow.conn.execute(
            insert_on_conflict(uow.conn, claims).on_conflict_do_nothing(
                index_elements=["invoice_id"]
            ),
            claim_rows,
        )
    page = [(inv, by_external[str(inv.id)].id) for inv in records]
    touched = {our_id for _inv, our_id in page}
    for inv, our_id in page:
        if inv.is_credit_note and inv.credited_invoice:
            touched |= _apply_credit_note(uow, inv, our_id)
    ledger_payments = _ledger_payments(uow, page)
    uow.payments.recompute_outstanding(sorted(touched))
    return ledger_payments


def _apply_credit_note(uow: UnitOfWork, note: models.Invoice, note_id: int) -> set[int]:
    original = uow.conn.execute(
        select(invoices.c.id).where(
            invoices.c.company_id == uow.require_company(),
            invoices.c.external_id == str(note.credited_invoice),
        )
    ).first()
    if original is None:
        return set()  # the original is older than our history; nothing of ours to reduce
    uow.conn.execute(
        invoices.update().where(invoices.c.id == note_id).values(credit_note_for_id=original.id)
    )
    amount = -models.to_ore(note.amount, where=f"credit note {note.invoice_number} amount")
    if uow.payments.allocate_credit_note(original.id, note_id, amount, note.invoice_date):
        if _handed_off(uow, [original.id]):
            uow.outbox.add(
                "kravia.creditnote",
                idempotency_key=f"kravia:creditnote:{uow.require_company()}:{note_id}",
                payload={
                    "payment_id": note_id,
                    "invoice_id": original.id,
                    "amount_ore": amount,
                    "date": note.invoice_date.isoformat(),
                    "text": f"Kreditnota {note.invoice_number}",
                },
            )
        uow.audit.record(
            actor="tripletex",
            action="invoice.credit_note",
            subject=("invoice", original.id),
            message=f"credit note {note.invoice_number} reduces the invoice by {Money(amount)} kr",
            data={"credit_note": note.invoice_number, "amount_ore": amount},
        )
    return {original.id}


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


def _ledger_payments(uow: UnitOfWork, page: list[tuple[models.Invoice, int]]) -> int:
    """Record the payments Tripletex booked on a page of invoices that we do not know yet,
    in a few statements for the whole page; returns how many were recorded."""
    company = uow.require_company()
    postings = [(inv, invoice_id, p) for inv, invoice_id in page for p in inv.payments]
    known = uow.payments.known_ledger_refs(str(p.id) for _inv, _iid, p in postings)
    fresh = [
        (
            inv,
            invoice_id,
            p,
            -models.to_ore(p.amount, where=f"invoice {inv.invoice_number} posting {p.id}"),
        )
        for inv, invoice_id, p in postings
        if str(p.id) not in known
    ]
    if not fresh:
        return 0
    own = uow.payments.own_unlinked_by_invoice(iid for _inv, iid, _p, _a in fresh)
    new: list[tuple[models.Invoice, int, models.Posting, int]] = []
    for inv, invoice_id, posting, amount in fresh:
        mine = own.get((invoice_id, posting.date, amount))
        if mine:  # the posting Tripletex made for our own `:payment`
            uow.payments.set_match(mine.pop(0), ledger_ref=str(posting.id))
        else:
            new.append((inv, invoice_id, posting, amount))
    ids = uow.payments.add_ledger_payments(
        [
            Payment(
                id=None,
                company_id=company,
                natural_key=f"tripletex:posting:{posting.id}",
                source="tripletex",
                amount=Money(amount),
                payment_date=posting.date,
                kid=inv.kid,
                status=MatchStatus.MATCHED,
                match_method="ledger",
            )
            for inv, _iid, posting, amount in new
        ],
        [str(posting.id) for _inv, _iid, posting, _a in new],
    )
    at_agency = _handed_off(uow, (iid for _inv, iid, _p, _a in new))
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
            Allocation(
                None,
                company,
                ids[str(posting.id)],
                invoice_id,
                AllocationKind.PRINCIPAL,
                Money(amount),
                posting.date,
                order_used="ledger",
                actor="tripletex",
            )
            for _inv, invoice_id, posting, amount in new
        ]
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
    return len(new)


def _store_customer_page(uow: UnitOfWork, *, page: StreamPage, counts: Counts) -> None:
    store_customers(uow, page.records, counts)


def _commit_page(
    db: Database,
    company_id: int,
    page: StreamPage,
    store: Callable[[UnitOfWork], None],
    stream: str,
) -> None:
    with db.uow(company_id) as uow:
        store(uow)
        if page.state:
            value, state = uow.bookmarks.get(stream)
            merged = {**state, **page.state}
            uow.bookmarks.put(
                stream, merged.get("last_sync") or merged.get("changed_since") or value, merged
            )
        uow.commit()


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
    for page in customer_pages(client, customer_state, started=started_local, full=mode == "full"):
        _commit_page(
            db,
            company_id,
            page,
            partial(_store_customer_page, page=page, counts=summary.customers),
            CUSTOMER_STREAM,
        )
        summary.pages += 1
        progress("customers", len(page.records))
        heartbeat()

    history_start = today - timedelta(days=settings.history_days)
    sync = InvoiceSync(
        client,
        today=today,
        history_start=history_start,
        digests=dict(invoice_state.get("digests") or {}) if mode == "rescan" else {},
    )
    if mode == "incremental":
        pages = sync.incremental(
            date.fromisoformat(invoice_state["last_sync"]),
            lambda numbers: _ids_for(db, company_id, numbers),
        )
    else:
        pages = sync.full(use_digests=mode == "rescan")

    def store_page(page: StreamPage, uow: UnitOfWork) -> None:
        summary.ledger_payments += store_invoices(uow, client, page.records, summary.invoices)

    for page in pages:
        if page.unchanged:
            summary.invoices.unchanged += page.rows
        _commit_page(db, company_id, page, partial(store_page, page), INVOICE_STREAM)
        summary.pages += 1
        progress("invoices", len(page.records))
        heartbeat()
    summary.requests = client.requests - requests_before
    log.info("tripletex sync", company_id=company_id, **summary.as_json())
    with db.uow(company_id) as uow:
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
