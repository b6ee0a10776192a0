"""Tripletex objects as we read them: only the fields we store, amounts as Decimal kroner
until `to_ore` turns them into integer øre, strictly refused when malformed.

Records are msgspec Structs: a list page is decoded from the response bytes straight into
them, in C (`decode_page`). A JSON number becomes a `Decimal` from its text, never through a
float, so amounts stay exact. Validation is lax as Tripletex's JSON needs it ("5" or 5.0 for an
int is accepted); fields we did not ask for are ignored, as Tripletex adds fields over time.
"""

from __future__ import annotations

import datetime
import re
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Generic, TypeVar

import msgspec
from msgspec import Struct, field

from connectors import json_exact
from connectors.tripletex.errors import TripletexMalformedRecord

CUSTOMER_FIELDS = (
    "id,version,name,organizationNumber,customerNumber,isPrivateIndividual,email,invoiceEmail,"
    "overdueNoticeEmail,phoneNumber,isInactive,"
    "postalAddress(addressLine1,addressLine2,postalCode,city,country(isoAlpha2Code)),"
    "bankAccountPresentation(bban,iban),isAutomaticSoftReminderEnabled,isAutomaticReminderEnabled,"
    "isAutomaticNoticeOfDebtCollectionEnabled"
)
REMINDER_FIELDS = "id,reminderDate,type,charge,chargeCurrency,interests,interestRate,termOfPayment"
# Amounts in both currencies: `amount` is the company's (NOK), `amountCurrency` and the
# outstanding fields the invoice's (SPEC Invoice 2.72.00).
INVOICE_FIELDS = (
    "id,version,invoiceNumber,invoiceDate,invoiceDueDate,customer(id),kid,amount,amountCurrency,"
    "amountOutstanding,amountCurrencyOutstanding,amountOutstandingTotal,"
    "amountCurrencyOutstandingTotal,currency(code),isCreditNote,creditedInvoice,isCharged,"
    "invoiceRemark(postponeRemindersTo),orders(department(name),project(name)),"
    f"postings(id,date,amount,amountCurrency,type),reminders({REMINDER_FIELDS})"
)


# Frozen, and untracked by the garbage collector (`gc=False`): a record holds only strings,
# numbers, dates and other records, never a cycle, and a sync makes a hundred thousand of them.
class _Record(Struct, frozen=True, gc=False):
    pass


class Ref(_Record, frozen=True, kw_only=True):
    """A related object as `{id}`."""

    id: int


class Named(_Record, frozen=True, kw_only=True):
    """A related object with a name."""

    name: str | None = None


class Country(_Record, frozen=True, kw_only=True):
    """A country."""

    iso: str | None = field(default=None, name="isoAlpha2Code")


class Address(_Record, frozen=True, kw_only=True):
    """A postal address."""

    line1: str | None = field(default=None, name="addressLine1")
    line2: str | None = field(default=None, name="addressLine2")
    postal_code: str | None = field(default=None, name="postalCode")
    city: str | None = None
    country: Country | None = None


class BankAccount(_Record, frozen=True, kw_only=True):
    """One of a customer's bank accounts."""

    bban: str | None = None
    iban: str | None = None


class Customer(_Record, frozen=True, kw_only=True):
    """A customer."""

    id: int
    version: int = 0
    name: str
    organization_number: str | None = field(default=None, name="organizationNumber")
    customer_number: int | None = field(default=None, name="customerNumber")
    is_private: bool = field(default=False, name="isPrivateIndividual")
    email: str | None = None
    invoice_email: str | None = field(default=None, name="invoiceEmail")
    overdue_notice_email: str | None = field(default=None, name="overdueNoticeEmail")
    phone: str | None = field(default=None, name="phoneNumber")
    inactive: bool = field(default=False, name="isInactive")
    postal_address: Address | None = field(default=None, name="postalAddress")
    bank_accounts: list[BankAccount] = field(default_factory=list, name="bankAccountPresentation")
    # Tripletex's own automatic reminders for this customer (with the company's settings).
    auto_soft_reminder: bool = field(default=False, name="isAutomaticSoftReminderEnabled")
    auto_reminder: bool = field(default=False, name="isAutomaticReminderEnabled")
    auto_notice: bool = field(default=False, name="isAutomaticNoticeOfDebtCollectionEnabled")

    @property
    def own_automation(self) -> bool:
        """Whether Tripletex may send reminders of its own to this customer."""
        return self.auto_soft_reminder or self.auto_reminder or self.auto_notice


class Currency(_Record, frozen=True, kw_only=True):
    """A currency."""

    code: str = "NOK"


class InvoiceRemark(_Record, frozen=True, kw_only=True):
    """The invoice remark; `postponeRemindersTo` pauses reminders until a date."""

    postpone_reminders_to: date | None = field(default=None, name="postponeRemindersTo")


