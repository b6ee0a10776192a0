"""Reminders as the sandbox company's Tripletex makes them: through `:createReminder`, and by
itself for customers with automatic reminders on, as the sandbox's clock moves.

Sources (Tripletex OpenAPI 2.72.00 unless said):
- `PUT /invoice/{id}/:createReminder` summary: "Supports the reminder types SOFT_REMINDER,
  REMINDER and NOTICE_OF_DEBT_COLLECTION. DispatchType NETS_PRINT must have type
  NOTICE_OF_DEBT_COLLECTION. SMS and NETS_PRINT must be activated prior to usage in the API."
  So DEBT_COLLECTION (in the enum) is refused, and so are NETS_PRINT or SMS not activated.
- The call only says include charge / include interest: the fee, the interest rate and the
  term of payment are the company's own reminder settings (tripletex-api.md §5.3, UNCONFIRMED
  how they are set; 2.72.00 has no path that reads or writes them). Settable here, so tests
  can make them differ from Kravflyt's ladder.
- `Reminder` model: `charge` (this reminder's fee), `totalCharge` (all reminders' fees),
  `interests`, `interestRate`, `termOfPayment`, `kid`, bank account fields.
- `Invoice.amountOutstandingTotal`: "including the last reminder", so the total is the
  invoice's own outstanding plus the reminders' fees and the last reminder's interest, less
  what was paid on them (`pay_reminder`, which only a person does in Tripletex: 2.72.00 has no
  call that books a payment on a reminder).
- Automatic reminders: `Customer.isAutomaticSoftReminderEnabled` / `isAutomaticReminderEnabled`
  / `isAutomaticNoticeOfDebtCollectionEnabled`, and `InvoiceSettings`'s company flags with
  `automatic…DaysAfterDueDate` ("This setting need to be enabled both here and on each
  customer card to take effect"). `InvoiceRemark.postponeRemindersTo` "automatically stops
  reminder/notice of debt collection until specified date".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.tripletex.sandbox.envelope import SandboxError

TYPES = ("SOFT_REMINDER", "REMINDER", "NOTICE_OF_DEBT_COLLECTION")
ALL_TYPES = (*TYPES, "DEBT_COLLECTION")
DISPATCH = ("NETS_PRINT", "EMAIL", "OWN_PRINTER", "SFTP", "API", "SMS")
CUSTOMER_FLAGS = {
    "SOFT_REMINDER": "isAutomaticSoftReminderEnabled",
    "REMINDER": "isAutomaticReminderEnabled",
    "NOTICE_OF_DEBT_COLLECTION": "isAutomaticNoticeOfDebtCollectionEnabled",
}
CENT = Decimal("0.01")


def _legal_fee(on: date) -> Decimal:
    # 1/20 of the inkassosats: 35 kr in 2025, 38 kr from 2026 (norway-dunning-rules.md).
    return Decimal(38 if on >= date(2026, 1, 1) else 35)


@dataclass
class ReminderSettings:
    """The sandbox company's own reminder settings, which Tripletex applies to every reminder."""

    fee: Callable[[date], Decimal] = _legal_fee  # per reminder or notice with a charge
    interest_rate: Decimal = Decimal("12.00")  # % a year, on the invoice's outstanding
    term_days: int = 14  # the reminder's termOfPayment after its date
    # Company-level automation (InvoiceSettings), off unless a test turns it on.
    automatic: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(TYPES, False))
    days_after_due: dict[str, int] = field(
        default_factory=lambda: {
            "SOFT_REMINDER": 5,
            "REMINDER": 14,
            "NOTICE_OF_DEBT_COLLECTION": 28,
        }
    )
    activated_dispatch: set[str] = field(
        default_factory=lambda: {"EMAIL", "OWN_PRINTER", "SFTP", "API"}
    )


def check_request(kind: str, dispatch: list[str], settings: ReminderSettings) -> None:
    """Refuse what `:createReminder`'s summary refuses."""
    if kind not in TYPES:
        raise SandboxError(422, 15000, f"Reminder type {kind} is not supported", "type")
    unknown = [d for d in dispatch if d not in DISPATCH]
    if unknown:
        raise SandboxError(422, 15000, f"Unknown dispatch type {unknown[0]}", "dispatchTypes")
    if "NETS_PRINT" in dispatch and kind != "NOTICE_OF_DEBT_COLLECTION":
        raise SandboxError(
            422,
            15000,
            "DispatchType NETS_PRINT must have type NOTICE_OF_DEBT_COLLECTION",
            "dispatchTypes",
        )
    inactive = [
        d for d in dispatch if d in ("NETS_PRINT", "SMS") and d not in settings.activated_dispatch
    ]
    if inactive:
        raise SandboxError(
            422, 15000, f"{inactive[0]} is not activated for the company", "dispatchTypes"
        )


