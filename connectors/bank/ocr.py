"""OCR Giro (Nets "OCR konteringsdata"): a streaming reader that checks every control total.

80-character records, Latin-1: 10 start of transmission, 20 start of assignment, 30/31/32 the
amount items of one transaction, 88 end of assignment, 89 end of transmission (bank-formats.md
§1.3). Every record's length, order and fields are checked, and at each 88 and at the 89 the
counts of transactions and records, the sum of amounts and the first and last dates. A broken
file raises `BankFileError` naming the line, the field and what was expected; the caller
accepts the transactions only once the reader has finished (the totals are at the end).
LF and CRLF line ends and trailing spaces are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from functools import lru_cache
from typing import Any

from connectors.bank.transactions import BankFileError, BankTransaction

TRANSACTION_TYPES = {
    "10": "giro debited account",
    "11": "standing order",
    "12": "direct remittance",
    "13": "business terminal giro",
    "14": "counter giro",
    "15": "AvtaleGiro",
    "16": "telegiro",
    "17": "giro paid in cash",
    "18": "reversal with KID",
    "19": "purchase with KID",
    "20": "reversal with free text",
    "21": "purchase with free text",
}
_REVERSALS = {"18", "20"}
_WITH_TEXT = {"20", "21"}


@lru_cache(maxsize=4096)  # a file has few distinct dates; parsing each once saves a third
def _date(text: str) -> date | None:
    # DDMMYY; 000000 means none.
    if text == "000000":
        return None
    return date(2000 + int(text[4:6]), int(text[2:4]), int(text[0:2]))


# A transaction as items 1 and 2 give it: type, amount, negative, KID, Nets date, bank date,
# archive reference, payer account, line of item 1.
_Item = tuple[str, int, bool, str | None, date | None, date | None, str, str | None, int]


class OcrReader:
    """Iterate over an OCR file's transactions; `control` holds the checked totals afterwards."""

    def __init__(self, lines: Iterable[str], name: str = "OCR file"):
        self.lines, self.name = lines, name
        self.control: dict[str, Any] = {}

    def _fail(self, line_no: int, field: str, message: str) -> BankFileError:
        return BankFileError(self.name, f"line {line_no}", field, message)

    def _digits(self, line: str, line_no: int, start: int, end: int, field: str) -> int:
        text = line[start:end]
        if not (text.isascii() and text.isdigit()):  # Latin-1 "²" passes isdigit() alone
            raise self._fail(
                line_no,
                field,
                f"expected {end - start} digits at positions {start + 1}-{end}, got {text!r}",
            )
        return int(text)

    def _day(self, line: str, line_no: int, start: int, field: str) -> date | None:
        text = line[start : start + 6]
        if not text.isdigit():
            raise self._fail(
                line_no,
                field,
                f"expected a date DDMMYY at positions {start + 1}-{start + 6}, got {text!r}",
            )
        try:
            return _date(text)
        except ValueError as exc:
            raise self._fail(line_no, field, f"{text!r} is not a date (DDMMYY)") from exc

    def __iter__(self) -> Iterator[BankTransaction]:
        fail, digits, day = self._fail, self._digits, self._day
        state = "start"  # start -> transmission -> assignment -> item1 -> item2 [-> item3] -> ... -> done
        line_no = 0
        tx_count = rec_count = total = 0  # transmission totals
        a_tx = a_rec = a_total = 0  # assignment totals
        a_first: date | None = None
        a_last: date | None = None
        assignments = 0
        t_number = ""
        t_amount = t_line = 0
        t_negative = False
        t_kid: str | None = None
        t_nets_date: date | None = None
        item: _Item | None = None
        tx_type = ""
        for raw in self.lines:
            line_no += 1
            line = raw.rstrip("\r\n")
            if len(line) > 80:
                if line[80:].strip():
                    raise fail(line_no, "record", f"is {len(line)} characters, expected 80")
                line = line[:80]
            if not line.strip():
                if state == "done":
                    continue
                raise fail(line_no, "record", "empty line inside the transmission")
            if state == "done":
                raise fail(line_no, "record", "data after the end of transmission (record 89)")
            if len(line) != 80:
                raise fail(line_no, "record", f"is {len(line)} characters, expected 80")
            if line[0:2] != "NY":
                raise fail(
                    line_no, "format code", f"expected 'NY' at positions 1-2, got {line[0:2]!r}"
                )
            record = line[6:8]
            rec_count += 1
            if record == "30":
                if state not in ("assignment", "item_done"):
                    raise fail(
                        line_no,
                        "record order",
                        f"amount item 1 (30) where {_expected(state)} was expected",
                    )
                if line[2:4] != "09":
                    raise fail(
                        line_no, "service code", f"expected 09 (OCR giro), got {line[2:4]!r}"
                    )
                tx_type = line[4:6]
                if tx_type not in TRANSACTION_TYPES:
                    raise fail(
                        line_no,
                        "transaction type",
                        f"{tx_type!r} is not an OCR transaction type (10-21)",
                    )
                number = line[8:15]
                nets_date = day(line, line_no, 15, "Nets date")
                sign = line[31]
                if sign not in "0-":
                    raise fail(line_no, "sign", f"expected '0' or '-' at position 32, got {sign!r}")
                amount = digits(line, line_no, 32, 49, "amount")
                kid = line[49:74].strip()
                if kid and not (
                    (kid[:-1].isdigit() or len(kid) == 1) and (kid[-1].isdigit() or kid[-1] == "-")
                ):
                    raise fail(
                        line_no,
                        "KID",
                        f"{kid!r} is not a KID (digits, right-aligned in positions 50-74)",
                    )
                # The transaction's fields so far, kept in locals until items 2 (and 3) come.
                t_number, t_nets_date, t_amount, t_line = number, nets_date, amount, line_no
                t_negative, t_kid = sign == "-", kid or None
                if nets_date:
                    a_first = nets_date if a_first is None or nets_date < a_first else a_first
                    a_last = nets_date if a_last is None or nets_date > a_last else a_last
                state = "item1"
                a_rec += 1
            elif record == "31":
                if state != "item1":
                    raise fail(
                        line_no,
                        "record order",
                        f"amount item 2 (31) where {_expected(state)} was expected",
                    )
                if line[8:15] != t_number or line[4:6] != tx_type:
                    raise fail(
                        line_no,
                        "transaction number",
                        f"item 2 does not belong to the transaction on line {t_line}",
                    )
                bank_date = day(line, line_no, 41, "bank date")
                account = line[47:58]
                if not account.isdigit():
                    raise fail(
                        line_no,
                        "debit account",
                        f"expected 11 digits at positions 48-58, got {account!r}",
                    )
                # Everything but the text of item 3, which only some transaction types have.
                item = (
                    tx_type,
                    t_amount,
                    t_negative,
                    t_kid,
                    t_nets_date,
                    bank_date,
                    line[25:34],  # archive reference
                    None if account == "00000000000" else account,
                    t_line,
                )
                a_rec += 1
                if tx_type in _WITH_TEXT:
                    state = "item2"
                else:
                    yield _transaction(item, None)
                    a_tx += 1
                    a_total += t_amount
                    state = "item_done"
            elif record == "32":
                if state != "item2":
                    raise fail(
                        line_no,
                        "record order",
                        f"amount item 3 (32) where {_expected(state)} was expected",
                    )
                if line[8:15] != t_number:
                    raise fail(
                        line_no,
                        "transaction number",
                        f"item 3 does not belong to the transaction on line {t_line}",
                    )
                a_rec += 1
                assert item is not None  # state item2 comes only after an item 2
                yield _transaction(item, line[15:55].strip() or None)
                a_tx += 1
                a_total += t_amount
                state = "item_done"
            elif record == "20":
                if state != "transmission":
                    raise fail(
                        line_no,
                        "record order",
                        f"start of assignment (20) where {_expected(state)} was expected",
                    )
                if line[2:4] != "09":
                    raise fail(
                        line_no, "service code", f"expected 09 (OCR giro), got {line[2:4]!r}"
                    )
                self._assignment_account = line[24:35]
                a_tx = a_total = 0
                a_rec = 1
                a_first = a_last = None
                assignments += 1
                state = "assignment"
            elif record == "88":
                if state not in ("assignment", "item_done"):
                    raise fail(
                        line_no,
                        "record order",
                        f"end of assignment (88) where {_expected(state)} was expected",
                    )
                a_rec += 1
                self._check(
                    line_no,
                    "number of transactions",
                    digits(line, line_no, 8, 16, "number of transactions"),
                    a_tx,
                )
                self._check(
                    line_no,
                    "number of records",
                    digits(line, line_no, 16, 24, "number of records"),
                    a_rec,
                )
                self._check(
                    line_no, "total amount", digits(line, line_no, 24, 41, "total amount"), a_total
                )
                for start, name, value in (
                    (47, "earliest Nets date", a_first),
                    (53, "latest Nets date", a_last),
                ):
                    stated = day(line, line_no, start, name)
                    if value is not None and stated is not None and stated != value:
                        raise fail(
                            line_no,
                            name,
                            f"the record says {stated}, the transactions give {value}",
                        )
                tx_count += a_tx
                total += a_total
                state = "transmission"
            elif record == "10":
                if state != "start":
                    raise fail(
                        line_no,
                        "record order",
                        "start of transmission (10) must be the first record, once",
                    )
                if line[2:6] != "0000":
                    raise fail(
                        line_no,
                        "service code",
                        f"expected 0000 in positions 3-6, got {line[2:6]!r}",
                    )
                self.control["transmission_number"] = line[16:23]
                self.control["data_recipient"] = line[23:31]
                state = "transmission"
            elif record == "89":
                if state != "transmission":
                    raise fail(
                        line_no,
                        "record order",
                        f"end of transmission (89) where {_expected(state)} was expected",
                    )
                self._check(
                    line_no,
                    "number of transactions",
                    digits(line, line_no, 8, 16, "number of transactions"),
                    tx_count,
                )
                self._check(
                    line_no,
                    "number of records",
                    digits(line, line_no, 16, 24, "number of records"),
                    rec_count,
                )
                self._check(
                    line_no, "total amount", digits(line, line_no, 24, 41, "total amount"), total
                )
                self.control.update(
                    {
                        "assignments": assignments,
                        "transactions": tx_count,
                        "records": rec_count,
                        "total_ore": total,
                        "nets_date": (
                            d.isoformat() if (d := day(line, line_no, 41, "Nets date")) else None
                        ),
                    }
                )
                state = "done"
            else:
                raise fail(
                    line_no,
                    "record type",
                    f"{record!r} is not an OCR Giro record type (10, 20, 30, 31, 32, 88, 89)",
                )
        if state != "done":
            raise self._fail(
                line_no + 1, "end of file", f"the file ends where {_expected(state)} was expected"
            )

    def _check(self, line_no: int, field: str, stated: int, counted: int) -> None:
        if stated != counted:
            raise self._fail(line_no, field, f"the record says {stated}, the file has {counted}")


def _transaction(item: _Item, text: str | None) -> BankTransaction:
    tx_type, amount, negative, kid, nets_date, bank_date, archive, account, line = item
    reversal = tx_type in _REVERSALS
    return BankTransaction(
        -amount if negative or reversal else amount,
        kid,
        nets_date or bank_date,  # type: ignore[arg-type]  # the Nets date, else the bank's
        archive,
        "ocr",
        f"line {line}",
        bank_date,
        account,
        None,
        text,
        "NOK",
        negative,
        reversal,
        None,
        (),
        tx_type,
    )


def _expected(state: str) -> str:
    return {
        "start": "the start of transmission (10)",
        "transmission": "a start of assignment (20) or the end of transmission (89)",
        "assignment": "an amount item 1 (30) or the end of assignment (88)",
        "item1": "amount item 2 (31)",
        "item2": "amount item 3 (32)",
        "item_done": "an amount item 1 (30) or the end of assignment (88)",
        "done": "nothing more",
    }[state]