class Order(_Record, frozen=True, kw_only=True):
    """The order behind an invoice (department and project live here)."""

    department: Named | None = None
    project: Named | None = None


class Posting(_Record, frozen=True, kw_only=True):
    """A ledger posting (an invoice's payments are its negative postings); `amount` in the
    company's currency, `amount_currency` in the invoice's."""

    id: int
    date: datetime.date  # spelt out: inside the class, `date` is this field
    amount: Decimal
    amount_currency: Decimal | None = field(default=None, name="amountCurrency")
    type: str | None = None

    @property
    def invoice_amount(self) -> Decimal:
        """The amount in the invoice's currency."""
        return self.amount if self.amount_currency is None else self.amount_currency


class Reminder(_Record, frozen=True, kw_only=True):
    """A reminder or notice of debt collection on an invoice, as Tripletex made it: its fee
    (`charge`, company currency; `chargeCurrency`, the invoice's), interest and term."""

    id: int
    reminder_date: date = field(name="reminderDate")
    type: str
    charge: Decimal = Decimal(0)
    charge_currency: Decimal | None = field(default=None, name="chargeCurrency")
    interests: Decimal = Decimal(0)
    interest_rate: Decimal | None = field(default=None, name="interestRate")
    term_of_payment: date | None = field(default=None, name="termOfPayment")

    def told(self) -> dict[str, Any]:
        """What the debtor was told, as plain JSON values: the fee in the invoice's currency
        (`chargeCurrency`, else `charge`), the interest and the deadline, in øre and ISO dates."""
        fee = self.charge if self.charge_currency is None else self.charge_currency
        return {
            "id": self.id,
            "type": self.type,
            "date": self.reminder_date.isoformat(),
            "fee_ore": to_ore(fee, where=f"reminder {self.id} charge"),
            "interest_ore": to_ore(self.interests, where=f"reminder {self.id} interests"),
            "interest_rate": str(self.interest_rate) if self.interest_rate is not None else None,
            "deadline": self.term_of_payment.isoformat() if self.term_of_payment else None,
        }


class Invoice(_Record, frozen=True, kw_only=True):
    """An outgoing invoice or credit note (amounts in kroner, Decimal)."""

    id: int
    version: int = 0
    invoice_number: int = field(name="invoiceNumber")
    invoice_date: date = field(name="invoiceDate")
    due_date: date = field(name="invoiceDueDate")
    customer: Ref
    kid: str | None = None
    amount: Decimal  # in the company's currency
    amount_outstanding: Decimal = field(name="amountOutstanding")
    amount_outstanding_total: Decimal | None = field(default=None, name="amountOutstandingTotal")
    amount_currency: Decimal | None = field(default=None, name="amountCurrency")
    outstanding_currency: Decimal | None = field(default=None, name="amountCurrencyOutstanding")
    outstanding_total_currency: Decimal | None = field(
        default=None, name="amountCurrencyOutstandingTotal"
    )
    currency: Currency = field(default_factory=Currency)
    is_credit_note: bool = field(default=False, name="isCreditNote")
    credited_invoice: int | None = field(default=None, name="creditedInvoice")
    is_charged: bool = field(default=True, name="isCharged")
    invoice_remark: InvoiceRemark | None = field(default=None, name="invoiceRemark")
    orders: list[Order] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)

    @property
    def invoice_amount(self) -> Decimal:
        """The amount in the invoice's own currency (what the debtor owes and is dunned for)."""
        return self.amount if self.amount_currency is None else self.amount_currency

    @property
    def invoice_outstanding(self) -> Decimal:
        """The outstanding amount in the invoice's currency, reminders excluded."""
        if self.outstanding_currency is not None:
            return self.outstanding_currency
        return self.amount_outstanding

    @property
    def invoice_outstanding_total(self) -> Decimal:
        """The outstanding amount in the invoice's currency with the reminders' fees and the
        last reminder's interest."""
        for total in (self.outstanding_total_currency, self.amount_outstanding_total):
            if total is not None:
                return total
        return self.invoice_outstanding

    @property
    def payments(self) -> list[Posting]:
        """The invoice's incoming payment postings (amounts negative, as Tripletex books them)."""
        return [p for p in self.postings if p.type == "INCOMING_PAYMENT"]

    @property
    def department(self) -> str | None:
        """The department of the invoice's order, if any."""
        return next(
            (o.department.name for o in self.orders if o.department and o.department.name), None
        )

    @property
    def project(self) -> str | None:
        """The project of the invoice's order, if any."""
        return next((o.project.name for o in self.orders if o.project and o.project.name), None)


class PaymentType(_Record, frozen=True, kw_only=True):
    """An incoming payment type (the bank account a payment is booked to)."""

    id: int
    description: str = ""


