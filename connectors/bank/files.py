"""Bank files as a whole: detect the format, read it completely, refuse it whole when broken."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import IO

from connectors.bank.camt import READS, CamtReader, refuse_namespace
from connectors.bank.ocr import OcrReader
from connectors.bank.transactions import BankFileError, ParsedFile

_XMLNS = re.compile(rb'xmlns(?::\w+)?\s*=\s*["\'](urn:iso:std:iso:20022:tech:xsd:[^"\']+)["\']')


def detect_format(head: bytes, name: str = "file") -> str:
    """'ocr' or 'camt' from a file's first bytes; anything else is refused, named when known."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
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


def _read(fmt: str, raw: IO[bytes], text: IO[str] | None, name: str, today: date) -> ParsedFile:
    if fmt == "ocr":
        assert text is not None
        reader = OcrReader(text, name, today=today)
        transactions = list(reader)
        return ParsedFile("ocr", transactions, reader.control, warnings=reader.warnings)
    camt = CamtReader(raw, name)
    transactions = list(camt)
    return ParsedFile(camt.format, transactions, camt.control, skipped=dict(camt.skipped))


def parse_bytes(data: bytes, name: str = "file", *, today: date) -> ParsedFile:
    """A whole file from memory (refused whole on the first problem)."""
    fmt = detect_format(data[:4096], name)
    text = io.StringIO(data.decode("latin-1"), newline=None) if fmt == "ocr" else None
    return _read(fmt, io.BytesIO(data), text, name, today)


def parse_path(path: Path, *, today: date) -> ParsedFile:
    """A whole file from disk (streamed; refused whole on the first problem)."""
    with path.open("rb") as fh:
        fmt = detect_format(fh.read(4096), path.name)
    with path.open("rb") as raw:
        if fmt == "ocr":
            with path.open(encoding="latin-1", newline=None) as text:
                return _read(fmt, raw, text, path.name, today)
        return _read(fmt, raw, None, path.name, today)


def parse_or_error(data: bytes, name: str = "fuzz", *, today: date) -> ParsedFile | BankFileError:
    """For fuzzing: the parsed file or the clear error; any other exception is a bug."""
    try:
        return parse_bytes(data, name, today=today)
    except BankFileError as exc:
        return exc
