"""The one place where our hand-off case becomes Kravia's payloads (kravia-api.md §2.3-2.5, §6).

What goes where, and what is assumed (UNCONFIRMED points chosen on the debtor's safe side):

| Ours | Kravia | Note |
|---|---|---|
| one invoice of the bundle | one `POST /invoice/register` | the API takes one invoice per call; every call carries the same `debtorNumber`, so the agency merges them into one case (G1) |
| stable reference `kravflyt:<company>:<invoice id>` | `accountingInvoiceId` | also how an unknown outcome is looked up |
| customer number | `debtorNumber` | |
| name, e-mail, address | `debtorName`, `email`, `postalAddress.*` | a postal address is required by Kravia |
| business: organisation number | `organizationNumber`, `isPrivateIndividual: "false"` | required for B2B |
| private: national id (when known) | `ssn`, `isPrivateIndividual: "true"` | |
| remaining principal after partial payments and credit notes | `originalAmount` | no remaining-amount field exists; sending the remaining principal means the agency never believes more is owed than our numbers (the original amount and the partial payments are listed in `description`) |
| invoice number, date, due date, currency | `invoiceNo`, `invoiceDate`, `dueDate`, `currencyCode` | |
| KID, reminder fees charged, interest to the hand-off date with its rates, department, project, our inkassovarsel and its deadline | `description` (text) | no documented fields: the agency claims only the principal; our fees and interest are written off with the hand-off (the debtor never pays them twice) |
| "inkassovarsel already sent" | `description` line `Inkassovarsel sendt: YYYY-MM-DD (frist YYYY-MM-DD)` | in Kravia's integrations this is a creditor-level setting (start at the betalingsoppfordring); the sandbox reads the line |
| a payment after hand-off | `POST /invoice/payment`, `AccountingPaymentId` = `kravflyt:<company>:<payment>:<invoice>` | principal only (excess ignored by Kravia) |
| a credit note after hand-off | `POST /invoice/creditnote` with negative amounts | |
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.kravia.models import HandoffCase, HandoffInvoice

VARSEL_LINE = "Inkassovarsel sendt: {sent} (frist {deadline})"


def kroner(ore: int) -> Decimal:
    """Øre as a Decimal number of kroner with two decimals (sent as a JSON number)."""
    return Decimal(ore).scaleb(-2).quantize(Decimal("0.01"))


def _kr_text(ore: int) -> str:
    return f"{kroner(ore):,.2f}".replace(",", " ").replace(".", ",") + " kr"


def description(case: HandoffCase, inv: HandoffInvoice) -> str:
    """The free text carrying what Kravia has no field for."""
    lines = [
        f"Faktura {inv.number} av {inv.invoice_date}, forfall {inv.due_date}, opprinnelig {_kr_text(inv.original_ore)}."
    ]
    if inv.kid:
        lines.append(f"KID: {inv.kid}")
    for paid_on, amount in inv.partial_payments:
        lines.append(f"Delbetaling {paid_on}: {_kr_text(amount)}")
    if inv.remaining_ore != inv.original_ore:
        lines.append(f"Gjenstående hovedstol: {_kr_text(inv.remaining_ore)}")
    if inv.fees_ore:
        lines.append(
            f"Purregebyr belastet av kreditor ({inv.fee_letters} brev): {_kr_text(inv.fees_ore)}"
        )
    if inv.interest_ore:
        rates = ", ".join(dict.fromkeys(s.rate for s in inv.interest_segments))
        first = inv.interest_segments[0].start if inv.interest_segments else inv.due_date
        lines.append(
            f"Forsinkelsesrente fra {first} til {case.handoff_date} ({rates} %): {_kr_text(inv.interest_ore)}"
        )
    if case.varsel_sent and case.varsel_deadline:
        lines.append(VARSEL_LINE.format(sent=case.varsel_sent, deadline=case.varsel_deadline))
    if inv.department:
        lines.append(f"Avdeling: {inv.department}")
    if inv.project:
        lines.append(f"Prosjekt: {inv.project}")
    lines += list(case.notes)
    return "\n".join(lines)


def register_payloads(case: HandoffCase) -> list[dict[str, Any]]:
    """One `POST /invoice/register` body per invoice of the bundle."""
    d = case.debtor
    debtor = {
        "debtorName": d.name,
        "debtorNumber": d.customer_number,
        "email": d.email,
        "ssn": d.national_id if d.private else None,
        "organizationNumber": None if d.private else d.organization_number,
        "isPrivateIndividual": "true" if d.private else "false",
        "postalAddress": {
            "addressAddressLine1": d.address_line1,
            "addressPostalCode": d.postal_code,
            "addressCity": d.city,
            "addressCountryCode": d.country or "NO",
        },
    }
    return [
        {
            "claimType": "CollectionCase",
            "creditorId": case.creditor_id,
            "accountingInvoiceId": inv.reference,
            **debtor,
            "invoiceNo": inv.number,
            "invoiceDate": inv.invoice_date.isoformat(),
            "dueDate": inv.due_date.isoformat(),
            "originalAmount": kroner(inv.remaining_ore),
            "currencyCode": inv.currency,
            "description": description(case, inv),
        }
        for inv in case.invoices
    ]


def payment_payload(
    reference: str, on: date, parts: list[tuple[int, int]], text: str
) -> dict[str, Any]:
    """`POST /invoice/payment`: one payment split over Kravia invoice ids [(invoice id, øre)]."""
    return {
        "date": on.isoformat(),
        "description": text,
        "AccountingPaymentId": reference,
        "amount": kroner(sum(a for _, a in parts)),
        "invoices": [{"invoiceId": i, "amount": kroner(a)} for i, a in parts],
    }


def credit_note_payload(
    reference: str, on: date, parts: list[tuple[int, int]], text: str
) -> dict[str, Any]:
    """`POST /invoice/creditnote`: negative amounts [(invoice id, øre credited)]."""
    return {
        "Date": f"{on.isoformat()}T00:00:00",
        "Amount": -kroner(sum(a for _, a in parts)),
        "AccountingPaymentId": reference,
        "Description": text,
        "Invoices": [{"InvoiceId": i, "Amount": -kroner(a)} for i, a in parts],
    }
