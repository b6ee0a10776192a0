"""The domain in plain dataclasses: money in øre, KIDs, companies, customers, invoices,
payments, allocations and claims. Standard library (and python-stdnum for identifiers) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from stdnum import exceptions as stdnum_errors
from stdnum.no import fodselsnummer, kontonr, orgnr

from adapter.errors import InputError
from adapter.i18n.catalogue import N_
from connectors.bank import kid as kid_digits
from policies import money

# --------------------------------------------------------------------------- money

_AMOUNT = re.compile(
    r"^(?P<sign>[-+−]?)\s*"
    r"(?P<int>\d{1,3}(?P<sep>[ \u00a0\u202f.])\d{3}(?:(?P=sep)\d{3})*|\d+)"
    r"(?:(?P<dec>[.,])(?P<frac>\d{1,2}))?$"
)


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An amount in NOK as integer øre. Exact: built from text, Decimal or int, never float."""

    ore: int

    def __post_init__(self) -> None:
        if not isinstance(self.ore, int) or isinstance(self.ore, bool):
            raise TypeError(f"Money holds integer øre, got {type(self.ore).__name__}")

    @classmethod
    def parse(cls, text: str, *, where: str = "amount") -> Money:
        """Parse "1 250,50", "1250.50", "1.250,50", "-38" and the like.

        At most two decimals; a thousands separator must group by three. Anything else
        is refused with an `InputError` naming `where`.
        """
        if not isinstance(text, str):
            raise InputError(where, f"expected an amount as text, got {type(text).__name__}")
        cleaned = text.strip().removesuffix("kr").removeprefix("kr").removeprefix("NOK").strip()
        cleaned = cleaned.removesuffix("NOK").strip()
        match = _AMOUNT.match(cleaned)
        if not match:
            raise InputError(
                where,
                f"{text!r} is not an amount (expected e.g. 1250.50 or 1 250,50)",
                said=N_("“%(text)s” is not an amount (write e.g. 1 250,50)", text=text),
            )
        if match["sep"] == "." and (
            match["dec"] == "." or (not match["dec"] and match["int"].count(".") == 1)
        ):
            raise InputError(
                where,
                f"{text!r} is ambiguous: write 1250.50, 1250,50 or 1 250,50",
                said=N_("“%(text)s” is ambiguous: write 1250,50 or 1 250,50", text=text),
            )
        whole = re.sub(r"[ \u00a0\u202f.]", "", match["int"])
        frac = (match["frac"] or "").ljust(2, "0")
        ore = int(whole) * 100 + int(frac or "0")
        return cls(-ore if match["sign"] in {"-", "−"} else ore)

    @classmethod
    def from_decimal(cls, value: Decimal | int | str, *, where: str = "amount") -> Money:
        """From kroner as Decimal (or int or numeric text): refuses fractions of an øre."""
        if isinstance(value, float):
            raise TypeError("Money is never built from float")
        try:
            kroner = Decimal(value)
        except (InvalidOperation, ValueError) as exc:
            raise InputError(where, f"{value!r} is not a number") from exc
        if not kroner.is_finite():
            raise InputError(where, f"{value!r} is not a finite amount")
        ore = kroner * 100
        if ore != ore.to_integral_value():
            raise InputError(where, f"{value} has fractions of an øre")
        return cls(int(ore))

    @classmethod
    def round_decimal(cls, kroner: Decimal) -> Money:
        """Round a calculated Decimal amount in kroner half-up to øre (done once, at the end)."""
        return cls(int((kroner * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)))

    @classmethod
    def zero(cls) -> Money:
        """No money."""
        return cls(0)

    def to_decimal(self) -> Decimal:
        """The amount in kroner as an exact Decimal."""
        return Decimal(self.ore).scaleb(-2)

    def format(self, *, thousands: str = " ", decimal: str = ",") -> str:
        """Norwegian style by default, "1 250,50"; `thousands="", decimal="."` gives "1250.50"."""
        return money.figure(self.ore, thousands, decimal)

    def __str__(self) -> str:
        return self.format()

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.ore + other.ore)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.ore - other.ore)

    def __neg__(self) -> Money:
        return Money(-self.ore)

    def __bool__(self) -> bool:
        return self.ore != 0


