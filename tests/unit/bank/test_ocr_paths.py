"""The OCR reader's two paths give one result: a stream read in blocks (well-formed transactions
matched by one pattern) and the same lines one at a time. Valid files give the same
transactions and totals; broken ones the same error, to the line and the word."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.bank import ocr
from connectors.bank.generate import Planned, write_ocr
from connectors.bank.kid import make_kid
from connectors.bank.ocr import OcrReader
from connectors.bank.transactions import BankFileError

TODAY = date(2026, 12, 7)  # places two-digit years in their century

ON = date(2026, 5, 4)
NAMES = st.text(alphabet="abcÆØÅæøå -.0123456789", max_size=40)


@st.composite
def payments(draw: st.DrawFn) -> list[Planned]:
    """Payments with and without KIDs, messages with Latin-1 letters, credit notes."""
    out = []
    for n in range(draw(st.integers(0, 12))):
        kid = draw(st.one_of(st.none(), st.integers(1, 10**12).map(lambda i: make_kid(str(i)))))
        out.append(
            Planned(
                draw(st.integers(1, 10**9)),
                kid,
                draw(NAMES) if kid is None else None,
                draw(st.one_of(st.none(), st.just("86011117947"))),
                None,
                f"{700000000 + n:09d}",
                draw(st.booleans()),
            )
        )
    # Credit notes count negative in the end records' totals, which cannot be below zero.
    if sum(-p.amount_ore if p.credit_note else p.amount_ore for p in out) < 0:
        out = [dataclasses.replace(p, credit_note=False) for p in out]
    return out


@st.composite
def ocr_texts(draw: st.DrawFn) -> str:
    """A generated file, some types turned into reversals and others (control totals add
    reversals, so they still hold), with CRLF and trailing spaces on some lines."""
    out = io.StringIO()
    write_ocr(out, draw(payments()), on=ON)
    lines = out.getvalue().splitlines()
    renamed = {
        "10": draw(st.sampled_from(["10", "13", "18", "19"])),
        "21": draw(st.sampled_from(["20", "21"])),
    }
    ends = st.sampled_from(["\n", "\r\n", "  \n", " \r\n"])
    text = ""
    for line in lines:
        if line[6:8] in ("30", "31", "32"):
            line = line[:4] + renamed[line[4:6]] + line[6:]
        text += line + draw(ends)
    return text


def read(source: Any) -> tuple[list[Any], dict[str, Any]] | str:
    """Transactions and control totals, or the error."""
    reader = OcrReader(source, "test.ocr", today=TODAY)
    try:
        return list(reader), reader.control
    except BankFileError as exc:
        return str(exc)


def both_ways(text: str, newline: str | None) -> tuple[Any, Any]:
    """The result through blocks (a stream) and through lines (a list, which has no `read`)."""
    return read(io.StringIO(text, newline=newline)), read(
        io.StringIO(text, newline=newline).readlines()
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(ocr_texts(), st.sampled_from([None, "\n"]), st.sampled_from([7, 200, 1 << 16]))
def test_valid_files_read_the_same_both_ways(text: str, newline: str | None, block: int) -> None:
    # Small blocks: transactions cross block ends and wait for the next block.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ocr, "_BLOCK_CHARS", block)
        blocks, lines = both_ways(text, newline)
    assert not isinstance(lines, str), lines
    assert blocks == lines


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(
    ocr_texts(),
    st.integers(0, 10_000),
    st.integers(0, 83),
    st.sampled_from(["0", "9", " ", "-", "x", "²", "\r", "\n", "\r\n", "", "3", "Ø", "\t"]),
    st.integers(0, 3),
    st.sampled_from([None, "\n"]),
)
def test_changed_files_read_the_same_both_ways(
    text: str, line: int, column: int, new: str, delete: int, newline: str | None
) -> None:
    # A change inside a record: a line, a column, a few characters replaced or inserted.
    starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]
    pos = min(starts[line % len(starts)] + column, len(text))
    changed = text[:pos] + new + text[pos + delete :]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ocr, "_BLOCK_CHARS", 200)
        blocks, lines = both_ways(changed, newline)
    assert blocks == lines


def test_the_block_path_takes_well_formed_transactions_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The point of the pattern: only the start and end records go line by line.
    out = io.StringIO()
    planned = [
        Planned(100 + n, make_kid(f"{n + 1:06d}"), None, None, None, f"{n:09d}") for n in range(50)
    ]
    write_ocr(out, planned, on=ON)
    seen: list[str] = []
    record = OcrReader._record

    def spy(self: OcrReader, raw: str) -> Any:
        seen.append(raw)
        return record(self, raw)

    monkeypatch.setattr(OcrReader, "_record", spy)
    reader = OcrReader(io.StringIO(out.getvalue()), today=TODAY)
    txs = list(reader)
    assert len(txs) == reader.control["transactions"] == 50
    assert [line[6:8] for line in seen] == ["10", "20", "88", "89"]


def _file_with(change: str) -> str:
    """A file of five payments with one change to the third transaction's items."""
    out = io.StringIO()
    planned = [
        Planned(1000 + n, make_kid(f"{n + 1:06d}"), None, "86011117947", None, f"{n:09d}")
        for n in range(5)
    ]
    write_ocr(out, planned, on=ON)
    lines = out.getvalue().split("\n")
    item1, item2 = 6, 7  # lines 7 and 8: the third transaction
    kid_at = 49 + 25 - len(planned[2].kid or "")
    edits = {
        "KID with a dash inside": (item1, kid_at + 3, "-"),
        "KID with a space inside": (item1, kid_at + 3, " "),
        "MOD11 KID ending in a dash": (item1, 73, "-"),
        "left-aligned KID": (item1, 49, (planned[2].kid or "").ljust(25)),
        "no Nets date": (item1, 15, "000000"),
        "Nets date 31 February": (item1, 15, "310226"),
        "bank date 30 February": (item2, 41, "300226"),
        "CR as the 80th character": (item1, 79, "\r"),
        "CR and trailing spaces": (item1, 79, "\r  "),
        "79 characters, then an empty line": (item1, 79, "\n"),
        "tab after the record": (item2, 80, "\t"),
        "superscript digit in the account": (item2, 50, "²"),
        "superscript digit in the KID": (item1, kid_at + 1, "²"),
        "zero account": (item2, 47, "0" * 11),
        "item 2 of another type": (item2, 4, "13"),
    }
    line, column, text = edits[change]
    lines[line] = lines[line][:column] + text + lines[line][column + len(text) :]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "change",
    [
        "KID with a dash inside",
        "KID with a space inside",
        "MOD11 KID ending in a dash",
        "left-aligned KID",
        "no Nets date",
        "Nets date 31 February",
        "bank date 30 February",
        "CR as the 80th character",
        "CR and trailing spaces",
        "79 characters, then an empty line",
        "tab after the record",
        "superscript digit in the account",
        "superscript digit in the KID",
        "zero account",
        "item 2 of another type",
    ],
)
def test_edge_cases_read_the_same_both_ways(change: str) -> None:
    blocks, lines = both_ways(_file_with(change), "\n")
    assert blocks == lines