class PaymentAnswer(_Record, frozen=True, kw_only=True):
    """What `:payment` answers: the invoice without `fields` (SPEC: the operation has no
    `fields` parameter), so its postings are `{id, url}` stubs; the amounts are its own."""

    id: int
    version: int = 0
    amount_outstanding: Decimal = field(name="amountOutstanding")
    outstanding_currency: Decimal | None = field(default=None, name="amountCurrencyOutstanding")
    postings: list[Ref] = field(default_factory=list)


class LoginClient(_Record, frozen=True, kw_only=True):
    """A client company an accountant's login reaches (SPEC `Client`, listed by
    `GET /company/>withLoginAccess`): its `id` is the Basic-auth user that acts for it."""

    id: int
    name: str = ""
    organization_number: str | None = field(default=None, name="organizationNumber")


class Subscription(_Record, frozen=True, kw_only=True):
    """A webhook subscription; `status` ACTIVE, DISABLED or DISABLED_<why> (Tripletex disables
    a subscription itself after too many failed deliveries)."""

    id: int
    version: int = 0
    event: str
    target_url: str = field(name="targetUrl")
    status: str | None = None


M = TypeVar("M")


class ListPage(Struct, Generic[M], kw_only=True):
    """A list response: its values, the `from` it answers and its checksum."""

    values: list[M]
    from_: int | None = field(default=None, name="from")
    version_digest: str | None = field(default=None, name="versionDigest")


@cache
def _page_decoder(model: Any) -> msgspec.json.Decoder[ListPage[Any]]:
    # A decoder compiles its type once: one per record type.
    return msgspec.json.Decoder(ListPage[model], strict=False, float_hook=Decimal)


def decode_page(content: bytes, model: Any, *, what: str, where: str) -> ListPage[Any]:
    """A list response's body with its values as `model`s (`dict` for raw values). A malformed
    record raises a `TripletexMalformedRecord` naming the record and the field; a body that is
    no list response raises one naming `where` (the request)."""
    try:
        return _page_decoder(model).decode(content)
    except msgspec.ValidationError as exc:
        message, loc = _explained(exc)
        if loc[:1] == ("values",) and len(loc) > 1:  # a record: name it (this path is rare)
            raws = json_exact.loads(content)["values"]
            raise _malformed(what, raws[int(loc[1])], loc[2:], message) from exc
        if "values" in loc or "`values`" in message:
            raise TripletexMalformedRecord(f"{where}: list response without 'values'") from exc
        raise TripletexMalformedRecord(f"{where}: expected a JSON object ({message})") from exc
    except msgspec.DecodeError as exc:
        raise TripletexMalformedRecord(f"{where}: body is not JSON") from exc


def parse_record(model: type[M], raw: Any, *, what: str) -> M:
    """`raw` (decoded JSON) as `model`, or a `TripletexMalformedRecord` naming the record and
    the field."""
    try:
        return msgspec.convert(raw, model, strict=False)
    except msgspec.ValidationError as exc:
        message, loc = _explained(exc)
        raise _malformed(what, raw, loc, message) from exc


def _explained(exc: msgspec.ValidationError) -> tuple[str, tuple[str, ...]]:
    """msgspec's message and where it points, `$.values[3].postings[0].amount` as
    ("values", "3", "postings", "0", "amount")."""
    message, _, path = str(exc).partition(" - at `")
    parts = re.split(r"[.\[\]]+", path.rstrip("`").removeprefix("$"))
    return message, tuple(p for p in parts if p)


_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_EXPECTED = re.compile(r"Expected `([^`]+)`")
_INVALID = re.compile(r"Invalid (?:RFC3339 encoded |ISO8601 )?(\w+)")


def _malformed(what: str, raw: Any, loc: tuple[str, ...], message: str) -> TripletexMalformedRecord:
    ident = raw.get("invoiceNumber") or raw.get("id") if isinstance(raw, dict) else None
    name = f"{what} {ident if ident is not None else '?'}"
    # msgspec's wording turned into what a reader can act on: which field, what it should be,
    # and what it was.
    if missing := _MISSING.match(message):
        return TripletexMalformedRecord(
            f"{name}: field {'.'.join((*loc, missing[1]))}: Field required"
        )
    if expected := (_EXPECTED.match(message) or _INVALID.match(message)):
        message = f"Input should be a valid {expected[1]}"
    value: Any = raw
    for part in loc:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            value = None
    return TripletexMalformedRecord(
        f"{name}: field {'.'.join(loc) or '(record)'}: {message} (got {value!r})"
    )


def to_ore(value: Decimal, *, where: str) -> int:
    """Kroner to integer øre, refusing fractions of an øre (never rounded silently)."""
    ore = value * 100
    if ore != ore.to_integral_value():
        raise TripletexMalformedRecord(f"{where}: {value} has fractions of an øre")
    return int(ore)
