"""What the debtor reads (issue 23): the letter's figures add up, the company text's
placeholders take the table's figures, the § 3a compensation stands apart from the fee, and
every letter names the creditor and how to reach it. Read from the PDF's text."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from adapter.domain import (
    Address,
    Allocation,
    AllocationKind,
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    MatchStatus,
    Money,
    Payment,
)
from adapter.flows import dunning_run
from adapter.services import letters
from adapter.services.companies import set_settings
from adapter.store.tables import claims
from adapter.store.tables import letters as letters_table
from tests.factories import letter_sent, paid


def text_of(data: bytes) -> str:
    raw = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"[ \u00a0]+", " ", raw)


def _interest_paid(uow, invoice_id: int, ore: int, on: date) -> None:
    company_id = uow.require_company()
    pid = uow.payments.add(
        Payment(None, company_id, f"int:{on}", "ocr", Money(ore), on, status=MatchStatus.MATCHED)
    )
    uow.payments.allocate(
        Allocation(None, company_id, pid, invoice_id, AllocationKind.INTEREST, Money(ore), on)
    )


@pytest.fixture
def fjord(db, company_id):
    """A business debtor with one invoice of 12 500,00 kr due 15.12.2025."""
    set_settings(
        db.uow(company_id),
        [
            "letters.bank_account=86011117947",
            "letters.address=Storgata 1, 0155 Oslo",
            "letters.email=regnskap@demo.no",
            "letters.delivery=print",
            "dunning.reminder_1.text=Renter hittil: {renter}. Gebyr: {gebyr}. Å betale: {belop}.",
        ],
        actor="t",
    )
    with db.uow(company_id) as uow:
        customer = uow.customers.add(
            Customer(
                None,
                company_id,
                "Fjord Bygg AS",
                DebtorKind.BUSINESS,
                customer_number="10002",
                org_number="923609016",
                address=Address("Kaia 1", "", "6002", "Ålesund"),
            )
        )
        invoice = uow.invoices.add(
            Invoice(
                None,
                company_id,
                customer.id,
                "30001",
                date(2025, 12, 1),
                date(2025, 12, 15),
                Money(1_250_000),
                Money(1_250_000),
                kid=Kid("100230004572"),
            )
        )
        uow.commit()
    return invoice.id


def test_renter_in_the_company_text_is_the_interest_in_the_table(db, company_id, fjord) -> None:
    """Issue 23, case 4 (H3): with interest already paid, {renter} states the unpaid interest
    the table shows, not the interest accrued since the due date."""
    with db.uow(company_id) as uow:
        _interest_paid(uow, fjord, 2_000, date(2026, 1, 20))
        uow.commit()
    text = text_of(
        letters.preview(
            db.uow(company_id, read_only=True), "30001", _stage("reminder_1"), date(2026, 1, 20)
        )
    )
    # 12 500,00 at 12,25 % for 16 days (16-31 Dec) + at 12,00 % for 20 days (1-20 Jan):
    # 67,1233 + 82,1918 = 149,32 (rounded once); 20,00 paid, so 129,32 is owed.
    assert "Renter hittil: 129,32 kr." in text
    assert "Gebyr: 38,00 kr." in text


def test_compensation_is_never_shown_as_a_fee(db, company_id, fjord) -> None:
    """Issue 23, case 5 (FRL § 3a, B3, C10): the § 3a compensation charged on an earlier letter
    stands on its own line with its basis; the fee column holds only fees."""
    with db.uow(company_id) as uow:
        claim_id = uow.conn.execute(claims.select().where(claims.c.invoice_id == fjord)).first().id
        letter_sent(uow, claim_id, "reminder_1", date(2026, 1, 5), date(2026, 1, 19))
        uow.conn.execute(letters_table.update().values(compensation_ore=46_000))
        uow.commit()
    text = text_of(
        letters.preview(
            db.uow(company_id, read_only=True), "30001", _stage("inkassovarsel"), date(2026, 1, 23)
        )
    )
    # Principal, fee (none: B3, the compensation covers the collection costs), interest, sum.
    assert "30001 01.12.2025 15.12.2025 12 500,00 kr 0,00 kr 161,64 kr 12 661,64 kr" in text
    assert "Kompensasjon (forsinkelsesrenteloven § 3a) 460,00 kr\nÅ betale 13 121,64 kr" in text
    assert "Gebyr (inkassoforskriften" not in text


def test_letter_shows_original_payments_periods_and_adds_up(db, company_id, fjord) -> None:
    """Issue 23: original amount, each payment, the remaining principal, the fee and each
    interest period (from, to, rate, principal) on its own line, a total that adds up, and the
    company text's placeholders agree with the table (FRL §§ 2-3, INKF § 1-2, INKL § 10 (c)-(d))."""
    with db.uow(company_id) as uow:
        paid(uow, fjord, 300_000, date(2025, 12, 29), "ocr:a")
        paid(uow, fjord, 200_000, date(2026, 1, 12), "ocr:b")
        uow.commit()
    data = letters.preview(
        db.uow(company_id, read_only=True), "30001", _stage("reminder_1"), date(2026, 1, 20)
    )
    text = text_of(data)
    # The interest by hand, day by day (A4-A6): principal x rate x days / 365 per period,
    # rounded once; each line rounded so the lines add up to that figure.
    exact = [
        Decimal(1_250_000) * Decimal("0.1225") * 14 / 365,  # 16-29 Dec on 12 500,00
        Decimal(950_000) * Decimal("0.1225") * 2 / 365,  # 30-31 Dec on 9 500,00
        Decimal(950_000) * Decimal("0.12") * 12 / 365,  # 1-12 Jan
        Decimal(750_000) * Decimal("0.12") * 8 / 365,  # 13-20 Jan on 7 500,00
    ]
    assert round(sum(exact)) == 12_232
    spec = text[text.index("Spesifikasjon, faktura 30001") :].replace(
        "\n(forsinkelsesrenteloven", " (forsinkelsesrenteloven"
    )
    assert spec.split("\nFaktura 30001:")[0].splitlines()[1:] == [
        "Opprinnelig beløp 12 500,00 kr",
        "Betalt 29.12.2025 -3 000,00 kr",
        "Betalt 12.01.2026 -2 000,00 kr",
        "Gjenstående hovedstol 7 500,00 kr",
        "Gebyr (inkassoforskriften § 1-2) 38,00 kr",
        "Forsinkelsesrente 16.12.2025–29.12.2025, 12,25 % p.a. av 12 500,00 kr (forsinkelsesrenteloven § 3) 58,73 kr",
        "Forsinkelsesrente 30.12.2025–31.12.2025, 12,25 % p.a. av 9 500,00 kr (forsinkelsesrenteloven § 3) 6,38 kr",
        "Forsinkelsesrente 01.01.2026–12.01.2026, 12,00 % p.a. av 9 500,00 kr (forsinkelsesrenteloven § 3) 37,48 kr",
        "Forsinkelsesrente 13.01.2026–20.01.2026, 12,00 % p.a. av 7 500,00 kr (forsinkelsesrenteloven § 3) 19,73 kr",
        "Sum 7 660,32 kr",
    ]
    assert 5873 + 638 + 3748 + 1973 == 12_232 and 750_000 + 3800 + 12_232 == 766_032
    assert "30001 01.12.2025 15.12.2025 7 500,00 kr 38,00 kr 122,32 kr 7 660,32 kr" in text
    assert "Renter hittil: 122,32 kr. Gebyr: 38,00 kr. Å betale: 7 660,32 kr." in text
    assert "12,25 % p.a. fra 16.12.2025, 12,00 % p.a.\nfra 01.01.2026" in text
    assert "12.25" not in text  # rates the Norwegian way