def total(amounts: Any) -> Money:
    """Exact sum of Money values."""
    return Money(sum(m.ore for m in amounts))


# --------------------------------------------------------------------------- identifiers


@dataclass(frozen=True, slots=True)
class Kid:
    """A KID with a valid MOD10 or MOD11 check digit."""

    value: str

    def __post_init__(self) -> None:
        if kid_digits.detect_scheme(self.value) is None:
            raise InputError(
                "kid", f"{self.value!r} is not a valid KID (MOD10 or MOD11 check digit)"
            )

    @property
    def scheme(self) -> str:
        """MOD10 or MOD11."""
        return kid_digits.detect_scheme(self.value) or ""

    def __str__(self) -> str:
        return self.value


def org_number(value: str, *, where: str = "org_number") -> str:
    """A Norwegian organisation number, compacted to 9 digits; refused when invalid."""
    try:
        return str(orgnr.validate(value))
    except stdnum_errors.ValidationError as exc:
        raise InputError(where, f"{value!r} is not a valid organisation number ({exc})") from exc


def account_number(value: str, *, where: str = "account_number") -> str:
    """A Norwegian bank account number, compacted to 11 digits; refused when invalid."""
    try:
        return str(kontonr.validate(value))
    except stdnum_errors.ValidationError as exc:
        raise InputError(
            where, f"{value!r} is not a valid Norwegian account number ({exc})"
        ) from exc


