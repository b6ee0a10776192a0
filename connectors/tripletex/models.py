"""Tripletex objects as we read them: only the fields we store, amounts as Decimal kroner
until `to_ore` turns them into integer øre, strictly refused when malformed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.tripletex.errors import TripletexMalformedRecord

CUSTOMER_FIELDS = (
    "id,version,name,organizationNumber,customerNumber,isPrivateIndividual,email,invoiceEmail,"
    "phoneNumber,isInactive,postalAddress(addressLine1,addressLine2,postalCode,city,country(isoAlpha2Code)),"
    "bankAccountPresentation(bban,iban)"
)
INVOICE_FIELDS = (
    "id,version,invoiceNumber,invoiceDate,invoiceDueDate,customer(id),kid,amount,amountOutstanding,"
    "amountOutstandingTotal,currency(code),isCreditNote,creditedInvoice,isCharged,"
    "invoiceRemark(postponeRemindersTo),orders(department(name),project(name)),postings(id,date,amount,type)"
)


class _Model(BaseModel):
    # Tripletex adds fields over time: ignore the ones we did not ask for.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Ref(_Model):
    """A related object as `{id}`."""

    id: int


class Named(_Model):
    """A related object with a name."""

    name: str | None = None


class Country(_Model):
    """A country."""

    iso: str | None = Field(None, alias="isoAlpha2Code")


class Address(_Model):
    """A postal address."""

    line1: str | None = Field(None, alias="addressLine1")
    line2: str | None = Field(None, alias="addressLine2")
    postal_code: str | None = Field(None, alias="postalCode")
    city: str | None = None
    country: Country | None = None


class BankAccount(_Model):
    """One of a customer's bank accounts."""

    bban: str | None = None
    iban: str | None = None


class Customer(_Model):
    """A customer."""

    id: int
    version: int = 0
    name: str
    organization_number: str | None = Field(None, alias="organizationNumber")
    customer_number: int | None = Field(None, alias="customerNumber")
    is_private: bool = Field(False, alias="isPrivateIndividual")
    email: str | None = None
    invoice_email: str | None = Field(None, alias="invoiceEmail")
    phone: str | None = Field(None, alias="phoneNumber")
    inactive: bool = Field(False, alias="isInactive")
    postal_address: Address | None = Field(None, alias="postalAddress")
    bank_accounts: list[BankAccount] = Field(default_factory=list, alias="bankAccountPresentation")


class Currency(_Model):
    """A currency."""

    code: str = "NOK"


class InvoiceRemark(_Model):
    """The invoice remark; `postponeRemindersTo` pauses reminders until a date."""

    postpone_reminders_to: date | None = Field(None, alias="postponeRemindersTo")


class Order(_Model):
    """The order behind an invoice (department and project live here)."""

    department: Named | None = None
    project: Named | None = None


class Posting(_Model):
    """A ledger posting (an invoice's payments are its negative postings)."""

    id: int
    date: date
    amount: Decimal
    type: str | None = None


class Invoice(_Model):
    """An outgoing invoice or credit note (amounts in kroner, Decimal)."""

    id: int
    version: int = 0
    invoice_number: int = Field(alias="invoiceNumber")
    invoice_date: date = Field(alias="invoiceDate")
    due_date: date = Field(alias="invoiceDueDate")
    customer: Ref
    kid: str | None = None
    amount: Decimal
    amount_outstanding: Decimal = Field(alias="amountOutstanding")
    amount_outstanding_total: Decimal | None = Field(None, alias="amountOutstandingTotal")
    currency: Currency = Field(default_factory=Currency)
    is_credit_note: bool = Field(False, alias="isCreditNote")
    credited_invoice: int | None = Field(None, alias="creditedInvoice")
    is_charged: bool = Field(True, alias="isCharged")
    invoice_remark: InvoiceRemark | None = Field(None, alias="invoiceRemark")
    orders: list[Order] = Field(default_factory=list)
    postings: list[Posting] = Field(default_factory=list)

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


class PaymentType(_Model):
    """An incoming payment type (the bank account a payment is booked to)."""

    id: int
    description: str = ""


class Reminder(_Model):
    """A reminder or notice of debt collection Tripletex created for an invoice."""

    id: int
    reminder_date: date = Field(alias="reminderDate")
    type: str
    charge: Decimal = Decimal(0)
    interests: Decimal = Decimal(0)
    term_of_payment: date | None = Field(None, alias="termOfPayment")


class Subscription(_Model):
    """A webhook subscription."""

    id: int
    event: str
    target_url: str = Field(alias="targetUrl")
    status: str | None = None


M = TypeVar("M", bound=BaseModel)


def parse_record(model: type[M], raw: Any, *, what: str) -> M:
    """`raw` as `model`, or a `TripletexMalformedRecord` naming the record and the field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        ident = raw.get("invoiceNumber") or raw.get("id") if isinstance(raw, dict) else None
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        raise TripletexMalformedRecord(
            f"{what} {ident if ident is not None else '?'}: field {field}: {err['msg']} (got {err.get('input')!r})"
        ) from exc


def to_ore(value: Decimal, *, where: str) -> int:
    """Kroner to integer øre, refusing fractions of an øre (never rounded silently)."""
    ore = value * 100
    if ore != ore.to_integral_value():
        raise TripletexMalformedRecord(f"{where}: {value} has fractions of an øre")
    return int(ore)
