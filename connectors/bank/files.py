"""Bank files as a whole: detect the format, read it completely, refuse it whole when broken."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from connectors.bank.camt import READS, CamtReader, refuse_namespace
from connectors.bank.ocr import OcrReader
from connectors.bank.transactions import BankFileError, BankTransaction, ParsedFile

_XMLNS = re.compile(rb'xmlns(?::\w+)?\s*=\s*["\'](urn:iso:std:iso:20022:tech:xsd:[^"\']+)["\']')


_BOM = b"\xef\xbb\xbf"  # UTF-8's byte-order mark: some editors put it before the first record
# Files people pick by mistake, told by their first bytes, each named in the refusal with what
# to do: a bank file arrives packed, as another bank format, or as a page saved from the bank.
_OTHER_KINDS: tuple[tuple[tuple[bytes, ...], str], ...] = (
    ((b"\x1f\x8b",), "a gzip-compressed file: unpack it and import the bank file inside"),
    (
        (b"PK\x03\x04",),
        "a ZIP archive (or a spreadsheet): unpack it and import the bank file inside",
    ),
    ((b"%PDF",), "a PDF document"),
    ((b"\xd0\xcf\x11\xe0",), "an Office document (a spreadsheet or text file)"),
    (
        (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"N\x00Y\x00", b"\x00N\x00Y"),
        "text in UTF-16; save the bank file as Latin-1 (OCR Giro) or UTF-8 (camt) text",
    ),
    ((b":20:", b"{1:F01", b":940:"), "an MT940 (SWIFT) account statement"),
    ((b"01BGMAX",), "a Bankgirot BgMax file (Swedish bankgiro payments)"),
    ((b"<!doctype html", b"<html"), "a web page (HTML)"),
    ((b"{", b"["), "JSON"),
)


def _other_kind(head: bytes) -> str | None:
    """What a file that is not a bank file Kravflyt reads is, when its first bytes tell."""
    text = head.lstrip(_BOM + b" \t\r\n")[:16].lower()  # a text format's first word
    for starts, what in _OTHER_KINDS:
        if head.startswith(starts) or text.startswith(tuple(s.lower() for s in starts)):
            return what
    return None


def detect_format(head: bytes, name: str = "file") -> str:
    """'ocr' or 'camt' from a file's first bytes; anything else is refused, named when known."""
    if other := _other_kind(head):
        raise BankFileError(name, "start", "format", f"this is {other}; {READS}")
    text = head.lstrip(_BOM + b" \t\r\n")
    if text.startswith(b"NY0000"):
        return "ocr"
    if text.startswith(b"<"):
        found = _XMLNS.search(head)
        uri = found.group(1).decode("ascii", "replace") if found else ""
        if b"camt.054" in uri.encode() or b"camt.053" in uri.encode():
            return "camt"
        if uri:
            raise BankFileError(name, "start", "format", refuse_namespace(uri))
        if b"camt.05" in head:  # a prefix or namespace the pattern does not see: the reader decides
            return "camt"
    if not text:
        raise BankFileError(name, "start", "format", f"the file is empty; {READS}")
    what = (
        "a binary file"
        if b"\x00" in head
        else "neither an OCR Giro file (starting NY0000) nor a camt XML document"
    )
    raise BankFileError(name, "start", "format", f"this is {what}; {READS}")


class Reading:
    """A bank file being read: iterate over it for its transactions (streamed: memory stays
    flat); once they are all read, `parsed` gives its control totals, what was skipped and
    the warnings. A broken file raises `BankFileError` while it is read, at the latest at
    the end (the totals are there): accept nothing before the iteration has finished."""

    def __init__(self, reader: OcrReader | CamtReader):
        self.reader = reader

    def __iter__(self) -> Iterator[BankTransaction]:
        return iter(self.reader)

    @property
    def format(self) -> str:
        """ocr, camt054 or camt053 (for camt, known once the first element is read)."""
        return "ocr" if isinstance(self.reader, OcrReader) else self.reader.format

    def parsed(self, transactions: list[BankTransaction]) -> ParsedFile:
        """The whole file's result, with the transactions given (none when streamed)."""
        if isinstance(self.reader, OcrReader):
            return ParsedFile("ocr", transactions, self.reader.control, self.reader.warnings)
        return ParsedFile(
            self.reader.format, transactions, self.reader.control, skipped=dict(self.reader.skipped)
        )


@contextmanager
def reading(path: Path, *, today: date) -> Iterator[Reading]:
    """Open a file for streaming (the format checked first, from its head)."""
    with path.open("rb") as fh:
        fmt = detect_format(fh.read(4096), path.name)
    if fmt == "ocr":
        with path.open(encoding="latin-1", newline=None) as text:
            if text.read(len(_BOM)) != _BOM.decode("latin-1"):
                text.seek(0)
            yield Reading(OcrReader(text, path.name, today=today))
    else:
        with path.open("rb") as raw:
            yield Reading(CamtReader(raw, path.name))


def expected_transactions(path: Path) -> int | None:
    """How many transactions a file holds, cheaply, for a progress display: an OCR file's end
    record says; in camt, the transaction details are counted. None when it cannot be told."""
    with path.open("rb") as fh:
        head = fh.read(len(_BOM) + 6)
        if head.removeprefix(_BOM).startswith(b"NY0000"):
            fh.seek(max(0, path.stat().st_size - 400))
            found = re.findall(rb"NY000089(\d{8})", fh.read())
            return int(found[-1]) if found else None
        fh.seek(0)
        count, carry = 0, b""
        while block := fh.read(1 << 22):
            chunk = carry + block
            count += chunk.count(b"TxDtls>") - carry.count(b"TxDtls>")
            carry = chunk[-16:]
        return count // 2 or None  # an opening and a closing tag each


def parse_bytes(data: bytes, name: str = "file", *, today: date) -> ParsedFile:
    """A whole file from memory (refused whole on the first problem)."""
    fmt = detect_format(data[:4096], name)
    if fmt == "ocr":
        text = io.StringIO(data.removeprefix(_BOM).decode("latin-1"), newline=None)
        found = Reading(OcrReader(text, name, today=today))
    else:
        found = Reading(CamtReader(io.BytesIO(data), name))
    return found.parsed(list(found))


def parse_path(path: Path, *, today: date) -> ParsedFile:
    """A whole file from disk (streamed; refused whole on the first problem)."""
    with reading(path, today=today) as found:
        return found.parsed(list(found))


def parse_or_error(data: bytes, name: str = "fuzz", *, today: date) -> ParsedFile | BankFileError:
    """For fuzzing: the parsed file or the clear error; any other exception is a bug."""
    try:
        return parse_bytes(data, name, today=today)
    except BankFileError as exc:
        return exc
