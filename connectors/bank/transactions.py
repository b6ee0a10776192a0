"""One incoming payment as read from a bank file, whatever the format."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

# The furthest ahead of today a two-digit year (DDMMYY) is read: a bank file tells of payments
# made, so "92" in 2026 is 1992, not 2092 (Python's %y would pivot at 69 instead).
YEARS_AHEAD = 5


def century_year(yy: int, today: date) -> int:
    """The four-digit year of a two-digit `yy`: the latest one at most YEARS_AHEAD after today."""
    year = today.year - today.year % 100 + yy
    if year > today.year + YEARS_AHEAD:
        year -= 100
    elif year <= today.year + YEARS_AHEAD - 100:
        year += 100
    return year


class BankFileError(ValueError):
    """A broken bank file, refused whole: names the file, the line (or element) and the field."""

    def __init__(self, file: str, where: str, field_name: str, message: str):
        super().__init__(f"{file} {where}, {field_name}: {message}")
        self.file, self.where, self.field, self.message = file, where, field_name, message


class Reference(NamedTuple):
    """A structured reference from the payer: KID, RF (ISO 11649, check verified), QRR (Swiss
    27-digit QR reference) or other (anything else, an RF that fails its check included)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


class BankTransaction(NamedTuple):
    """A payment (or a credit note, or a reversal) credited to the payee's account.

    A named tuple rather than a dataclass: a reader builds one per payment, a million per file,
    and a tuple is built in C without running an `__init__` (bench/bank_parsers.py). Immutable.
    """

    amount_ore: int  # signed: negative for a credit note or a reversal
    kid: str | None
    booking_date: date
    bank_reference: str  # OCR archive reference / camt AcctSvcrRef: the bank's own reference
    source: str  # "ocr", "camt054" or "camt053"
    position: str  # where in the file, for messages: "line 3", "Ntry 1 TxDtls 2"
    value_date: date | None = None
    payer_account: str | None = None
    payer_name: str | None = None
    message: str | None = None
    currency: str = "NOK"
    is_credit_note: bool = False
    is_reversal: bool = False
    rf_reference: str | None = None
    references: tuple[Reference, ...] = ()  # camt's structured references; OCR: none (its KID)
    transaction_type: str | None = None
    credit_note_ore: int = 0  # credit notes listed with the payment (camt CREN CdtNoteAmt)

    def natural_key(self, file_key: str | None = None) -> str:
        """The payment's identity across files and formats.

        Both formats carry the bank's archive reference (OCR record 31, camt `TxDtls/Refs/
        AcctSvcrRef`), so the same payment in an OCR file and a camt.054 file gets one key:
        reference + amount + KID. Without a reference (zeros in OCR, none in camt), the key
        falls back to the file (`file_key`, from its SHA-256), date, amount, KID and position in
        the file, which is unique per file but cannot match across formats.
        """
        ref = self.bank_reference.strip("0")
        if ref:
            basis = f"ref|{self.bank_reference}|{self.amount_ore}|{self.kid or ''}"
        else:
            file = file_key or ""
            basis = f"pos|{self.source}|{file}|{self.position}|{self.booking_date}|{self.amount_ore}|{self.kid or ''}"
        return hashlib.sha256(basis.encode()).hexdigest()[:40]

    def structured(self) -> tuple[Reference, ...]:
        """Every structured reference: camt's as read, an OCR KID as one of kind KID."""
        if self.references or not self.kid:
            return self.references
        return (Reference("KID", self.kid),)

    def as_json(self) -> dict[str, Any]:
        """The transaction in `kravflyt bank parse --json` shape (the contract's keys first)."""
        return {
            "amount_ore": self.amount_ore,
            "kid": self.kid,
            "booking_date": self.booking_date.isoformat(),
            "payer_account": self.payer_account,
            "bank_reference": self.bank_reference,
            "message": self.message,
            "value_date": self.value_date.isoformat() if self.value_date else None,
            "payer_name": self.payer_name,
            "currency": self.currency,
            "is_credit_note": self.is_credit_note,
            "is_reversal": self.is_reversal,
            "rf_reference": self.rf_reference,
            "references": [{"kind": r.kind, "value": r.value} for r in self.structured()],
            "transaction_type": self.transaction_type,
            "position": self.position,
        }


SKIPPED_TEXT = {
    "debit": ("debit entry skipped", "debit entries skipped"),
    "not_booked": ("entry not booked yet skipped", "entries not booked yet skipped"),
    "batch_without_details": (
        "batch entry without its payments skipped (import the OCR or camt.054 file that lists them)",
        "batch entries without their payments skipped (import the OCR or camt.054 files that list them)",
    ),
}


def skipped_notes(skipped: Counter[str] | dict[str, int]) -> list[str]:
    """ "2 debit entries skipped" and the like, for the parse and import reports."""
    return [f"{n} {SKIPPED_TEXT[what][0 if n == 1 else 1]}" for what, n in skipped.items() if n]


@dataclass
class ParsedFile:
    """A whole file, checked: its transactions, its control totals, what was skipped (debit
    entries, entries not booked) and warnings that did not refuse it (a date summary that
    disagrees with the transactions)."""

    format: str
    transactions: list[BankTransaction]
    control: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """What was skipped, in words."""
        return skipped_notes(self.skipped)
