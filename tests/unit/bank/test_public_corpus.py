"""Real files from other projects' test suites (tests/fixtures/bank/public, SOURCES.md there),
read by our readers and checked against an independent reader: netsgiro for OCR Giro, a plain
ElementTree walk for camt."""

from __future__ import annotations

import re
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
    øre, negative for a reversal (a debit entry with RvslInd true), currency, booking date,
    debtor name, debtor IBAN, references), and the number of debit entries."""
    root = ET.parse(PUBLIC / name).getroot()
    ns = {"c": root.tag[1:].split("}")[0]}
    out, debits = [], 0
    for ntry in root.iterfind(".//c:Ntry", ns):
        reversal = ntry.findtext("c:RvslInd", namespaces=ns) == "true"
        if ntry.findtext("c:CdtDbtInd", namespaces=ns) == "DBIT" and not reversal:
            debits += 1
            continue
        status = ntry.findtext("c:Sts/c:Cd", namespaces=ns) or ntry.findtext("c:Sts", namespaces=ns)
        if status.strip() != "BOOK":
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
                    int(Decimal(amt.text) * 100) * (-1 if reversal else 1),
                    amt.get("Ccy"),
                    date.fromisoformat(booked),
                    tx.findtext("c:RltdPties/c:Dbtr/c:Nm", namespaces=ns)
                    or tx.findtext("c:RltdPties/c:Dbtr/c:Pty/c:Nm", namespaces=ns),  # .08
                    tx.findtext("c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", namespaces=ns),
                    [r.text for r in tx.iterfind("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns)],
                )
            )
    return out, debits


def ours(name: str) -> list[tuple]:
    """Our reader's transactions in `walk_credits`' shape."""
    return [
        (
            t.amount_ore,
            t.currency,
            t.booking_date,
            t.payer_name,
            t.payer_account,
            [r.value for r in t.references],
        )
        for t in parse_path(PUBLIC / name, today=TODAY).transactions
    ]


CAMT_CREDITS = [
    "genkgo_camt053.v2.minimal.xml",
    "genkgo_camt054.v2.xml",
    "viafintech_camt054.xml",
    "viafintech_camt053.v4.xml",
    "viafintech_camt053.v8.xml",
]


@pytest.mark.parametrize("name", CAMT_CREDITS)
def test_camt_files_read_as_a_plain_walk_reads_them(name: str) -> None:
    expected, debits = walk_credits(name)
    assert ours(name) == expected
    assert parse_path(PUBLIC / name, today=TODAY).skipped == ({"debit": debits} if debits else {})


def test_camt053_statement_credit_entries_are_read() -> None:
    parsed = parse_path(PUBLIC / "genkgo_camt053.v2.minimal.xml", today=TODAY)
    assert parsed.format == "camt053"
    assert ours("genkgo_camt053.v2.minimal.xml") == [
        (885, "EUR", date(2014, 12, 31), "NAME NAME", "NL56AGDH9619008421", ["4654654654654654"])
    ]


def test_a_swiss_notification_with_reversals() -> None:
    """viafintech's camt.054: three CHF credits and two reversals of earlier credits (debit
    entries with RvslInd true: negative, not skipped)."""
    parsed = parse_path(PUBLIC / "viafintech_camt054.xml", today=TODAY)
    assert parsed.format == "camt054" and parsed.skipped == {}
    assert {t.currency for t in parsed.transactions} == {"CHF"}
    assert [(t.amount_ore, t.is_reversal) for t in parsed.transactions] == [
        (1500, False),
        (900, False),
        (5656, False),
        (-600, True),
        (-1553, True),
    ]


def _mod10_recursive(ref: str) -> bool:
    """The Swiss QR/ISR reference's check digit, written out here as its specification has it."""
    carry = 0
    for digit in ref[:-1]:
        carry = [0, 9, 4, 6, 8, 2, 7, 1, 3, 5][(carry + int(digit)) % 10]
    return (10 - carry) % 10 == int(ref[-1])


def test_qr_and_rf_references_of_real_statements_are_kept_with_their_kinds() -> None:
    """viafintech's camt.053 .04: 27-digit Swiss ISR/QR references (Prtry 'ISR Reference') and
    one that is not a reference at all ('CreditorReference', kept as other); its .08: an ISO
    11649 RF reference (SCOR)."""
    v4 = parse_path(PUBLIC / "viafintech_camt053.v4.xml", today=TODAY)
    kinds = [(r.kind, r.value) for t in v4.transactions for r in t.references]
    assert ("other", "CreditorReference") in kinds
    qrr = [value for kind, value in kinds if kind == "QRR"]
    assert len(qrr) == 9 and all(len(v) == 27 and _mod10_recursive(v) for v in qrr)
    assert len(kinds) == 10
    assert v4.skipped == {"debit": 6}
    v8 = parse_path(PUBLIC / "viafintech_camt053.v8.xml", today=TODAY)
    ref = "RF38000000000000000000552"
    moved = ref[4:] + ref[:4]
    assert int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1  # ISO 11649's check
    assert [[(r.kind, r.value) for r in t.references] for t in v8.transactions] == [
        [],
        [("RF", ref)],
    ]
    assert [t.structured() for t in v8.transactions][1] == (("RF", ref),)


def test_camt054_debit_entries_are_skipped_and_counted() -> None:
    """An outgoing payment: its transactions have no amounts of their own and its booking date
    is a DtTm; it is skipped whole, whatever it lacks, and counted."""
    parsed = parse_path(PUBLIC / "genkgo_camt054.v2.xml", today=TODAY)
    expected, debits = walk_credits("genkgo_camt054.v2.xml")
    assert (parsed.transactions, expected, debits) == ([], [], 1)
    assert parsed.skipped == {"debit": 1}
    assert parsed.notes() == ["1 debit entry skipped"]


def test_every_file_has_its_source_and_licence_noted() -> None:
    """SOURCES.md has a row for each file: its name, where it was copied from (repository,
    path, commit) and its licence."""
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in (PUBLIC / "SOURCES.md").read_text().splitlines()
        if line.startswith("| `")
    }
    files = {p.name for p in PUBLIC.iterdir()} - {"SOURCES.md"}
    assert files == set(rows)
    for row in rows.values():
        _, _, source, licence, _what, _ = row.split("|")
        assert re.search(r"[\w.-]+/[\w.-]+[^`|]*, `[^`]+`, [0-9a-f]{40}", source), row
        assert "MIT" in licence or "Apache-2.0" in licence, row
