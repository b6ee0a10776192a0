"""The store step of the Tripletex sync: a page of records, already turned into plain rows
(connectors/tripletex/rows.py), upserted in a few statements, with what follows from them:
claims opened for new invoices, credit notes applied to the invoices they credit, payments
Tripletex booked itself recorded, and its reminders tied to our letters or imported
(tripletex_letters). It never calls Tripletex: the orchestrator (tripletex_sync) reads, this
writes, inside the transaction the orchestrator holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapter.domain import AllocationKind, Money
from adapter.log import get_logger
from adapter.services import tripletex_letters
from adapter.store.uow import UnitOfWork
from connectors.tripletex import models
from connectors.tripletex.rows import customer_row, invoice_row

log = get_logger(__name__)

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


def store_customers(
    uow: UnitOfWork,
    records: Iterable[models.Customer],
    counts: Counts,
    rows: list[dict[str, Any]] | None = None,
) -> None:
    """Insert or update customers by their Tripletex id, counting what changed. `rows` are the
    records' `customer_row`s when already built."""
    rows = rows if rows is not None else [customer_row(c) for c in records]
    if not rows:
        return
    existing = uow.ledger_sync.customers_by_external_id([r["external_id"] for r in rows])
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
    uow.ledger_sync.upsert_customers(rows, update=[*_CUSTOMER_COLUMNS, "updated_at"])


def missing_customers(
    uow: UnitOfWork, records: list[models.Invoice], known: dict[str, int]
) -> list[int]:
    """The Tripletex ids of customers these invoices name that the store does not hold yet (a
    customer created after the customer pass); `known` holds our ids of those looked up on
    earlier pages of this sync (a customer's id never changes) and gains the ones found now.
    The caller fetches the missing ones outside any transaction and stores them first."""
    wanted = {str(r.customer.id) for r in records} - known.keys()
    if wanted:
        known.update(uow.ledger_sync.customer_ids(wanted))
    return sorted(int(m) for m in wanted - known.keys())


def store_invoices(
    uow: UnitOfWork,
    records: list[models.Invoice],
    counts: Counts,
    rows: list[dict[str, Any]] | None = None,
    customer_ids: dict[str, int] | None = None,
) -> int:
    """Insert or update invoices, open claims for new ones, and record payments Tripletex made.
    Returns how many ledger-side payments were recorded. `rows` are the records'
    `invoice_row`s when already built; `customer_ids` are our customers' ids by Tripletex id
    as far as known (kept from page to page of a sync).

    A page costs a fixed handful of statements, whatever its size: rows are compared with what
    is stored and only new or different ones are written."""
    if not records:
        return 0
    rows = rows if rows is not None else [invoice_row(r) for r in records]
    ids = {} if customer_ids is None else customer_ids
    missing = missing_customers(uow, records, ids)
    if missing:  # the caller stores them first: a page never waits on Tripletex here
        raise LookupError(f"customers {missing} are not stored yet")
    for row, inv in zip(rows, records, strict=True):
        row["customer_id"] = ids[str(inv.customer.id)]
        if inv.kid and row["kid"] is None:
            log.warning(
                "invoice KID has no valid check digit; not used for matching", invoice=row["number"]
            )
    external_ids = [r["external_id"] for r in rows]
    existing = uow.ledger_sync.invoices_by_external_id(external_ids, _INVOICE_COLUMNS)
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
    written = uow.ledger_sync.write_invoices(
        _INVOICE_WRITE,
        # By Tripletex id once (PostgreSQL refuses to update a row twice in one statement).
        ([w[k] for k in _INVOICE_WRITE] for w in {w["external_id"]: w for w in writes}.values()),
        update=(*_INVOICE_COLUMNS, "updated_at"),
        now=now,
    )
    our_ids = {ext: r.id for ext, r in existing.items()}
    our_ids.update(written)
    if len(our_ids) < len(set(external_ids)):  # not expected: every new row was written
        our_ids |= uow.ledger_sync.invoice_ids([e for e in external_ids if e not in our_ids])
    # A claim for each new invoice (credit notes are no claims).
    uow.ledger_sync.open_claims(
        sorted(our_ids[r["external_id"]] for r in rows if not r["is_credit_note"]), now
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


def _apply_credit_notes(uow: UnitOfWork, notes: list[tuple[models.Invoice, int]]) -> set[int]:
    """Tie credit notes to the invoices they credit and reduce those once; returns the ids of
    the credited invoices (their outstanding changes)."""
    originals = uow.ledger_sync.invoice_ids(
        [str(n.credited_invoice) for n, _id in notes if n.credited_invoice]
    )
    linked = [
        (note, note_id, originals[str(note.credited_invoice)])
        for note, note_id in notes
        if str(note.credited_invoice) in originals
    ]  # an original older than our history has nothing of ours to reduce
    if not linked:
        return set()
    uow.ledger_sync.link_credit_notes([(note_id, original) for _n, note_id, original in linked])
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
    uow.record_many(
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
    return uow.ledger_sync.at_agency(ids)


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
    uow.record_many(
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
