"""OCR Giro (Nets "OCR konteringsdata"): a streaming reader that checks every control total.

80-character records, Latin-1: 10 start of transmission, 20 start of assignment, 30/31/32 the
amount items of one transaction, 88 end of assignment, 89 end of transmission (bank-formats.md
§1.3). Every record's length, order and fields are checked, and at each 88 and at the 89 the
counts of transactions and records, the sum of amounts and the first and last dates. A broken
file raises `BankFileError` naming the line, the field and what was expected; the caller
accepts the transactions only once the reader has finished (the totals are at the end).
LF and CRLF line ends and trailing spaces are accepted.

Two paths, one result. `_record` reads one line and checks everything; it alone handles the
start and end records and anything unusual, and it words every error. A text stream (anything
with `read`) is also read in blocks, and the well-formed transactions in a block are matched
by one pattern and built a block at a time (`_run`): bench/bank_parsers.py holds the reader to
2x a bare loop that only slices the fields, which line-at-a-time checks in Python cannot reach
(4.9x). The pattern accepts only what `_record` accepts, so a file reads the same both ways
(tests/unit/bank/test_ocr_paths.py compares them on generated and changed files).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from functools import partial
from itertools import accumulate, chain, compress, repeat
from typing import Any

from connectors.bank.transactions import BankFileError, BankTransaction, century_year

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

# A well-formed transaction: items 1 and 2, and item 3 for the types with free text, each an
# 80-character line with the same type and transaction number, and line ends as `_record`
# takes them (trailing spaces, CR LF). Only what `_record` accepts matches: ASCII digits where
# it wants digits, sign 0 or -, a KID field of digits and spaces (a MOD11 KID ending in "-"
# falls to `_record`), an 80th character that is no line end (`_record` strips a CR). A debit
# account of eleven zeros gives no group (no account). What a pattern cannot check `_run`
# checks: a real calendar date, no space inside the KID.
_TRANSACTION = re.compile(
    r"""
    ^NY09 (?P<type>1[0-9]|(?P<with_text>2[01])) 30 (?P<number>.{7})
        ([0-9]{6}) .{10} ([0-]) ([0-9]{17}) ([ 0-9]{25}) .{5}[^\r\n] [ ]*\r?\n
    NY09 (?P=type) 31 (?P=number)
        .{10} (.{9}) .{7} ([0-9]{6}) (?:0{11}|([0-9]{11})) .{21}[^\r\n] [ ]*\r?\n
    (?(with_text) NY09 (?P=type) 32 (?P=number) (.{40}) .{24}[^\r\n] [ ]*\r?\n )
    """,
    re.MULTILINE | re.VERBOSE,
)
# `split` gives the text between matches, then each match's groups: this many items a match.
_STRIDE = _TRANSACTION.groups + 1
_BLOCK_CHARS = 1 << 16  # some 400 transactions: small enough to stay in the CPU cache
_CARRY_LINES = 3  # at most a transaction's lines wait for the next block
_NO_KID = {"": None}
_BETWEEN_TRANSACTIONS = ("assignment", "item_done")
_ALLOWED = {"30": _BETWEEN_TRANSACTIONS, "31": ("item1",), "32": ("item2",)}  # amount items

_ITEMS = {
    "30": "amount item 1 (30)",
    "31": "amount item 2 (31)",
    "32": "amount item 3 (32)",
    "20": "start of assignment (20)",
    "88": "end of assignment (88)",
    "89": "end of transmission (89)",
}
_EXPECTED = {
    "start": "the start of transmission (10)",
    "transmission": "a start of assignment (20) or the end of transmission (89)",
    "assignment": "an amount item 1 (30) or the end of assignment (88)",
    "item1": "amount item 2 (31)",
    "item2": "amount item 3 (32)",
    "item_done": "an amount item 1 (30) or the end of assignment (88)",
    "done": "nothing more",
}


def _date(text: str, today: date) -> date | None:
    # DDMMYY; 000000 means none; the century is the one that puts it at most a few years ahead.
    if text == "000000":
        return None
    return date(century_year(int(text[4:6]), today), int(text[2:4]), int(text[0:2]))


AVTALEGIRO = (
    "this is an AvtaleGiro file (service code 21: payment claims, cancellations or agreements), "
    "not a payment file; Kravflyt reads OCR Giro (service code 09), where settled AvtaleGiro "
    "payments arrive as transaction type 15, and camt.054 or camt.053"
)


class OcrReader:
    """Iterate over an OCR file's transactions; `control` holds the checked totals afterwards.

    `lines` is a text stream or any iterable of lines. A stream is read in blocks and split at
    LF: open files with universal newlines (`newline=None`, the default), as files.py does.
    `today` places two-digit years in their century. A date summary in an end record that
    disagrees with the transactions is a warning (`warnings`), not a refusal: amounts and
    counts are what must add up.
    """

    def __init__(self, lines: Iterable[str], name: str = "OCR file", *, today: date):
        self.lines, self.name = lines, name
        self.control: dict[str, Any] = {}
        self.warnings: list[str] = []
        self._date = partial(_date, today=today)
        self._state = "start"  # start -> transmission -> assignment -> item1 -> item2 ... -> done
        self._line_no = 0
        self._tx_count = self._rec_count = self._total = 0  # transmission totals
        self._a_tx = self._a_rec = self._a_total = 0  # assignment totals
        self._a_nets: set[str] = set()  # the assignment's Nets dates, DDMMYY
        self._assignments = 0
        self._dates: dict[str, date | None] = {}  # DDMMYY -> date, once checked: few distinct
        # Item 1 until items 2 (and 3) come: number, type, Nets date, sign, amount, KID, line;
        # then also the bank date, archive reference and account.
        self._item: tuple[Any, ...] = ()

    def __iter__(self) -> Iterator[BankTransaction]:
        return chain.from_iterable(self._batches())

    def _batches(self) -> Iterator[Iterable[BankTransaction]]:
        """The transactions in batches: a stream's blocks, or an iterable's lines one by one."""
        read = getattr(self.lines, "read", None)
        if read is None:
            for raw in self.lines:
                tx = self._record(raw)
                if tx is not None:
                    yield (tx,)
        else:
            rest = ""
            while block := read(_BLOCK_CHARS):
                parts = _TRANSACTION.split(rest + block)
                # After the last match: the block's unfinished line, and often the start of a
                # transaction that the next block completes. A few lines go with the next.
                rest = parts[-1]
                if rest.count("\n") > _CARRY_LINES:
                    cut = rest.rfind("\n") + 1
                    parts[-1], rest = rest[:cut], rest[cut:]
                else:
                    parts[-1] = ""
                yield from self._block(parts)
            yield self._lines(rest)
        if self._state != "done":
            raise self._fail(
                self._line_no + 1,
                "end of file",
                f"the file ends where {_EXPECTED[self._state]} was expected",
            )

    def _block(self, parts: list[Any]) -> Iterator[Iterable[BankTransaction]]:
        """A block split by the pattern: its runs of transactions by `_run`, the lines between
        them by `_record`."""
        between = parts[::_STRIDE]  # before each match, and after the last: mostly empty
        done = 0  # matches handled
        for i in compress(range(len(between)), between):
            if i > done:
                yield self._run(parts, done, i)
            yield self._lines(between[i])
            done = i
        if len(between) - 1 > done:
            yield self._run(parts, done, len(between) - 1)

    def _lines(self, text: str) -> list[BankTransaction]:
        """`_record` for each line of `text` (LF-separated; the last may lack its LF)."""
        lines = text.split("\n")
        if not lines[-1]:
            lines.pop()
        return [tx for line in lines if (tx := self._record(line)) is not None]

    def _run(self, parts: list[Any], start: int, end: int) -> Iterator[BankTransaction]:
        """Matches `start` to `end` of a split block, one after the other: check the dates and
        KIDs, count the transactions in, and build them lazily (built a block at a time, they
        would sit in the garbage collector's young generation and be traversed again and
        again)."""
        types, _, _, nets, signs, amounts, kid_fields, archives, banks, accounts, texts = (
            parts[start * _STRIDE + group : end * _STRIDE : _STRIDE] for group in range(1, _STRIDE)
        )
        first = self._line_no + 1
        if self._state not in _BETWEEN_TRANSACTIONS:
            raise self._misplaced(first, "30")
        seen = set(nets)
        try:
            for text in seen.union(banks).difference(self._dates):
                self._dates[text] = self._date(text)
        except ValueError:
            self._refuse(first, nets, kid_fields, banks, texts)
        stripped = list(map(str.strip, kid_fields))
        if " " in "".join(stripped):
            self._refuse(first, nets, kid_fields, banks, texts)
        kids = map(_NO_KID.get, stripped, stripped)  # an empty field: no KID
        values = list(map(int, amounts))
        records = 2 * len(types) + len(texts) - texts.count(None)
        self._line_no += records
        self._rec_count += records
        self._a_rec += records
        self._a_tx += len(types)
        self._a_total += sum(values)
        if "-" in signs:  # credit notes count negative in the end records' totals (spec example)
            self._a_total -= 2 * sum(
                v for v, sign in zip(values, signs, strict=True) if sign == "-"
            )
        self._a_nets |= seen
        self._state = "item_done"
        return self._transactions(
            first, types, signs, values, kids, nets, banks, archives, accounts, texts
        )

    def _refuse(
        self,
        line_no: int,
        nets: list[str],
        kids: list[str],
        banks: list[str],
        texts: list[str | None],
    ) -> None:
        """Raise the error `_record` gives for the first broken field of a run."""
        for nets_text, kid, bank_text, text in zip(nets, kids, banks, texts, strict=True):
            self._day(nets_text, line_no, 15, "Nets date")
            self._kid(kid, line_no)
            self._day(bank_text, line_no + 1, 41, "bank date")
            line_no += 2 if text is None else 3
        raise AssertionError("a run refused with no broken field")

    def _transactions(
        self,
        first_line: int,
        types: list[str],
        signs: list[str],
        amounts: list[int],
        kids: Iterable[str | None],
        nets: list[str],
        banks: list[str],
        archives: list[str],
        accounts: list[str | None],
        texts: list[str | None],
    ) -> Iterator[BankTransaction]:
        """The transactions, built lazily, from their checked fields: one list per field, one
        item per transaction (the line reader passes lists of one). Amounts unsigned, dates
        DDMMYY as cached by `_day`, texts of item 3 as they stand (None without item 3)."""
        n = len(types)
        if "-" in signs or not _REVERSALS.isdisjoint(types):
            credit: Iterable[bool] = [sign == "-" for sign in signs]
            reversal: Iterable[bool] = [tx_type in _REVERSALS for tx_type in types]
            amounts = [
                -amount if c or r else amount
                for amount, c, r in zip(amounts, credit, reversal, strict=True)
            ]
        else:
            credit, reversal = repeat(False, n), repeat(False, n)
        nets_dates = list(map(self._dates.__getitem__, nets))
        bank_dates = list(map(self._dates.__getitem__, banks))
        booking = nets_dates
        if "000000" in nets:  # no Nets date: the bank's
            booking = [d or b for d, b in zip(nets_dates, bank_dates, strict=True)]
        steps = [2] * n  # lines a transaction has: three with item 3
        for i in compress(range(n), texts):
            steps[i] = 3
        messages: Iterable[str | None] = repeat(None, n)
        if any(texts):
            messages = [text.strip() or None if text else None for text in texts]
        fields = zip(
            amounts,
            kids,
            booking,
            archives,
            repeat("ocr"),
            [f"line {line}" for line in accumulate(steps, initial=first_line)],
            bank_dates,
            accounts,
            repeat(None),  # payer name
            messages,
            repeat("NOK"),
            credit,
            reversal,
            repeat(None),  # RF reference
            repeat(()),  # references
            types,
            repeat(0),  # credit notes
        )
        # What BankTransaction._make does, without a Python call per transaction.
        return map(tuple.__new__, repeat(BankTransaction), fields)

    # -- the line reader ----------------------------------------------------------------------

    def _fail(self, line_no: int, field: str, message: str) -> BankFileError:
        return BankFileError(self.name, f"line {line_no}", field, message)

    def _misplaced(self, line_no: int, record: str) -> BankFileError:
        if self._state == "done":
            return self._fail(line_no, "record", "data after the end of transmission (record 89)")
        return self._fail(
            line_no,
            "record order",
            f"{_ITEMS[record]} where {_EXPECTED[self._state]} was expected",
        )

    def _digits(self, line: str, line_no: int, start: int, end: int, field: str) -> int:
        text = line[start:end]
        if not (text.isascii() and text.isdigit()):  # Latin-1 "²" passes isdigit() alone
            raise self._fail(
                line_no,
                field,
                f"expected {end - start} digits at positions {start + 1}-{end}, got {text!r}",
            )
        return int(text)

    def _day(self, text: str, line_no: int, start: int, field: str) -> str:
        """`text` (DDMMYY at `start`), checked to be a date (or 000000) and cached."""
        if text in self._dates:
            return text
        if not text.isdigit():
            raise self._fail(
                line_no,
                field,
                f"expected a date DDMMYY at positions {start + 1}-{start + 6}, got {text!r}",
            )
        try:
            self._dates[text] = self._date(text)
        except ValueError as exc:
            raise self._fail(line_no, field, f"{text!r} is not a date (DDMMYY)") from exc
        return text

    def _kid(self, field: str, line_no: int) -> str:
        kid = field.strip()
        if (
            kid
            and not (
                kid.isascii()  # Latin-1 "²" passes isdigit() alone
                and (kid[:-1].isdigit() or len(kid) == 1)
                and (kid[-1].isdigit() or kid[-1] == "-")
            )
        ):
            raise self._fail(
                line_no,
                "KID",
                f"{kid!r} is not a KID (digits, right-aligned in positions 50-74)",
            )
        return kid

    def _wrong_length(self, line_no: int, line: str) -> BankFileError:
        """A record of the wrong length, saying so when the file was saved as UTF-8 (where a
        letter such as æ, ø or å takes two bytes)."""
        try:
            utf8 = line.encode("latin-1").decode("utf-8") != line
        except UnicodeError:
            utf8 = False
        why = (
            "; the file was saved as UTF-8 (æ, ø and å take two bytes): OCR Giro files are Latin-1"
            if utf8
            else ""
        )
        return self._fail(line_no, "record", f"is {len(line)} characters, expected 80{why}")

    def _record(self, raw: str) -> BankTransaction | None:
        """Check one line; the transaction it completes, if any."""
        self._line_no += 1
        line_no = self._line_no
        line = raw.rstrip("\r\n")
        if len(line) > 80:
            if line[80:].strip():
                raise self._wrong_length(line_no, line)
            line = line[:80]
        if not line.strip():
            if self._state == "done":
                return None
            raise self._fail(line_no, "record", "empty line inside the transmission")
        if self._state == "done":
            raise self._misplaced(line_no, "")
        if len(line) != 80:
            raise self._wrong_length(line_no, line)
        if line[0:2] != "NY":
            raise self._fail(
                line_no, "format code", f"expected 'NY' at positions 1-2, got {line[0:2]!r}"
            )
        record = line[6:8]
        self._rec_count += 1
        if record in ("30", "31", "32"):
            return self._amount_item(line, line_no, record)
        if record == "20":
            self._assignment_start(line, line_no)
        elif record == "88":
            self._assignment_end(line, line_no)
        elif record == "10":
            self._transmission_start(line, line_no)
        elif record == "89":
            self._transmission_end(line, line_no)
        else:
            raise self._fail(
                line_no,
                "record type",
                f"{record!r} is not an OCR Giro record type (10, 20, 30, 31, 32, 88, 89)",
            )
        return None

    def _amount_item(self, line: str, line_no: int, record: str) -> BankTransaction | None:
        if self._state not in _ALLOWED[record]:
            raise self._misplaced(line_no, record)
        self._a_rec += 1
        if record == "30":
            if line[2:4] != "09":
                raise self._fail(
                    line_no, "service code", f"expected 09 (OCR giro), got {line[2:4]!r}"
                )
            tx_type = line[4:6]
            if tx_type not in TRANSACTION_TYPES:
                raise self._fail(
                    line_no,
                    "transaction type",
                    f"{tx_type!r} is not an OCR transaction type (10-21)",
                )
            nets = self._day(line[15:21], line_no, 15, "Nets date")
            sign = line[31]
            if sign not in "0-":
                raise self._fail(
                    line_no, "sign", f"expected '0' or '-' at position 32, got {sign!r}"
                )
            amount = self._digits(line, line_no, 32, 49, "amount")
            kid = self._kid(line[49:74], line_no)
            self._item = (line[8:15], tx_type, nets, sign, amount, kid, line_no)
            self._state = "item1"
            return None
        number, tx_type, nets, sign, amount, kid, first = self._item[:7]
        if record == "31":
            if line[8:15] != number or line[4:6] != tx_type:
                raise self._fail(
                    line_no,
                    "transaction number",
                    f"item 2 does not belong to the transaction on line {first}",
                )
            bank = self._day(line[41:47], line_no, 41, "bank date")
            account = line[47:58]
            if not (account.isascii() and account.isdigit()):
                raise self._fail(
                    line_no,
                    "debit account",
                    f"expected 11 digits at positions 48-58, got {account!r}",
                )
            self._item += (bank, line[25:34], account)
            if tx_type in _WITH_TEXT:
                self._state = "item2"
                return None
            text = None
        else:
            if line[8:15] != number:
                raise self._fail(
                    line_no,
                    "transaction number",
                    f"item 3 does not belong to the transaction on line {first}",
                )
            text = line[15:55]
        bank, archive, account = self._item[7:]
        self._a_tx += 1
        self._a_total += -amount if sign == "-" else amount
        self._a_nets.add(nets)
        self._state = "item_done"
        tx = self._transactions(
            first,
            [tx_type],
            [sign],
            [amount],
            [kid or None],
            [nets],
            [bank],
            [archive],
            [None if account == "00000000000" else account],
            [text],
        )
        return next(tx)

    def _assignment_start(self, line: str, line_no: int) -> None:
        if self._state != "transmission":
            raise self._misplaced(line_no, "20")
        if line[2:4] == "21":
            raise self._fail(line_no, "service code", AVTALEGIRO)
        if line[2:4] != "09":
            raise self._fail(line_no, "service code", f"expected 09 (OCR giro), got {line[2:4]!r}")
        self._a_tx = self._a_total = 0
        self._a_rec = 1
        self._a_nets = set()
        self._assignments += 1
        self._state = "assignment"

    def _assignment_end(self, line: str, line_no: int) -> None:
        if self._state not in _BETWEEN_TRANSACTIONS:
            raise self._misplaced(line_no, "88")
        self._a_rec += 1
        self._totals(line, line_no, self._a_tx, self._a_rec, self._a_total)
        dated = [d for d in map(self._dates.__getitem__, self._a_nets) if d is not None]
        for start, name, value in (
            (47, "earliest Nets date", min(dated, default=None)),
            (53, "latest Nets date", max(dated, default=None)),
        ):
            stated = self._dates[self._day(line[start : start + 6], line_no, start, name)]
            if value is not None and stated is not None and stated != value:
                self.warnings.append(
                    str(
                        self._fail(
                            line_no,
                            name,
                            f"the record says {stated}, the transactions give {value}",
                        )
                    )
                )
        self._tx_count += self._a_tx
        self._total += self._a_total
        self._state = "transmission"

    def _transmission_start(self, line: str, line_no: int) -> None:
        if self._state != "start":
            raise self._fail(
                line_no, "record order", "start of transmission (10) must be the first record, once"
            )
        if line[2:6] != "0000":
            raise self._fail(
                line_no, "service code", f"expected 0000 in positions 3-6, got {line[2:6]!r}"
            )
        self.control["transmission_number"] = line[16:23]
        self.control["data_recipient"] = line[23:31]
        self._state = "transmission"

    def _transmission_end(self, line: str, line_no: int) -> None:
        if self._state != "transmission":
            raise self._misplaced(line_no, "89")
        self._totals(line, line_no, self._tx_count, self._rec_count, self._total)
        nets = self._dates[self._day(line[41:47], line_no, 41, "Nets date")]
        self.control.update(
            {
                "assignments": self._assignments,
                "transactions": self._tx_count,
                "records": self._rec_count,
                "total_ore": self._total,
                "nets_date": nets.isoformat() if nets else None,
            }
        )
        self._state = "done"

    def _totals(self, line: str, line_no: int, transactions: int, records: int, total: int) -> None:
        """Check an end record's counts and total against the file's."""
        for start, end, field, counted in (
            (8, 16, "number of transactions", transactions),
            (16, 24, "number of records", records),
            (24, 41, "total amount", total),
        ):
            stated = self._digits(line, line_no, start, end, field)
            if stated != counted:
                raise self._fail(
                    line_no, field, f"the record says {stated}, the file has {counted}"
                )
