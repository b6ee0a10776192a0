"""What the adapter hands the connector: a debtor, the invoices of one hand-off, payments.

Money is integer øre; dates are dates. National ids travel only here, to the agency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class HandoffDebtor:
    """The debtor as the agency needs it."""

    name: str
    customer_number: str
    private: bool
    organization_number: str | None = None
    national_id: str | None = None
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "NO"
    email: str | None = None
    phone: str | None = None

    def __repr__(self) -> str:
        return f"HandoffDebtor(name={self.name!r}, customer_number={self.customer_number!r}, private={self.private})"


@dataclass(frozen=True)
class InterestSegment:
    """A stretch of late interest: dates, rate and amount."""

    start: date
    end: date
    rate: str  # percent per year, as text
    amount_ore: int


@dataclass(frozen=True)
class HandoffInvoice:
    """One claim of the bundle, with what was paid and charged on it."""

    reference: str  # our stable id (accountingInvoiceId)
    number: str
    invoice_date: date
    due_date: date
    original_ore: int
    remaining_ore: int  # principal left after partial payments and credit notes
    kid: str | None = None
    currency: str = "NOK"
    partial_payments: tuple[tuple[date, int], ...] = ()
    fees_ore: int = 0  # reminder fees charged by the creditor and not paid
    fee_letters: int = 0
    interest_ore: int = 0  # late interest to the hand-off date, not paid
    interest_segments: tuple[InterestSegment, ...] = ()
    department: str | None = None
    project: str | None = None


@dataclass(frozen=True)
class HandoffCase:
    """All eligible claims of one debtor, handed over together (G1)."""

    creditor_id: int
    debtor: HandoffDebtor
    invoices: tuple[HandoffInvoice, ...]
    handoff_date: date
    varsel_sent: date | None = (
        None  # our inkassovarsel; the agency goes on with a betalingsoppfordring
    )
    varsel_deadline: date | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def principal_ore(self) -> int:
        """Remaining principal of the bundle."""
        return sum(i.remaining_ore for i in self.invoices)

    @property
    def fees_ore(self) -> int:
        """Unpaid fees of the bundle."""
        return sum(i.fees_ore for i in self.invoices)

    @property
    def interest_ore(self) -> int:
        """Interest of the bundle to the hand-off date."""
        return sum(i.interest_ore for i in self.invoices)


def case_to_json(case: HandoffCase) -> dict[str, Any]:
    """The case as JSON types (øre as integers, dates as text), to keep what was confirmed."""

    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return dict(plain(asdict(case)))


def case_from_json(raw: dict[str, Any]) -> HandoffCase:
    """A case from `case_to_json`'s output."""

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    invoices = tuple(
        HandoffInvoice(
            **{
                k: v
                for k, v in inv.items()
                if k not in ("invoice_date", "due_date", "partial_payments", "interest_segments")
            },
            invoice_date=date.fromisoformat(inv["invoice_date"]),
            due_date=date.fromisoformat(inv["due_date"]),
            partial_payments=tuple((date.fromisoformat(d), a) for d, a in inv["partial_payments"]),
            interest_segments=tuple(
                InterestSegment(
                    date.fromisoformat(s["start"]),
                    date.fromisoformat(s["end"]),
                    s["rate"],
                    s["amount_ore"],
                )
                for s in inv["interest_segments"]
            ),
        )
        for inv in raw["invoices"]
    )
    return HandoffCase(
        creditor_id=raw["creditor_id"],
        debtor=HandoffDebtor(**raw["debtor"]),
        invoices=invoices,
        handoff_date=date.fromisoformat(raw["handoff_date"]),
        varsel_sent=day(raw.get("varsel_sent")),
        varsel_deadline=day(raw.get("varsel_deadline")),
        notes=tuple(raw.get("notes") or ()),
    )
