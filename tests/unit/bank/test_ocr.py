"""OCR Giro: every record type, every control total, record length and order, encodings."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest

from connectors.bank.files import parse_bytes
from connectors.bank.ocr import OcrReader
from connectors.bank.transactions import BankFileError

TODAY = date(2026, 12, 7)  # places two-digit years in their century

SAMPLE = (Path(__file__).parent / "files" / "sample.ocr").read_text(encoding="latin-1").splitlines()
TYPE21 = [
    "NY000010000080800170031000102000000000000000000000000000000000000000000000000000",
    "NY090020001008566000000112345678903000000000000000000000000000000000000000000000",
    "NY09213000000011501250115100001000000000000030000                         000000",
    "NY092131000000100000000001112223330000000150125000000000000000000000000000000000",
    "NY092132" + "0000001" + "Faktura 10045 Ødegård".ljust(40) + "0" * 25,
    "NY09183000000021501250115100002000000000000010000             100230004572000000",
    "NY091831000000200000000001112223340000000150125000000000000000000000000000000000",
    "NY090088000000020000000700000000000040000150125150125150125000000000000000000000",
    "NY000089000000020000000900000000000040000150125000000000000000000000000000000000",
]


def read(lines: Iterable[str], name: str = "test.ocr") -> tuple[list, dict]:
    reader = OcrReader(iter(lines) if isinstance(lines, list) else lines, name, today=TODAY)
    return list(reader), reader.control


def test_sample_parses_to_the_exact_values() -> None:
    txs, control = read(SAMPLE)
    assert [
        (t.amount_ore, t.kid, t.booking_date, t.payer_account, t.bank_reference, t.transaction_type)
        for t in txs
    ] == [
        (125000, "100230004572", date(2025, 1, 15), "86011117947", "123456789", "10"),
        (49950, "100230004580", date(2025, 1, 15), "12345678903", "987654321", "13"),
    ]
    assert control == {
        "transmission_number": "0170031",
        "data_recipient": "00010200",
        "assignments": 1,
        "transactions": 2,
        "records": 8,
        "total_ore": 174950,
        "nets_date": "2025-01-15",
    }


def test_free_text_items_and_reversals() -> None:
    txs, control = read(TYPE21)
    assert [(t.amount_ore, t.kid, t.message, t.is_reversal, t.payer_account) for t in txs] == [
        (30000, None, "Faktura 10045 Ødegård", False, None),
        (-10000, "100230004572", None, True, None),
    ]
    assert control["total_ore"] == 40000  # reversals are added in the control total


def test_negative_sign_is_a_credit_note_subtracted_in_the_totals() -> None:
    # 1 250,00 less a credit note of 499,50: the end records say 750,50 (as in the spec's example).
    lines = _broken(4, 31, "-")
    lines = _broken(6, 24, "00000000000075050", lines)
    lines = _broken(7, 24, "00000000000075050", lines)
    txs, control = read(lines)
    assert [(t.amount_ore, t.is_credit_note) for t in txs] == [(125000, False), (-49950, True)]
    assert control["total_ore"] == 75050


def test_crlf_trailing_spaces_and_latin1_bytes() -> None:
    data = ("\r\n".join(line + "   " for line in TYPE21) + "\r\n").encode("latin-1")
    parsed = parse_bytes(data, "crlf.ocr", today=TODAY)
    assert parsed.transactions[0].message == "Faktura 10045 Ødegård"


def _broken(index: int, start: int, text: str, lines: list[str] = SAMPLE) -> list[str]:
    out = list(lines)
    out[index] = out[index][:start] + text + out[index][start + len(text) :]
    return out


@pytest.mark.parametrize(
    ("lines", "where", "field", "message"),
    [
        (
            _broken(6, 8, "00000003"),
            "line 7",
            "number of transactions",
            "the record says 3, the file has 2",
        ),
        (
            _broken(6, 16, "00000007"),
            "line 7",
            "number of records",
            "the record says 7, the file has 6",
        ),
        (
            _broken(6, 24, "00000000000174951"),
            "line 7",
            "total amount",
            "the record says 174951, the file has 174950",
        ),
        (
            _broken(7, 8, "00000001"),
            "line 8",
            "number of transactions",
            "the record says 1, the file has 2",
        ),
        (
            _broken(7, 16, "00000009"),
            "line 8",
            "number of records",
            "the record says 9, the file has 8",
        ),
        (
            _broken(7, 24, "00000000000174900"),
            "line 8",
            "total amount",
            "the record says 174900, the file has 174950",
        ),
        (
            _broken(2, 32, "0000000000012500x"),
            "line 3",
            "amount",
            "expected 17 digits at positions 33-49",
        ),
        (_broken(2, 15, "320125"), "line 3", "Nets date", "'320125' is not a date"),
        (_broken(2, 4, "99"), "line 3", "transaction type", "'99' is not an OCR transaction type"),
        (
            _broken(3, 8, "0000009"),
            "line 4",
            "transaction number",
            "does not belong to the transaction on line 3",
        ),
        (_broken(2, 31, "+"), "line 3", "sign", "expected '0' or '-'"),
        (
            [SAMPLE[0], SAMPLE[1], SAMPLE[3], *SAMPLE[2:3], *SAMPLE[4:]],
            "line 3",
            "record order",
            "amount item 2 (31) where",
        ),
        (SAMPLE[1:], "line 1", "record order", "start of assignment (20) where"),
        (SAMPLE[:-1], "line 8", "end of file", "the file ends where"),
        ([*SAMPLE, SAMPLE[0]], "line 9", "record", "data after the end of transmission"),
        ([SAMPLE[0][:79], *SAMPLE[1:]], "line 1", "record", "is 79 characters, expected 80"),
        ([SAMPLE[0] + "X", *SAMPLE[1:]], "line 1", "record", "is 81 characters, expected 80"),
        (_broken(0, 0, "XY"), "line 1", "format code", "expected 'NY'"),
        (_broken(2, 6, "44"), "line 3", "record type", "'44' is not an OCR Giro record type"),
    ],
)
@pytest.mark.parametrize("via", ["lines", "stream"])
def test_broken_files_are_refused_naming_line_and_field(lines, where, field, message, via) -> None:
    # A stream is read in blocks, well-formed transactions by a pattern: same errors.
    source = iter(lines) if via == "lines" else io.StringIO("\n".join(lines) + "\n")
    with pytest.raises(BankFileError) as err:
        read(source)
    assert (err.value.where, err.value.field) == (where, field)
    assert message in err.value.message
    assert str(err.value).startswith(f"test.ocr {where}, {field}: ")


@pytest.mark.parametrize("digit", ["²", "³", "¹"])
@pytest.mark.parametrize(
    ("record", "column", "field"),
    [("30", 32, "amount"), ("30", 70, "KID"), ("31", 50, "debit account")],
)
def test_latin1_superscript_digits_are_not_digits(
    digit: str, record: str, column: int, field: str
) -> None:
    # Found by the fuzz run: "²".isdigit() is True, but int() refuses it.
    lines = list(SAMPLE)
    n = next(i for i, line in enumerate(lines) if line[6:8] == record)
    lines[n] = lines[n][:column] + digit + lines[n][column + 1 :]
    with pytest.raises(BankFileError) as err:
        list(OcrReader(lines, "fuzz.ocr", today=TODAY))
    assert (err.value.where, err.value.field) == (f"line {n + 1}", field)


@pytest.mark.parametrize("as_stream", [False, True], ids=["lines", "stream"])
def test_date_summaries_that_disagree_are_warnings(as_stream: bool) -> None:
    lines = _broken(6, 53, "160125", _broken(6, 47, "140125"))
    source = io.StringIO("\n".join(lines) + "\n") if as_stream else iter(lines)
    reader = OcrReader(source, "test.ocr", today=TODAY)
    assert len(list(reader)) == 2
    assert reader.warnings == [
        "test.ocr line 7, earliest Nets date: the record says 2025-01-14, the transactions give 2025-01-15",
        "test.ocr line 7, latest Nets date: the record says 2025-01-16, the transactions give 2025-01-15",
    ]