def _stage(name: str):
    from policies.ladder import Stage

    return Stage(name)


def test_no_letter_goes_out_without_the_creditors_contact_details(db, company_id, cli) -> None:
    """H4 (issue 23): a letter tells the debtor to object before the deadline, so it must say
    where; while the address or both e-mail and phone are missing, `dunning run` sends nothing
    and the plan says why; a letter sent by hand is refused."""
    set_settings(db.uow(company_id), ["letters.delivery=print"], actor="t")
    with db.uow(company_id) as uow:
        kari = uow.customers.add(
            Customer(None, company_id, "Kari Nordmann", DebtorKind.PRIVATE, customer_number="1",
                     address=Address("Storgata 2", "", "0155", "Oslo"))
        )  # fmt: skip
        invoice_id = uow.invoices.add(
            Invoice(None, company_id, kari.id, "40001", date(2026, 1, 5), date(2026, 1, 19),
                    Money(125_050), Money(125_050))
        ).id  # fmt: skip
        uow.commit()
    company = ["--company", str(company_id)]
    plan = cli("dunning", "plan", *company, "--date", "2026-02-05", "--json")
    [decision] = json.loads(plan.stdout)["claims"][0]["decisions"]
    why = (
        "no letter is sent: the creditor's contact details are missing (letters.address and "
        "letters.email or letters.phone); every letter must say where the debtor can object"
    )
    [reason] = decision["reasons"]
    assert decision["action"] == "nothing" and (reason["rule"], reason["text"]) == ("H4", why)
    assert dunning_run.run(db, company_id, date(2026, 2, 5), actor="t").actions == {}
    from adapter.services import overview

    [next_step] = overview.claim_page(
        db.uow(company_id, read_only=True), invoice_id, date(2026, 2, 5)
    ).decisions
    assert next_step.reasons[0].text == why  # the claim page says it too
    assert overview.worklist(
        db.uow(company_id, read_only=True), date(2026, 2, 5)
    ).letters_blocked == ("letters.address and letters.email or letters.phone")
    by_hand = cli("dunning", "send", *company, "--invoice", "40001", "--type", "reminder",
                  "--date", "2026-02-05")  # fmt: skip
    assert by_hand.exit_code == 2 and by_hand.stderr.strip() == f"error: letters.address: {why}"
    set_settings(
        db.uow(company_id), ["letters.address=Storgata 1, 0155 Oslo", "letters.phone=22 00 00 00"],
        actor="t",
    )  # fmt: skip
    assert dunning_run.run(db, company_id, date(2026, 2, 5), actor="t").actions == {
        "send_reminder_1": 1
    }
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(letters_table)).scalar_one() == 1


def test_betalingsoppfordring_after_two_fees_through_the_cli(db, company_id, fjord, cli) -> None:
    """Issue 23, case 1 (INKF § 1-3, E2, E3) on both engines: after a purring and an
    inkassovarsel with fees and their deadlines missed, the creditor's betalingsoppfordring is
    sent with its own 3/20 fee (113 kr in 2026)."""
    with db.uow(company_id) as uow:
        claim_id = uow.conn.execute(claims.select().where(claims.c.invoice_id == fjord)).first().id
        letter_sent(uow, claim_id, "reminder_1", date(2026, 1, 5), date(2026, 1, 19), 3800)
        letter_sent(uow, claim_id, "inkassovarsel", date(2026, 1, 23), date(2026, 2, 6), 3800)
        uow.commit()
    sent = cli(
        "dunning", "send", "--company", str(company_id), "--invoice", "30001",
        "--type", "betalingsoppfordring", "--date", "2026-02-10", "--with-fee",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    with db.engine.connect() as conn:
        row = conn.execute(
            select(letters_table.c.fee_ore, letters_table.c.deadline).where(
                letters_table.c.stage == "betalingsoppfordring"
            )
        ).one()
    assert (row.fee_ore, row.deadline) == (11_300, date(2026, 2, 24))
