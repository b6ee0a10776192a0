"""Build the policy engine's `ClaimFacts` from the store, streaming (flat memory).

Open claims are read in id order in batches; each batch's letters and allocations are read
with one query each, so a million claims cost a few hundred queries, not millions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from adapter import company_settings
from adapter.store.tables import allocations, claims, customers, invoices, letters, payments
from policies.engine import Context
from policies.facts import ClaimFacts, Debtor, LetterFact, PrincipalChange
from policies.ladder import Ladder, Stage
from policies.rates import DEFAULT_RATES

BATCH = 2000


@dataclass(frozen=True)
class ClaimRow:
    """The store's ids and names that go with a claim's facts."""

    invoice_id: int
    claim_id: int
    customer_id: int
    customer_name: str
    invoice_number: str
    external_id: str | None
    kid: str | None


def company_context(settings: dict[str, dict[str, Any]]) -> Context:
    """The engine's context for a company from its stored settings sections."""
    dunning = company_settings.effective(company_settings.DunningSettings, settings.get("dunning"))
    bank = company_settings.effective(company_settings.BankSettings, settings.get("bank"))
    return Context(
        ladder=dunning.to_ladder(), rates=DEFAULT_RATES, write_off_limit_ore=bank.write_off_limit
    )


def customer_ladder(
    company: dict[str, Any] | None, override: dict[str, Any] | None
) -> Ladder | None:
    """A customer's own ladder: its override of the company's dunning settings, or None."""
    if not override:
        return None
    base = company_settings.effective(company_settings.DunningSettings, company).model_dump(
        mode="json"
    )
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return company_settings.effective(company_settings.DunningSettings, base).to_ladder()


_COLUMNS = (
    invoices.c.id.label("invoice_id"),
    invoices.c.number,
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
)


def iter_claims(
    conn: Connection,
    company_id: int,
    company_dunning: dict[str, Any] | None,
    *,
    invoice_ids: list[int] | None = None,
    customer_id: int | None = None,
    statuses: tuple[str, ...] = ("open",),
) -> Iterator[tuple[ClaimRow, ClaimFacts]]:
    """Every claim of the company in `statuses` (or just `invoice_ids`), with its facts."""
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
    ladders: dict[int, Ladder | None] = {}
    batch: list[Any] = []
    row: Any
    for row in conn.execute(q.execution_options(yield_per=BATCH)):
        batch.append(row)
        if len(batch) >= BATCH:
            yield from _facts(conn, company_id, batch, company_dunning, ladders)
            batch = []
    if batch:
        yield from _facts(conn, company_id, batch, company_dunning, ladders)


def _facts(
    conn: Connection,
    company_id: int,
    rows: list[Any],
    company_dunning: dict[str, Any] | None,
    ladders: dict[int, Ladder | None],
) -> Iterator[tuple[ClaimRow, ClaimFacts]]:
    ids = [r.invoice_id for r in rows]
    claim_ids = [r.claim_id for r in rows]
    sent: dict[int, list[LetterFact]] = defaultdict(list)
    for r in conn.execute(
        select(
            letters.c.claim_id,
            letters.c.stage,
            letters.c.sent_on,
            letters.c.deadline,
            letters.c.fee_ore,
            letters.c.interest_ore,
            letters.c.compensation_ore,
        )
        .where(
            letters.c.company_id == company_id,
            letters.c.claim_id.in_(claim_ids),
            letters.c.status.in_(("pending", "sent")),
        )
        .order_by(letters.c.sent_on, letters.c.id)
    ):
        sent[r.claim_id].append(
            LetterFact(
                Stage(r.stage), r.sent_on, r.deadline, r.fee_ore, r.interest_ore, r.compensation_ore
            )
        )
    reductions: dict[int, list[PrincipalChange]] = defaultdict(list)
    paid: dict[int, dict[str, int]] = defaultdict(lambda: {"fee": 0, "interest": 0})
    for a in conn.execute(
        select(
            allocations.c.invoice_id,
            allocations.c.kind,
            allocations.c.amount_ore,
            allocations.c.allocated_on,
            payments.c.payment_date,
        )
        .select_from(allocations.outerjoin(payments, payments.c.id == allocations.c.payment_id))
        .where(allocations.c.company_id == company_id, allocations.c.invoice_id.in_(ids))
    ):
        if a.kind in ("principal", "write_off"):
            reductions[a.invoice_id].append(
                PrincipalChange(a.payment_date or a.allocated_on, a.amount_ore)
            )
        elif a.kind in ("fee", "interest"):
            paid[a.invoice_id][a.kind] += a.amount_ore
    for r in rows:
        if r.customer_id not in ladders:
            ladders[r.customer_id] = customer_ladder(company_dunning, r.ladder_override)
        principal = (
            r.outstanding_ore
            if r.ledger_outstanding_ore is None
            else min(r.outstanding_ore, r.ledger_outstanding_ore)
        )
        changes = tuple(sorted(reductions[r.invoice_id], key=lambda c: c.on))
        paid_on: date | None = changes[-1].on if principal <= 0 and changes else None
        yield (
            ClaimRow(
                r.invoice_id,
                r.claim_id,
                r.customer_id,
                r.customer_name,
                r.number,
                r.external_id,
                r.kid,
            ),
            ClaimFacts(
                invoice_number=r.number,
                invoice_date=r.invoice_date,
                due_date=r.due_date,
                amount_ore=r.amount_ore,
                principal_outstanding_ore=principal,
                debtor=Debtor(r.kind),
                reductions=changes,
                letters=tuple(sent[r.claim_id]),
                fees_paid_ore=paid[r.invoice_id]["fee"],
                interest_paid_ore=paid[r.invoice_id]["interest"],
                disputed=r.disputed,
                dispute_reason=r.dispute_reason,
                stopped=r.stopped,
                hold_until=r.hold_until,
                hold_reason=r.hold_reason,
                customer_excluded=r.dunning_excluded,
                customer_blocked=r.blocked,
                handed_off=r.status == "handed_off",
                currency=r.currency,
                ladder=ladders[r.customer_id],
                claim_id=r.claim_id,
                customer_id=r.customer_id,
                paid_on=paid_on,
                agency_sends_varsel=r.source == "manual",
            ),
        )
