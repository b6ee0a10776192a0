"""Every claim compared with the ledger: what Kravflyt says is outstanding against what
Tripletex says, without the reminders (`amountOutstanding`) and with them
(`amountOutstandingTotal`), and, for a claim at the agency, against Kravia.

Tripletex API 2.72.00 offers no call that books a payment on a reminder's fee or interest, or
that closes a residual (`PUT /ledger/posting/:closePostings` came in 2.72.06, its parameters
unpublished): such differences are for a person to book in Tripletex, and each row says what.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from adapter.domain import Money
from adapter.services.claim_facts import iter_claims
from adapter.store.uow import UnitOfWork

# Closed claims are compared only when the ledger still shows something open.
_STATUSES = ("open", "handed_off", "closed")


@dataclass
class LedgerRow:
    """One claim against the ledger."""

    invoice_id: int
    invoice: str
    customer: str
    status: str
    ours_ore: int  # principal outstanding, ours
    ledger_ore: int | None  # Tripletex's amountOutstanding
    ours_total_ore: int  # with fees, interest and compensation stated and not paid
    ledger_total_ore: int | None  # Tripletex's amountOutstandingTotal
    differences: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The row as JSON types."""
        return asdict(self)


def ledger(uow: UnitOfWork) -> list[LedgerRow]:
    """Every open or handed-off claim from Tripletex, and every closed one Tripletex still
    shows open, with what differs and what to do about it."""
    with uow:
        company_id = uow.require_company()
        settings = uow.settings.all()
        still_open = uow.invoices.ledger_not_settled()
        ledger_rows = uow.invoices.ledger_outstanding(still_open)
        out = []
        found = iter_claims(
            uow.conn,
            company_id,
            settings.get("dunning"),
            invoice_ids=still_open,
            statuses=_STATUSES,
        )
        for row, facts in found:
            ledger_ore, ledger_total_ore = ledger_rows[row.invoice_id]
            status = row.status
            ours = max(facts.principal_outstanding_ore, 0) if status != "closed" else 0
            notices = facts.notices_outstanding_ore if status != "closed" else 0
            out.append(
                _compare(
                    LedgerRow(
                        row.invoice_id,
                        row.invoice_number,
                        row.customer_name,
                        status,
                        ours,
                        ledger_ore,
                        ours + notices,
                        ledger_total_ore,
                    )
                )
            )
    return out


def _compare(r: LedgerRow) -> LedgerRow:
    if r.ledger_ore is not None and r.ledger_ore != r.ours_ore:
        if r.status == "closed" and r.ledger_ore > 0:
            r.differences.append(
                f"closed in Kravflyt, {Money(r.ledger_ore)} kr still open in Tripletex: close the "
                "residual there (a write-off, or set tripletex.write_off_payment_type_id)"
            )
        elif r.ledger_ore < 0:
            r.differences.append(
                f"Tripletex shows {Money(r.ledger_ore)} kr (overpaid): book the excess on the "
                "reminder's fee or interest, or refund it"
            )
        else:
            r.differences.append(
                f"principal: Tripletex {Money(r.ledger_ore)} kr, Kravflyt {Money(r.ours_ore)} kr"
            )
    extra_ledger = (r.ledger_total_ore or 0) - (r.ledger_ore or 0)
    extra_ours = r.ours_total_ore - r.ours_ore
    if r.ledger_total_ore is not None and extra_ledger != extra_ours:
        if extra_ledger > extra_ours:
            r.differences.append(
                f"fees and interest: Tripletex {Money(extra_ledger)} kr open, Kravflyt "
                f"{Money(extra_ours)} kr: book what was paid on the reminder in Tripletex "
                "(API 2.72.00 has no call for it)"
            )
        else:
            r.differences.append(
                f"fees and interest: Tripletex {Money(extra_ledger)} kr, Kravflyt {Money(extra_ours)} kr"
            )
    return r
