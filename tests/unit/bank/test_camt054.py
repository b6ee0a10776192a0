"""camt.054 .02 to .08: fields, references, credit notes, reversals, totals, and XML attacks."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from connectors.bank.camt import rf_valid
from connectors.bank.files import parse_bytes, parse_path
from connectors.bank.transactions import BankFileError

TODAY = date(2026, 12, 7)  # places two-digit years in their century

FILES = Path(__file__).parent / "files"
V02 = (FILES / "sample_v02.xml").read_bytes()


def test_v02_sample_exact() -> None:
    parsed = parse_path(FILES / "sample_v02.xml", today=TODAY)
    assert [
        (t.amount_ore, t.kid, t.payer_name, t.payer_account, t.bank_reference, t.booking_date)
        for t in parsed.transactions
    ] == [
        (125000, "100230004572", "Ola Nordmann", "86011117947", "123456789", date(2025, 1, 15)),
        (49950, "100230004580", "Kari Nordmann AS", "12345678903", "987654321", date(2025, 1, 15)),
    ]
    assert parsed.control == {
        "version": "camt.054.001.02",
        "entries": 1,
        "transactions": 2,
        "total_ore": 174950,
        "skipped_not_booked": 0,
        "skipped_debit": 0,
    }


def test_same_payment_in_ocr_and_camt_has_the_same_key() -> None:
    ocr = parse_path(FILES / "sample.ocr", today=TODAY).transactions
    camt = parse_path(FILES / "sample_v02.xml", today=TODAY).transactions
    assert [t.natural_key() for t in ocr] == [t.natural_key() for t in camt]


def test_v08_messages_credit_notes_rf_pending_and_reversals() -> None:
    parsed = parse_path(FILES / "sample_v08.xml", today=TODAY)
    txs = parsed.transactions
    assert [
        (
            t.amount_ore,
            t.kid,
            t.message,
            t.is_credit_note,
            t.credit_note_ore,
            t.rf_reference,
            t.is_reversal,
        )
        for t in txs
    ] == [
        (220000, None, "Faktura 460 kundenr 10023", False, 0, None, False),
        (150000, "100230004598", None, True, 50000, None, False),
        (150000, None, None, False, 0, "RF18539007547034", False),
        (-30000, None, None, False, 0, None, True),
    ]
    assert (txs[0].payer_name, txs[0].payer_account, txs[0].value_date) == (
        "Sigrid Ødegård",
        "86011117947",
        date(2026, 3, 2),
    )
    assert (
        parsed.control["version"] == "camt.054.001.08" and parsed.control["skipped_not_booked"] == 1
    )
    assert parsed.notes() == ["1 entry not booked yet skipped"]


@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_versions_from_the_namespace(version: str) -> None:
    data = V02.replace(b"camt.054.001.02", f"camt.054.001.{version}".encode())
    assert parse_bytes(data, today=TODAY).control["version"] == f"camt.054.001.{version}"


def test_rf_check() -> None:
    assert rf_valid("RF18 5390 0754 7034") and rf_valid("RF18539007547034")
    assert not rf_valid("RF19539007547034")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ((b">1250.00<", b">1250.001<"), "Amt", "has fractions of an"),
        ((b">1250.00<", b">12x0.00<"), "Amt", "is not an amount"),
        ((b"<NbOfTxs>2<", b"<NbOfTxs>3<"), "Btch/NbOfTxs", "the batch says 3, the entry has 2"),
        (
            (b'<Amt Ccy="NOK">1749.50</Amt>', b'<Amt Ccy="NOK">1749.00</Amt>'),
            "Amt",
            "its transactions add up to 1749.5",
        ),
        (
            (b"<Dt>2025-01-15</Dt></BookgDt>", b"<Dt>2025-13-15</Dt></BookgDt>"),
            "BookgDt",
            "is not a date",
        ),
        ((b'camt.054.001.02"', b'camt.054.001.09"'), "namespace", "is not a version read"),
        ((b"</Document>", b""), "document", "refused"),
    ],
)
def test_broken_files_name_the_element_and_field(change, field, message) -> None:
    with pytest.raises(BankFileError) as err:
        parse_bytes(V02.replace(*change), "bad.xml", today=TODAY)
    assert err.value.field == field
    assert message in err.value.message


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn><Ntfctn><Ntry>
<Amt Ccy="NOK">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2025-01-15</Dt></BookgDt><AddtlNtryInf>&xxe;</AddtlNtryInf>
</Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><x>&lol3;</x></Document>"""


