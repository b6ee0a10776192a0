"""Bank import of real and awkward files on SQLite and PostgreSQL: currencies, camt.053 next to
camt.054, debit entries, structured references, and every refused file as one line, exit 2,
nothing written."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapter.domain import Customer, DebtorKind, Invoice, Kid, Money
from adapter.flows import bank_import
from adapter.store.tables import audit_log, bank_files, outbox
from adapter.store.tables import payments as payments_table

PUBLIC = Path(__file__).parents[2] / "fixtures" / "bank" / "public"
FILES = Path(__file__).parents[2] / "unit" / "bank" / "files"
V02 = (FILES / "sample_v02.xml").read_text()


def customer_with_invoice(db, company_id, name: str, amount: int, kid: str | None) -> int:
    with db.uow(company_id) as uow:
        who = uow.customers.add(
            Customer(None, company_id, name, DebtorKind.BUSINESS, external_id=f"c-{name}")
        )
        invoice = uow.invoices.add(
            Invoice(
                None,
                company_id,
                who.id,
                "457",
                date(2014, 12, 1),
                date(2014, 12, 15),
                Money(amount),
                Money(amount),
                kid=Kid(kid) if kid else None,
                external_id="9457",
            )
        )
        uow.commit()
    assert invoice.id is not None
    return invoice.id


def count(db, table) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_statement_in_euros_is_not_matched_to_a_krone_invoice(db, company_id) -> None:
    """genkgo's camt.053: EUR 8,85 from NAME NAME. The customer NAME NAME owes exactly 8,85 kr:
    payer and amount agree, but the currencies do not, so it stays unmatched (it matched before)
    with that reason (it said 'wrong_kid': its reference is no KID of ours)."""
    invoice = customer_with_invoice(db, company_id, "NAME NAME", 885, None)
    summary = bank_import.import_file(
        db, company_id, PUBLIC / "genkgo_camt053.v2.minimal.xml", actor="test"
    )
    assert (summary.format, summary.payments, dict(summary.matched)) == ("camt053", 1, {})
    assert summary.unmatched == {"currency": 1}
    with db.uow(company_id) as uow:
        assert uow.invoices.get(invoice).outstanding.ore == 885
        [payment] = uow.payments.recent()
    assert payment.unmatched_reason == "currency"
    assert (payment.currency, payment.amount.ore, payment.references) == (
        "EUR",
        885,
        "KID 4654654654654654",
    )
    assert count(db, outbox) == 0


def test_a_payment_in_another_currency_than_its_invoice_is_unmatched(
    db, company_id, tmp_path
) -> None:
    invoice = customer_with_invoice(db, company_id, "Ola Nordmann", 125_000, "100230004572")
    path = tmp_path / "eur.xml"
    path.write_text(V02.replace('Ccy="NOK"', 'Ccy="EUR"'))
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert summary.unmatched == {"currency": 1, "wrong_kid": 1}
    with db.uow(company_id) as uow:
        assert uow.invoices.get(invoice).outstanding.ore == 125_000
        reasons = {p.kid: p.unmatched_reason for p in uow.payments.recent()}
    assert reasons["100230004572"] == "currency"


def test_debit_entries_are_skipped_and_reported(db, company_id, cli) -> None:
    result = cli(
        "--language",
        "en",
        "bank",
        "import",
        str(PUBLIC / "genkgo_camt054.v2.xml"),
        "--company",
        str(company_id),
    )
    assert result.exit_code == 0, result.output
    assert "genkgo_camt054.v2.xml (camt054): 0 payments" in result.stdout
    assert "  1 debit entry skipped" in result.stdout
    assert count(db, payments_table) == 0
    with db.engine.connect() as conn:
        line = conn.execute(
            select(audit_log.c.message).where(audit_log.c.action == "bank.import")
        ).scalar_one()
    assert line.endswith("1 debit entry skipped")


def statement(notification: str) -> str:
    """The same payments as an account statement (camt.053) would list them."""
    return (
        notification.replace("camt.054.001.02", "camt.053.001.02")
        .replace("BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt")
        .replace("Ntfctn>", "Stmt>")
    )


@pytest.mark.parametrize("first", ["camt054", "camt053"])
def test_the_same_payments_in_a_statement_and_a_notification_count_once(
    db, company_id, tmp_path, first
) -> None:
    customer_with_invoice(db, company_id, "Ola Nordmann", 125_000, "100230004572")
    notification, stmt = tmp_path / "n.xml", tmp_path / "s.xml"
    notification.write_text(V02)
    stmt.write_text(statement(V02))
    order = [notification, stmt] if first == "camt054" else [stmt, notification]
    one = bank_import.import_file(db, company_id, order[0], actor="test")
    two = bank_import.import_file(db, company_id, order[1], actor="test")
    assert (one.payments, one.matched) == (2, {"kid": 1})
    assert (two.payments, two.duplicates) == (0, 2)
    assert {one.format, two.format} == {"camt053", "camt054"}
    assert count(db, payments_table) == 2 and count(db, outbox) == 1


@pytest.mark.parametrize("first", ["camt054", "camt053"])
def test_real_files_a_notification_and_a_statement_of_the_same_payments_count_once(
    db, company_id, first
) -> None:
    """viafintech's camt.054 (3 credits, 2 reversals) and its camt.053 .04, a statement whose
    last five transactions are those same payments (the same AcctSvcrRef and amounts)."""
    files = {"camt054": "viafintech_camt054.xml", "camt053": "viafintech_camt053.v4.xml"}
    transactions = {"camt054": 5, "camt053": 26}
    order = ["camt054", "camt053"] if first == "camt054" else ["camt053", "camt054"]
    one, two = (
        bank_import.import_file(db, company_id, PUBLIC / files[kind], actor="test")
        for kind in order
    )
    assert (one.payments, one.duplicates) == (transactions[order[0]], 0)
    assert (two.payments, two.duplicates) == (transactions[order[1]] - 5, 5)
    assert count(db, payments_table) == 26


def test_every_structured_reference_is_kept_and_shown(db, company_id, tmp_path, cli) -> None:
    refs = (
        "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
        "<Ref>RF18 5390 0754 7034</Ref></CdtrRefInf></Strd>"
        "<Strd><CdtrRefInf><Tp><CdOrPrtry><Prtry>QRR</Prtry></CdOrPrtry></Tp>"
        "<Ref>210000000003139471430009017</Ref></CdtrRefInf></Strd>"
        "<Strd><CdtrRefInf><Ref>RF19 5390 0754 7034</Ref></CdtrRefInf></Strd>"
    )
    path = tmp_path / "refs.xml"
    path.write_text(V02.replace("<RmtInf><Strd>", f"<RmtInf>{refs}<Strd>", 1))
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert summary.payments == 2
    listed = json.loads(cli("payment", "list", "--company", str(company_id), "--json").stdout)
    assert [p["references"] for p in listed] == [
        "KID 100230004580",
        "RF RF18539007547034; QRR 210000000003139471430009017; other RF19 5390 0754 7034; "
        "KID 100230004572",
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.ocr", b"NY00001 broken\n", "broken.ocr line 1, record: is 14 characters"),
        ("empty.ocr", b"", "empty.ocr start, format: the file is empty"),
        (
            "binary.bin",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "binary.bin start, format: this is a binary file",
        ),
        (
            "notes.txt",
            b"Husk: betal faktura 457\n",
            "notes.txt start, format: this is neither an OCR Giro",
        ),
        (
            "report.xml",
            (PUBLIC / "genkgo_camt052.v6.Amt-zero.xml").read_bytes(),
            "camt.052 account report",
        ),
        (
            "claims.txt",
            (PUBLIC / "netsgiro_avtalegiro_payment_request.txt").read_bytes(),
            "AvtaleGiro",
        ),
        (
            "pain.xml",
            b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
            "payment order",
        ),
    ],
)
def test_refused_files_give_one_line_and_exit_2(
    db, company_id, cli, tmp_path, name, content, message
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("bank", "import", str(path), "--company", str(company_id))
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {name} ") and message in line
    assert count(db, bank_files) == 0 and count(db, payments_table) == 0
    assert count(db, audit_log) == 0


@pytest.mark.parametrize("command", ["import", "parse"])
@pytest.mark.parametrize(
    ("given", "nb", "en"),
    [
        ("folder", "folder: er en mappe, ikke en fil", "folder: is a folder, not a file"),
        ("gone.ocr", "gone.ocr: finnes ikke", "gone.ocr: no such file"),
    ],
)
def test_a_folder_or_a_missing_path_gives_one_line_and_exit_2(
    db, company_id, cli, tmp_path, command, given, nb, en
) -> None:
    """Click's usage text was four lines ('Usage: ... Error: Invalid value for FILE')."""
    (tmp_path / "folder").mkdir()
    args = ["bank", command, str(tmp_path / given)]
    args += ["--company", str(company_id)] if command == "import" else []
    for language, message in (("nb", nb), ("en", en)):
        result = cli("--language", language, *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line == f"error: {message}"
    assert count(db, bank_files) == 0 and count(db, audit_log) == 0


def test_the_progress_has_its_total_from_the_start_and_names_the_publish(db, company_id) -> None:
    """The display showed '0/?' while the open claims were read, then 'N/N, 0:00:00 left' for
    the whole publish (at 100,000 payments: 2 s of reading, then 5 s standing still)."""
    calls: list[tuple] = []
    bank_import.import_file(
        db,
        company_id,
        PUBLIC / "nets_spec_ocr1.txt",
        actor="test",
        progress=lambda *call: calls.append(call),
    )
    assert calls[0] == (0, 23)
    assert calls[-2] == (23, 23)
    done, total, step = calls[-1]
    assert (done, total, step.msgid) == (23, None, "publishing")


def test_the_import_report_is_in_bokmal_by_default_and_english_on_request(
    db, company_id, tmp_path, cli
) -> None:
    """The report's reasons were English whatever the language ('unmatched, paid in another
    currency than the invoice: 1'), from a table of their own beside the catalogue's."""
    customer_with_invoice(db, company_id, "Ola Nordmann", 125_000, "100230004572")
    eur = tmp_path / "eur.xml"
    eur.write_text(V02.replace('Ccy="NOK"', 'Ccy="EUR"'))
    result = cli("bank", "import", str(eur), "--company", str(company_id))
    assert result.exit_code == 0, result.output
    head, *lines = result.stdout.splitlines()
    assert head == "eur.xml (camt054): 2 innbetalinger, 1\xa0749,50 EUR"  # was "1 749,50 kr"
    assert lines == [
        "  ikke avstemt, betalt i en annen valuta enn fakturaen: 1",
        "  ikke avstemt, feil KID: ingen åpen faktura har denne: 1",
    ]
    listed = cli("payment", "list", "--company", str(company_id)).stdout
    assert "betalt i en annen valuta enn fakturaen" in listed
    again = cli("--language", "en", "bank", "import", str(eur), "--company", str(company_id))
    assert again.stdout == "eur.xml was imported before: nothing added\n"
    listed = cli("--language", "en", "payment", "list", "--company", str(company_id)).stdout
    assert "paid in another currency than the invoice" in listed
    genkgo = cli(
        "bank", "import", str(PUBLIC / "genkgo_camt054.v2.xml"), "--company", str(company_id)
    )
    assert "  1 utgående postering hoppet over" in genkgo.stdout.splitlines()
    parsed = cli("--language", "en", "bank", "parse", str(PUBLIC / "genkgo_camt054.v2.xml"))
    assert "1 debit entry skipped" in parsed.stdout.splitlines()


def test_parse_says_it_in_bokmal_by_default_the_date_warning_too(
    db, company_id, cli, tmp_path
) -> None:
    """netsgiro's real file with its end record's latest date moved a day on: `bank parse`
    reads it and warns, in the command's language (its lines were English whatever it was)."""
    data = (PUBLIC / "netsgiro_ocr_giro_transactions.txt").read_bytes()
    end = b"NY090088000000200000004300000000005144900200192200192200192"
    late = tmp_path / "late.ocr"
    late.write_bytes(data.replace(end, end[:-6] + b"210192"))
    result = cli("bank", "parse", str(late))
    assert result.exit_code == 0
    assert "dato" in result.stdout.splitlines()[1] and "beløp" in result.stdout.splitlines()[1]
    assert "ocr: 20 transaksjoner, 51 449,00 kr; kontroll: {" in result.stdout
    assert result.stderr == (
        "advarsel: late.ocr line 44, latest Nets date: the record says 1992-01-21, "
        "the transactions give 1992-01-20\n"
    )
    english = cli("--language", "en", "bank", "parse", str(late))
    assert "ocr: 20 transactions, 51 449,00 kr; control: {" in english.stdout
    assert english.stderr.startswith("warning: late.ocr line 44, latest Nets date")
    # And `bank import` reports the same warning, and stores the file's 20 payments.
    imported = cli("bank", "import", str(late), "--company", str(company_id))
    assert imported.stdout.splitlines()[-1] == (
        "  advarsel: late.ocr line 44, latest Nets date: the record says 1992-01-21, "
        "the transactions give 1992-01-20"
    )
    assert count(db, payments_table) == 20
