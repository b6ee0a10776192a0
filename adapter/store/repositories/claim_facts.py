"""The rows a dunning plan builds its claims' facts from, read in batches (flat memory).

Open claims are read in id order in batches; each batch's letters and allocations are read
with one query each, so a million claims cost a few hundred queries, not millions. The facts
themselves are built from these rows by `adapter.services.claim_facts`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from adapter.store.bank_stage import visible_payment
from adapter.store.tables import (
    LETTER_COUNTS,
    allocations,
    claims,
    customers,
    invoices,
    letters,
    payments,
)

BATCH = 2000

# The columns of a claim's row, in the order `services.claim_facts` unpacks them.
_COLUMNS = (
    invoices.c.id.label("invoice_id"),
    invoices.c.number.label("invoice_number"),
    invoices.c.external_id,
    invoices.c.invoice_date,
    invoices.c.due_date,
    invoices.c.amount_ore,
    invoices.c.outstanding_ore,
    invoices.c.ledger_outstanding_ore,
    invoices.c.currency,
    invoices.c.kid,
    invoices.c.source,
    claims.c.id.label("claim_id"),
    claims.c.status,
    claims.c.disputed,
    claims.c.dispute_reason,
    claims.c.stopped,
    claims.c.hold_until,
    claims.c.hold_reason,
    customers.c.id.label("customer_id"),
    customers.c.name.label("customer_name"),
    customers.c.kind,
    customers.c.blocked,
    customers.c.dunning_excluded,
    customers.c.ladder_override,
    customers.c.ledger_automation,
    invoices.c.postpone_reminders_to,
    claims.c.limitation_renewed_on,
)


def claims_query(
    company_id: int,
    statuses: Sequence[str],
    invoice_ids: list[int] | None = None,
    customer_id: int | None = None,
) -> Select[Any]:
    """The claims of the company in `statuses` (or just `invoice_ids`, or one customer's), in
    invoice order."""
    q = (
        select(*_COLUMNS)
        .select_from(
            invoices.join(claims, claims.c.invoice_id == invoices.c.id).join(
                customers, customers.c.id == invoices.c.customer_id
            )
        )
        .where(invoices.c.company_id == company_id, claims.c.status.in_(statuses))
        .order_by(invoices.c.id)
    )
    if invoice_ids is not None:
        q = q.where(invoices.c.id.in_(invoice_ids))
    if customer_id is not None:
        q = q.where(invoices.c.customer_id == customer_id)
    return q


def claim_batches(
    conn: Connection,
    company_id: int,
    statuses: Sequence[str],
    *,
    invoice_ids: list[int] | None = None,
    customer_id: int | None = None,
) -> Generator[_Batch, None, None]:
    """The claims of `claims_query`, BATCH at a time, each batch with its letters that count
    and its allocations: (claim rows, letter rows, allocation rows)."""
    q = claims_query(company_id, statuses, invoice_ids, customer_id)
    # With no filter the batch is a run of consecutive invoice ids: its letters and
    # allocations are read by id range, which PostgreSQL answers from the indexes (a
    # 2,000-id IN list made it scan both tables once per batch).
    by_range = invoice_ids is None and customer_id is None
    return _batches(conn, q, company_id, by_range)


# A batch as read: the claims' rows, their letters' rows and their allocations' rows.
_Batch = tuple[list[Any], Sequence[Any], Sequence[Any]]


def _batches(
    conn: Connection, q: Select[Any], company_id: int, by_range: bool
) -> Generator[_Batch, None, None]:
    batch: list[Any] = []
    row: Any
    for row in conn.execute(q.execution_options(yield_per=BATCH)):
        batch.append(row)
        if len(batch) >= BATCH:
            yield _read(conn, company_id, batch, by_range)
            batch = []
    if batch:
        yield _read(conn, company_id, batch, by_range)


# The batch queries, built once: a statement built per batch cost more than running it.
_LETTERS = (
    select(
        letters.c.claim_id,
        letters.c.stage,
        letters.c.sent_on,
        letters.c.deadline,
        letters.c.fee_ore,
        letters.c.interest_ore,
        letters.c.compensation_ore,
    )
    .where(letters.c.company_id == bindparam("company"), letters.c.status.in_(LETTER_COUNTS))
    .order_by(letters.c.sent_on, letters.c.id)
)
_LETTERS_IN_RANGE = _LETTERS.where(letters.c.claim_id.between(bindparam("low"), bindparam("high")))
_LETTERS_OF = _LETTERS.where(letters.c.claim_id.in_(bindparam("ids", expanding=True)))
_ALLOCATIONS = (
    select(
        allocations.c.invoice_id,
        allocations.c.kind,
        allocations.c.amount_ore,
        allocations.c.allocated_on,
        payments.c.payment_date,
    )
    .select_from(allocations.outerjoin(payments, payments.c.id == allocations.c.payment_id))
    # None of a bank file still being published: the facts count a file whole or not at all.
    .where(allocations.c.company_id == bindparam("company"), visible_payment())
)
_ALLOCATIONS_IN_RANGE = _ALLOCATIONS.where(
    allocations.c.invoice_id.between(bindparam("low"), bindparam("high"))
)
_ALLOCATIONS_OF = _ALLOCATIONS.where(allocations.c.invoice_id.in_(bindparam("ids", expanding=True)))


# Where `claims_query`'s rows hold the ids (an index is cheaper than a name, for every claim).
_INVOICE_ID = 0
_CLAIM_ID = 11
assert _COLUMNS[_INVOICE_ID].name == "invoice_id" and _COLUMNS[_CLAIM_ID].name == "claim_id"


def _read(conn: Connection, company_id: int, rows: list[Any], by_range: bool) -> _Batch:
    """The letters and allocations of a batch of claims, one query each.

    Each by the range of the batch's ids when the range is about as tight as the batch (the
    (company_id, claim_id) and (company_id, invoice_id) indexes answer; joined to claims to
    filter by invoice id, PostgreSQL read every letter once per batch), else by the list of
    its ids: the open claims of a real ledger are few among its invoices, and the range of a
    thousand of them held the allocations of every paid invoice between (the demo's nightly
    plan read ten times the allocations it used, and made facts of them all)."""
    claim_ids = [r[_CLAIM_ID] for r in rows]
    low, high = min(claim_ids), max(claim_ids)
    if by_range and high - low <= 4 * len(rows):
        sent = conn.execute(_LETTERS_IN_RANGE, {"company": company_id, "low": low, "high": high})
    else:
        sent = conn.execute(_LETTERS_OF, {"company": company_id, "ids": claim_ids})
    first, last = rows[0][_INVOICE_ID], rows[-1][_INVOICE_ID]
    if by_range and last - first <= 4 * len(rows):
        paid = conn.execute(
            _ALLOCATIONS_IN_RANGE, {"company": company_id, "low": first, "high": last}
        )
    else:
        ids = [r[_INVOICE_ID] for r in rows]
        paid = conn.execute(_ALLOCATIONS_OF, {"company": company_id, "ids": ids})
    return rows, sent.all(), paid.all()  # all(): fetched in one call, not row by row