class NationalId:
    """A fødselsnummer. Never printed in clear: `str`/`repr` mask it; `reveal()` is explicit."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, where: str = "national_id"):
        try:
            self._value = str(fodselsnummer.validate(value))
        except stdnum_errors.ValidationError as exc:
            raise InputError(where, "not a valid national identity number") from exc

    def reveal(self) -> str:
        """The number itself, for the one place that must send it (the agency's case)."""
        return self._value

    def __repr__(self) -> str:
        return "NationalId('***********')"

    def __str__(self) -> str:
        return "***********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NationalId) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --------------------------------------------------------------------------- entities


class DebtorKind(StrEnum):
    """Private persons are consumers under the law; businesses get B2B rules."""

    PRIVATE = "private"
    BUSINESS = "business"


@dataclass(frozen=True)
class Company:
    """A creditor company using Kravflyt."""

    id: int
    name: str
    org_number: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class Address:
    """A postal address."""

    line1: str = ""
    line2: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "NO"


@dataclass(frozen=True)
class Customer:
    """A debtor: a private person or a business, as the ledger knows it."""

    id: int | None
    company_id: int
    name: str
    kind: DebtorKind
    customer_number: str | None = None
    external_id: str | None = None
    org_number: str | None = None
    national_id: NationalId | None = None
    email: str | None = None
    phone: str | None = None
    address: Address = field(default_factory=Address)
    bank_account: str | None = None
    blocked: bool = False
    blocked_reason: str | None = None
    dunning_excluded: bool = False

    def __post_init__(self) -> None:
        if self.kind is DebtorKind.BUSINESS and self.org_number:
            object.__setattr__(self, "org_number", org_number(self.org_number))
        if self.kind is DebtorKind.PRIVATE and self.org_number:
            raise InputError("org_number", "a private customer has no organisation number")


@dataclass(frozen=True)
class Invoice:
    """An outgoing invoice or credit note. Amounts are signed øre: a credit note is negative."""

    id: int | None
    company_id: int
    customer_id: int
    number: str
    invoice_date: date
    due_date: date
    amount: Money
    outstanding: Money
    currency: str = "NOK"
    kid: Kid | None = None
    external_id: str | None = None
    is_credit_note: bool = False
    credit_note_for: int | None = None
    department: str | None = None
    project: str | None = None
    source: str = "tripletex"

    def __post_init__(self) -> None:
        if self.due_date < self.invoice_date:
            raise InputError(f"invoice {self.number}", "due date is before the invoice date")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise InputError(
                f"invoice {self.number}", f"currency {self.currency!r} is not an ISO code"
            )


class MatchStatus(StrEnum):
    """Where an incoming payment stands."""

    MATCHED = "matched"  # allocated to an invoice
    UNMATCHED = "unmatched"  # waits in the worklist (voucher inbox)
    ON_ACCOUNT = "on_account"  # booked to a customer or the unknown-KID customer, unallocated
    IGNORED = "ignored"  # policy 'ignore': listed for manual booking


@dataclass(frozen=True)
class Payment:
    """Money received for a company, from a bank file, the ledger or a person."""

    id: int | None
    company_id: int
    natural_key: str
    source: str
    amount: Money
    payment_date: date
    kid: str | None = None
    message: str | None = None
    payer_account: str | None = None
    payer_name: str | None = None
    bank_reference: str | None = None
    is_credit_note: bool = False
    status: MatchStatus = MatchStatus.UNMATCHED
    match_method: str | None = None
    unmatched_reason: str | None = None
    customer_id: int | None = None
    currency: str = "NOK"
    references: str | None = None  # "KID 123; RF RF18..." as read from the file


class AllocationKind(StrEnum):
    """What part of a claim a payment settles."""

    PRINCIPAL = "principal"
    FEE = "fee"
    INTEREST = "interest"
    CREDIT = "credit"  # overpayment kept as the customer's credit
    WRITE_OFF = "write_off"  # residual under the company's limit


@dataclass(frozen=True)
class Allocation:
    """A part of a payment applied to a claim (or kept as credit), with the order used."""

    id: int | None
    company_id: int
    payment_id: int | None
    invoice_id: int | None
    kind: AllocationKind
    amount: Money
    allocated_on: date
    order_used: str = ""
    actor: str = "system"


class LetterStage(StrEnum):
    """The letters of the dunning ladder (and the interest note)."""

    SOFT_REMINDER = "soft_reminder"
    REMINDER_1 = "reminder_1"
    REMINDER_2 = "reminder_2"
    INKASSOVARSEL = "inkassovarsel"
    BETALINGSOPPFORDRING = "betalingsoppfordring"
    RENTENOTA = "rentenota"


@dataclass(frozen=True)
class LetterSent:
    """A dunning letter sent for a claim; its fee and interest are notices, not principal."""

    stage: LetterStage
    sent_on: date
    deadline: date | None
    fee: Money
    interest: Money
    compensation: Money = Money(0)


class ClaimStatus(StrEnum):
    """An invoice's place in the dunning flow."""

    OPEN = "open"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"


@dataclass(frozen=True)
class Claim:
    """An invoice's dunning state: letters, notices, dispute, hold and hand-off."""

    id: int | None
    company_id: int
    invoice_id: int
    status: ClaimStatus = ClaimStatus.OPEN
    letters: tuple[LetterSent, ...] = ()
    disputed: bool = False
    dispute_reason: str | None = None
    hold_until: date | None = None
    hold_reason: str | None = None
    stopped: bool = False
    agency_case_id: str | None = None
    handed_off_at: datetime | None = None

    @property
    def fees_charged(self) -> Money:
        """Sum of the fees of every letter sent."""
        return total(letter.fee for letter in self.letters)

    @property
    def interest_charged(self) -> Money:
        """The interest stated on the latest letter that stated any (each letter states the total so far)."""
        stated = [letter.interest for letter in self.letters if letter.interest]
        return stated[-1] if stated else Money(0)

    @property
    def compensation_charged(self) -> Money:
        """The § 3a compensation charged."""
        return total(letter.compensation for letter in self.letters)
