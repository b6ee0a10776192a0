"""What a letter shows: plain values (øre, dates). Rendering is a pure function of these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from policies.ladder import Stage


@dataclass(frozen=True)
class Party:
    """A creditor or a debtor as printed on the letter (never a national identity number)."""

    name: str
    address_lines: tuple[str, ...] = ()
    org_number: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of interest shown on the letter."""

    start: date
    end: date
    days: int
    rate: str
    principal_ore: int
    amount_ore: int


@dataclass(frozen=True)
class Line:
    """One invoice the letter is about."""

    invoice_number: str
    invoice_date: date
    due_date: date
    original_ore: int
    principal_ore: int  # still owed
    kid: str | None = None
    fees_ore: int = 0  # this letter's fee plus earlier unpaid fees
    interest_ore: int = 0
    interest_from: date | None = None
    segments: tuple[Segment, ...] = ()
    paid_ore: int = 0
    paid_on: date | None = None  # a rentenota's late payment
    interest_to: date | None = None  # the last interest day counted
    # The first day interest was due but not counted: its statutory rate is not published yet.
    rate_missing_from: date | None = None
    payments: tuple[tuple[date, int], ...] = ()  # payments and credit notes on the principal
    interest_paid_ore: int = 0  # interest already paid: `interest_ore` is what remains
    compensation_ore: int = 0  # § 3a compensation stated before and unpaid (not a fee, C10)

    @property
    def total_ore(self) -> int:
        """Principal, fees and interest of this invoice."""
        return self.principal_ore + self.fees_ore + self.interest_ore

    @property
    def rates(self) -> list[tuple[str, date]]:
        """The interest rates used, in order, each with the first day it was used."""
        first: dict[str, date] = {}
        for s in self.segments:
            first.setdefault(s.rate, s.start)
        return list(first.items())


@dataclass(frozen=True)
class Letter:
    """One letter (invoice copy: one line; balance list: every overdue invoice of the debtor)."""

    kind: Stage
    letter_date: date
    deadline: date
    creditor: Party
    debtor: Party
    lines: tuple[Line, ...]
    account_number: str | None
    text: str = ""  # the company's text for this stage, placeholders filled
    language: str = "nb"
    compensation_ore: int = 0
    reference: str = ""  # our letter number, printed for correspondence
    method: str = "invoice_copy"
    new_act: bool = False
    attachments: tuple[bytes, ...] = field(
        default=(), compare=False
    )  # invoice PDFs appended (invoice copy)

    @property
    def principal_ore(self) -> int:
        """Principal of all lines."""
        return sum(x.principal_ore for x in self.lines)

    @property
    def fees_ore(self) -> int:
        """Fees of all lines."""
        return sum(x.fees_ore for x in self.lines)

    @property
    def interest_ore(self) -> int:
        """Interest of all lines."""
        return sum(x.interest_ore for x in self.lines)

    @property
    def total_ore(self) -> int:
        """What the debtor is asked to pay."""
        return self.principal_ore + self.fees_ore + self.interest_ore + self.compensation_ore

    @property
    def kid(self) -> str | None:
        """The KID to pay with: the invoice's own KID when there is one line (or one KID)."""
        kids = {x.kid for x in self.lines if x.kid}
        return kids.pop() if len(kids) == 1 else None
