"""Bank files as a whole: detect the format, read it completely, refuse it whole when broken."""

from __future__ import annotations

import io
from pathlib import Path

from connectors.bank.camt054 import Camt054Reader
from connectors.bank.ocr import OcrReader
from connectors.bank.transactions import BankFileError, ParsedFile


def detect_format(head: bytes, name: str = "file") -> str:
    """'ocr' or 'camt054' from a file's first bytes."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"NY0000"):
        return "ocr"
    if text.startswith(b"<") and b"camt.054" in head[:4096]:
        return "camt054"
    raise BankFileError(
        name,
        "start",
        "format",
        "neither an OCR Giro file (starting NY0000) nor a camt.054 XML document",
    )


def parse_bytes(data: bytes, name: str = "file") -> ParsedFile:
    """A whole file from memory (refused whole on the first problem)."""
    fmt = detect_format(data[:4096], name)
    if fmt == "ocr":
        reader = OcrReader(io.StringIO(data.decode("latin-1"), newline=None), name)
        return ParsedFile("ocr", list(reader), reader.control)
    camt = Camt054Reader(io.BytesIO(data), name)
    return ParsedFile("camt054", list(camt), camt.control)


def parse_path(path: Path) -> ParsedFile:
    """A whole file from disk (streamed; refused whole on the first problem)."""
    with path.open("rb") as fh:
        fmt = detect_format(fh.read(4096), path.name)
    if fmt == "ocr":
        with path.open(encoding="latin-1", newline=None) as text:
            reader = OcrReader(text, path.name)
            return ParsedFile("ocr", list(reader), reader.control)
    with path.open("rb") as raw:
        camt = Camt054Reader(raw, path.name)
        return ParsedFile("camt054", list(camt), camt.control)


def parse_or_error(data: bytes, name: str = "fuzz") -> ParsedFile | BankFileError:
    """For fuzzing: the parsed file or the clear error; any other exception is a bug."""
    try:
        return parse_bytes(data, name)
    except BankFileError as exc:
        return exc