@pytest.mark.parametrize("attack", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_xml_attacks_are_refused(attack: bytes) -> None:
    with pytest.raises(BankFileError, match="refused") as err:
        parse_bytes(attack, "attack.xml", today=TODAY)
    assert "root:x:0" not in str(err.value)


def test_not_a_bank_file() -> None:
    with pytest.raises(BankFileError, match="neither an OCR Giro file"):
        parse_bytes(b"hello", "x.txt", today=TODAY)


def test_cli_contract(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from adapter.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["bank", "parse", str(FILES / "sample.ocr"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "ocr" and data["control"]["total_ore"] == 174950
    assert list(data["transactions"][0])[:6] == [
        "amount_ore",
        "kid",
        "booking_date",
        "payer_account",
        "bank_reference",
        "message",
    ]
    assert data["transactions"][0] | {} == data["transactions"][0]
    assert {
        k: data["transactions"][0][k]
        for k in ("amount_ore", "kid", "booking_date", "payer_account", "bank_reference", "message")
    } == {
        "amount_ore": 125000,
        "kid": "100230004572",
        "booking_date": "2025-01-15",
        "payer_account": "86011117947",
        "bank_reference": "123456789",
        "message": None,
    }
    broken = tmp_path / "broken.ocr"
    broken.write_text(
        (FILES / "sample.ocr")
        .read_text()
        .replace("0000000000174950150125000", "0000000000174951150125000")
    )
    result = runner.invoke(main, ["bank", "parse", str(broken), "--json"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "error: broken.ocr line 8, total amount: the record says 174951, the file has 174950"
    )
    assert runner.invoke(main, ["kid", "check", "100230004572"]).stdout.strip() == "MOD10"
    bad = runner.invoke(main, ["kid", "check", "100230004574"])
    assert (bad.exit_code, bad.stdout.strip()) == (1, "invalid")


def test_generated_files_parse_with_their_totals(tmp_path: Path) -> None:
    from connectors.bank.generate import plan_payments, write_file

    planned = list(plan_payments([], count=500, seed=3, credit_note_share=0.05))
    for fmt, version in (("ocr", "02"), ("camt054", "02"), ("camt054", "08")):
        path = tmp_path / f"g.{fmt}{version}"
        n = write_file(path, fmt, planned, on=date(2026, 3, 2), version=version)
        parsed = parse_path(path, today=TODAY)
        assert len(parsed.transactions) == n == 500 and parsed.skipped == {}
        notes = [(p, t) for p, t in zip(planned, parsed.transactions, strict=True) if p.credit_note]
        assert notes and all(t.is_credit_note for _, t in notes)
        if fmt == "ocr":  # a credit note is a transaction of its own, negative ('-')
            assert [t.amount_ore for _, t in notes] == [p.amount_ore for p, _ in notes]
        else:  # camt: a credit note is listed (CREN, CdtNoteAmt) with the payment it reduces
            assert [(t.amount_ore, t.credit_note_ore) for _, t in notes] == [
                (p.invoice_ore + p.amount_ore, -p.amount_ore) for p, _ in notes
            ]
        assert sum(t.amount_ore for t in parsed.transactions) == parsed.control["total_ore"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b'encoding="UTF-8"', b'encoding="bogus"'), "unknown encoding"),
        ((b'encoding="UTF-8"', b'encoding="UTF-7"'), "refused"),
        ((b">1250.00<", b">sNaN<"), "is not an amount"),
        ((b">1250.00<", b">1e999999<"), "is not an amount"),
        ((b">1250.00<", b">-1250.00<"), "is not an amount"),
    ],
    ids=["unknown-encoding", "utf-7", "snan", "huge-exponent", "negative"],
)
def test_inputs_found_by_the_fuzz_run_are_refused_clearly(change, message) -> None:
    data = V02.replace(*change, 1)
    assert data != V02, "the sample no longer has the text this test changes"
    with pytest.raises(BankFileError) as err:
        parse_bytes(data, "fuzz.xml", today=TODAY)
    assert message in str(err.value)
