"""Real files from other projects' test suites (tests/fixtures/bank/public, SOURCES.md there),
read by our readers and checked against an independent reader: netsgiro for OCR Giro, a plain
ElementTree walk for camt."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path

import netsgiro
import pytest

from connectors.bank.files import parse_bytes, parse_path
from connectors.bank.transactions import BankFileError

PUBLIC = Path(__file__).parents[2] / "fixtures" / "bank" / "public"
TODAY = date(2026, 12, 7)
OCR_FILES = ["netsgiro_ocr_giro_transactions.txt", "nets_spec_ocr1.txt"]


def netsgiro_view(name: str) -> list[tuple]:
    """What netsgiro reads: amount in øre (the sign field applied), KID, Nets date, bank
    date, payer account, archive reference, free text."""
    transmission = netsgiro.parse((PUBLIC / name).read_text(encoding="iso-8859-1"))
    return [
        (
            int(tx.amount * 100) * (-1 if tx.sign == "-" else 1),
            tx.kid,
            tx.date,
            tx.bank_date,
            None if tx.debit_account in (None, "00000000000") else tx.debit_account,
            tx.reference,
            tx.text,
        )
        for assignment in transmission.assignments
        for tx in assignment.transactions
    ]


@pytest.mark.parametrize("name", OCR_FILES)
def test_ocr_files_read_as_netsgiro_reads_them(name: str) -> None:
    parsed = parse_path(PUBLIC / name, today=TODAY)
    ours = [
        (
            t.amount_ore,
            t.kid,
            t.booking_date,
            t.value_date,
            t.payer_account,
            t.bank_reference,
            t.message,
        )
        for t in parsed.transactions
    ]
    assert ours == netsgiro_view(name)
    assert parsed.warnings == []


def test_two_digit_years_are_never_far_in_the_future() -> None:
    parsed = parse_path(PUBLIC / "netsgiro_ocr_giro_transactions.txt", today=TODAY)
    assert {t.booking_date for t in parsed.transactions} == {date(1992, 1, 20)}
    assert parsed.control["nets_date"] == "1992-01-20"
    # The pivot moves with today: the same file read in 1995 is still from 1992.
    again = parse_path(PUBLIC / "netsgiro_ocr_giro_transactions.txt", today=date(1995, 1, 1))
    assert again.transactions[0].booking_date == date(1992, 1, 20)


def test_nets_example_nets_credit_notes_in_its_total() -> None:
    """The spec's own example: three '-' transactions (credit notes) are subtracted in the
    end records' total (15 630,00 = 19 930,00 - 2 x 2 150,00)."""
    parsed = parse_path(PUBLIC / "nets_spec_ocr1.txt", today=TODAY)
    assert parsed.control["total_ore"] == 1_563_000
    assert [t.amount_ore for t in parsed.transactions if t.is_credit_note] == [
        -25_000,
        -40_000,
        -150_000,
    ]
    assert sum(t.amount_ore for t in parsed.transactions) == 1_563_000


def test_a_date_summary_that_disagrees_is_a_warning() -> None:
    data = (PUBLIC / "netsgiro_ocr_giro_transactions.txt").read_bytes()
    # The end of assignment's "latest Nets date" moved a day on; amounts and counts still add up.
    end = b"NY090088000000200000004300000000005144900200192200192200192"
    assert data.count(end) == 1
    parsed = parse_bytes(data.replace(end, end[:-6] + b"210192"), "late.ocr", today=TODAY)
    assert len(parsed.transactions) == 20
    assert parsed.warnings == [
        "late.ocr line 44, latest Nets date: the record says 1992-01-21, "
        "the transactions give 1992-01-20"
    ]


def test_amount_totals_stay_strict() -> None:
    data = (PUBLIC / "netsgiro_ocr_giro_transactions.txt").read_bytes()
    broken = data.replace(
        b"NY000089000000200000004500000000005144900", b"NY000089000000200000004500000000005144901"
    )
    with pytest.raises(BankFileError, match="line 45, total amount: the record says 5144901"):
        parse_bytes(broken, "x.ocr", today=TODAY)


def test_avtalegiro_is_refused_by_name() -> None:
    with pytest.raises(BankFileError) as caught:
        parse_path(PUBLIC / "netsgiro_avtalegiro_payment_request.txt", today=TODAY)
    message = str(caught.value)
    assert "AvtaleGiro" in message and "OCR Giro" in message and "camt.054" in message


def test_camt052_is_refused_by_name() -> None:
    with pytest.raises(BankFileError) as caught:
        parse_path(PUBLIC / "genkgo_camt052.v6.Amt-zero.xml", today=TODAY)
    message = str(caught.value)
    assert "camt.052" in message and "account report" in message
    assert "camt.053" in message and "camt.054" in message


# -- camt, against a plain walk ------------------------------------------------------------


def walk_credits(name: str) -> tuple[list[tuple], int]:
    """Booked credit entries' transactions as a plain ElementTree walk sees them (amount in
    øre, currency, booking date, debtor name, debtor IBAN, references), and the number of
    debit entries."""
    root = ET.parse(PUBLIC / name).getroot()
    ns = {"c": root.tag[1:].split("}")[0]}
    out, debits = [], 0
    for ntry in root.iterfind(".//c:Ntry", ns):
        if ntry.findtext("c:CdtDbtInd", namespaces=ns) == "DBIT":
            debits += 1
            continue
        booked = ntry.findtext("c:BookgDt/c:Dt", namespaces=ns)
        for tx in ntry.iterfind("c:NtryDtls/c:TxDtls", ns):
            amt = tx.find("c:Amt", ns)
            if amt is None:
                amt = tx.find("c:AmtDtls/c:TxAmt/c:Amt", ns)
            if amt is None:
                amt = ntry.find("c:Amt", ns)
            out.append(
                (
                    int(Decimal(amt.text) * 100),
                    amt.get("Ccy"),
                    date.fromisoformat(booked),
                    tx.findtext("c:RltdPties/c:Dbtr/c:Nm", namespaces=ns),
                    tx.findtext("c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", namespaces=ns),
                    [r.text for r in tx.iterfind("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns)],
                )
            )
    return out, debits


def test_camt053_statement_credit_entries_are_read() -> None:
    parsed = parse_path(PUBLIC / "genkgo_camt053.v2.minimal.xml", today=TODAY)
    assert parsed.format == "camt053"
    ours = [
        (
            t.amount_ore,
            t.currency,
            t.booking_date,
            t.payer_name,
            t.payer_account,
            [r.value for r in t.references],
        )
        for t in parsed.transactions
    ]
    expected, debits = walk_credits("genkgo_camt053.v2.minimal.xml")
    assert (
        ours
        == expected
        == [
            (
                885,
                "EUR",
                date(2014, 12, 31),
                "NAME NAME",
                "NL56AGDH9619008421",
                ["4654654654654654"],
            )
        ]
    )
    assert debits == 0


def test_camt054_debit_entries_are_skipped_and_counted() -> None:
    """An outgoing payment: its transactions have no amounts of their own and its booking date
    is a DtTm; it is skipped whole, whatever it lacks, and counted."""
    parsed = parse_path(PUBLIC / "genkgo_camt054.v2.xml", today=TODAY)
    expected, debits = walk_credits("genkgo_camt054.v2.xml")
    assert (parsed.transactions, expected, debits) == ([], [], 1)
    assert parsed.skipped == {"debit": 1}
    assert parsed.notes() == ["1 debit entry skipped"]
