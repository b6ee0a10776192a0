"""Files that are not bank files Kravflyt reads are refused with what they are, and a bank file
saved by another program (a byte-order mark, UTF-8 or UTF-16 text) is read or refused in words
that say so."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import date
from pathlib import Path

import pytest

from connectors.bank.files import expected_transactions, parse_bytes, parse_path
from connectors.bank.transactions import BankFileError

TODAY = date(2026, 12, 7)
PUBLIC = Path(__file__).parents[2] / "fixtures" / "bank" / "public"
OCR = (PUBLIC / "netsgiro_ocr_giro_transactions.txt").read_bytes()
CAMT = (PUBLIC / "genkgo_camt053.v2.minimal.xml").read_bytes()


def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("ocr.txt", data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (gzip.compress(OCR), "a gzip-compressed file: unpack it"),
        (_zip(OCR), "a ZIP archive"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "an Office document"),
        (CAMT.decode().encode("utf-16"), "UTF-16"),
        (OCR.decode("latin-1").encode("utf-16"), "UTF-16"),
        (b":20:STARTUMS\r\n:25:12345678/0012345678\r\n:28C:00001/001\r\n", "an MT940"),
        (b"{1:F01BANKNOKKAXXX0000000000}{2:O9400000", "an MT940"),
        (b"<!DOCTYPE html>\n<html><body>Nettbank</body></html>", "a web page (HTML)"),
        (b'{"payments": []}', "JSON"),
        (b"01BGMAX               0120120914173035010331P\r\n", "a Bankgirot BgMax file"),
        (
            b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"/>',
            "a payment status report (pain.002.001.03)",
        ),
        (
            b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
            "a payment order (pain.001.001.03)",
        ),
    ],
    ids=[
        "gzip",
        "zip",
        "pdf",
        "xls",
        "utf16-camt",
        "utf16-ocr",
        "mt940",
        "mt940-swift-blocks",
        "html",
        "json",
        "bgmax",
        "pain002",
        "pain001",
    ],
)
def test_other_kinds_of_files_are_refused_by_name(content: bytes, what: str) -> None:
    with pytest.raises(BankFileError) as caught:
        parse_bytes(content, "file.dat", today=TODAY)
    message = str(caught.value)
    assert what in message, message
    assert "Kravflyt reads OCR Giro" in message


def test_an_ocr_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """An editor that saved the file as UTF-8 put a byte-order mark in front of its first
    record (it was refused: 'line 1, record: is 83 characters, expected 80')."""
    plain = parse_bytes(OCR, "plain.ocr", today=TODAY)
    path = tmp_path / "bom.ocr"
    path.write_bytes(b"\xef\xbb\xbf" + OCR)
    assert parse_path(path, today=TODAY).transactions == plain.transactions
    assert parse_bytes(path.read_bytes(), "bom.ocr", today=TODAY).transactions == (
        plain.transactions
    )
    assert expected_transactions(path) == 20


def test_an_ocr_file_saved_as_utf8_says_so() -> None:
    """A letter outside ASCII in a free-text record takes two bytes in UTF-8: the record is 82
    characters long, and the message says why."""
    text = OCR.decode("latin-1").replace("Foo bar baz", "Fø bår bæz ")
    with pytest.raises(BankFileError) as caught:
        parse_bytes(text.encode("utf-8"), "utf8.ocr", today=TODAY)
    message = str(caught.value)
    assert message.startswith("utf8.ocr line 5, record: is 83 characters, expected 80")
    assert "UTF-8" in message and "Latin-1" in message
    # Saved as Latin-1, as OCR Giro files are, the same text is read.
    parsed = parse_bytes(text.encode("latin-1"), "latin1.ocr", today=TODAY)
    assert parsed.transactions[0].message == "Fø bår bæz"