def create(
    invoice: dict[str, Any],
    reminders: dict[int, dict[str, Any]],
    *,
    kind: str,
    on: date,
    include_charge: bool,
    include_interest: bool,
    settings: ReminderSettings,
    new_id: Callable[[], int],
    sent_to: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Make a reminder on `invoice` with the company's fee, interest and term; returns it."""
    if invoice["amountOutstanding"] <= 0:
        raise SandboxError(422, 15000, "Fakturaen er betalt.", "id")
    earlier = [reminders[r["id"]] for r in invoice.get("reminders", [])]
    charge = settings.fee(on) if include_charge and kind != "SOFT_REMINDER" else Decimal(0)
    due = date.fromisoformat(invoice["invoiceDueDate"])
    interests = Decimal(0)
    if include_interest and on > due:
        days = (on - due).days
        interests = (
            invoice["amountOutstanding"] * settings.interest_rate / 100 * days / 365
        ).quantize(CENT, ROUND_HALF_UP)
    rid = new_id()
    total_charge = sum((r["charge"] for r in earlier), Decimal(0)) + charge
    reminder = {
        "id": rid,
        "version": 1,
        "reminderDate": on.isoformat(),
        "type": kind,
        "charge": charge,
        "chargeCurrency": charge,
        "totalCharge": total_charge,
        "totalChargeCurrency": total_charge,
        "interests": interests,
        "interestRate": settings.interest_rate,
        "termOfPayment": (on + timedelta(days=settings.term_days)).isoformat(),
        "totalAmountCurrency": invoice["amountOutstanding"] + total_charge + interests,
        "currency": invoice["currency"],
        "kid": invoice.get("kid"),
        "bankAccountNumber": "15032080119",
        "_invoiceId": invoice["id"],
        "_customerId": invoice["customer"]["id"],
        "_sentTo": sent_to or {},
    }
    reminders[rid] = reminder
    invoice.setdefault("reminders", []).append({"id": rid})
    recompute_total(invoice, reminders)
    return reminder


def recompute_total(invoice: dict[str, Any], reminders: dict[int, dict[str, Any]]) -> None:
    """`amountOutstandingTotal`: the invoice's own outstanding, every reminder's fee and the
    last reminder's interest, less what was paid on the reminders."""
    own = [reminders[r["id"]] for r in invoice.get("reminders", [])]
    extra = sum((r["charge"] for r in own), Decimal(0))
    if own:
        extra += own[-1]["interests"]
    extra -= invoice.get("_reminderPaid", Decimal(0))
    total = invoice["amountOutstanding"] + max(extra, Decimal(0))
    invoice["amountOutstandingTotal"] = total
    invoice["amountCurrencyOutstandingTotal"] = total


def automatic(
    invoices: dict[int, dict[str, Any]],
    customers: dict[int, dict[str, Any]],
    reminders: dict[int, dict[str, Any]],
    *,
    since: date,
    until: date,
    settings: ReminderSettings,
    new_id: Callable[[], int],
) -> list[dict[str, Any]]:
    """The reminders Tripletex sends by itself on the days (since, until]: for each open
    invoice of a customer whose flag is on (and the company's), each type once, on the day
    it falls due, unless the invoice's reminders are postponed past that day."""
    made = []
    flagged = {
        cid
        for cid, c in customers.items()
        if any(c.get(flag) for kind, flag in CUSTOMER_FLAGS.items() if settings.automatic[kind])
    }
    for inv in invoices.values():
        if inv["customer"]["id"] not in flagged or inv.get("isCreditNote"):
            continue
        customer = customers[inv["customer"]["id"]]
        due = date.fromisoformat(inv["invoiceDueDate"])
        for kind in TYPES:
            if not (settings.automatic[kind] and customer.get(CUSTOMER_FLAGS[kind])):
                continue
            day = max(
                due + timedelta(days=settings.days_after_due[kind]), since + timedelta(days=1)
            )
            postponed = (inv.get("invoiceRemark") or {}).get("postponeRemindersTo")
            if postponed and date.fromisoformat(postponed) > day:
                day = date.fromisoformat(postponed)
            done = any(reminders[r["id"]]["type"] == kind for r in inv.get("reminders", []))
            if done or day > until or inv["amountOutstanding"] <= 0:
                continue
            made.append(
                create(
                    inv,
                    reminders,
                    kind=kind,
                    on=day,
                    include_charge=kind != "SOFT_REMINDER",
                    include_interest=True,
                    settings=settings,
                    new_id=new_id,
                    sent_to={
                        "email": customer.get("overdueNoticeEmail")
                        or customer.get("invoiceEmail")
                        or ""
                    },
                )
            )
    return made
