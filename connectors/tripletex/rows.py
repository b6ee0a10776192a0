"""Tripletex records as plain rows: the values Kravflyt keeps of a customer and an invoice,
in øre and ISO codes, with what does not validate left out (never fatal). A stream declares
which of these a record becomes (streams.py); the store step upserts them."""

from __future__ import annotations

from typing import Any

from stdnum.no import kontonr, orgnr

from connectors.bank.kid import detect_scheme
from connectors.tripletex import models


def customer_row(c: models.Customer) -> dict[str, Any]:
    """A customer's row, keyed by its Tripletex id (`external_id`)."""
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


def invoice_row(inv: models.Invoice) -> dict[str, Any]:
    """An invoice's row, keyed by its Tripletex id; its customer is named by Tripletex id too
    (our id is looked up when it is stored)."""
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
