"""One incoming payment as read from a bank file, whatever the format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple


class BankFileError(ValueError):
    """A broken bank file, refused whole: names the file, the line (or element) and the field."""

    def __init__(self, file: str, where: str, field_name: str, message: str):
        super().__init__(f"{file} {where}, {field_name}: {message}")
        self.file, self.where, self.field, self.message = file, where, field_name, message


class BankTransaction(NamedTuple):
    """A payment (or a credit note, or a reversal) credited to the payee's account.

    A named tuple rather than a dataclass: a reader builds one per payment, a million per file,
    and a tuple is built in C without running an `__init__` (bench/bank_parsers.py). Immutable.
    """

    amount_ore: int  # signed: negative for a credit note or a reversal
    kid: str | None
    booking_date: date
    bank_reference: str  # OCR archive reference / camt AcctSvcrRef: the bank's own reference
    source: str  # "ocr" or "camt054"
    position: str  # where in the file, for messages: "line 3", "Ntry 1 TxDtls 2"
    value_date: date | None = None
    payer_account: str | None = None
    payer_name: str | None = None
    message: str | None = None
    currency: str = "NOK"
    is_credit_note: bool = False
    is_reversal: bool = False
    rf_reference: str | None = None
    references: tuple[str, ...] = ()
    transaction_type: str | None = None
    credit_note_ore: int = 0  # credit notes listed with the payment (camt CREN CdtNoteAmt)

    def natural_key(self, file_id: int | None = None) -> str:
        """The payment's identity across files and formats.

        Both formats carry the bank's archive reference (OCR record 31, camt `TxDtls/Refs/
        AcctSvcrRef`), so the same payment in an OCR file and a camt.054 file gets one key:
        reference + amount + KID. Without a reference (zeros in OCR, none in camt), the key
        falls back to the stored file (`file_id`), date, amount, KID and position in the file,
        which is unique per file but cannot match across formats.
        """
        ref = self.bank_reference.strip("0")
        if ref:
            basis = f"ref|{self.bank_reference}|{self.amount_ore}|{self.kid or ''}"
        else:
            file = "" if file_id is None else file_id
            basis = f"pos|{self.source}|{file}|{self.position}|{self.booking_date}|{self.amount_ore}|{self.kid or ''}"
        return hashlib.sha256(basis.encode()).hexdigest()[:40]

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
            "transaction_type": self.transaction_type,
            "position": self.position,
        }


@dataclass
class ParsedFile:
    """A whole file, checked: its transactions and its control totals."""

    format: str
    transactions: list[BankTransaction]
    control: dict[str, Any]
